//! One node's network to PostgreSQL cut while its websockets stay up: within seconds it sends
//! its clients elsewhere (close 1012), they resume on a node that still reaches the database,
//! nothing acknowledged is lost, and the cut-off node serves again once the network is back.

use std::time::{Duration, Instant};

use serde_json::json;

use crate::{
    helpers::TestApp,
    postgres::fresh_database,
    stall_proxy::StallProxy,
    ws_client::{command, controller_socket, new_id, Classroom, Socket},
};

/// From the cut to the clients being sent away: the node waits 3 s for the database to come
/// back; the rest is room for a busy machine.
const SENT_AWAY_WITHIN: Duration = Duration::from_secs(8);

#[tokio::test]
async fn a_node_cut_off_from_the_database_sends_its_clients_to_another_node() {
    let direct = fresh_database().await;
    let (proxy, proxied) = StallProxy::in_front_of(&direct).await;
    let cut_off = TestApp::spawn_on(&proxied, |_| {}).await;
    let other = TestApp::spawn_on(&direct, |_| {}).await;
    let mut room = Classroom::open(&other, "ann").await;
    let (mut controller, _) = room.controller(cut_off.address).await;
    for offset in 1..=3 {
        let blank = json!({"kind": "blank", "on": offset % 2 == 1});
        assert_eq!(controller.acked(blank).await, offset);
    }

    proxy.cut();
    let cut = Instant::now();
    assert_eq!(controller.closed().await, 1012);
    assert!(
        cut.elapsed() < SENT_AWAY_WITHIN,
        "sent away after {:?}",
        cut.elapsed()
    );
    assert_eq!(cut_off.ready().await, 503);
    // A socket that comes back to the cut-off node is told to try later.
    let mut refused = Socket::connect(cut_off.address).await;
    refused
        .send(
            json!({"type": "hello", "role": "board", "board_id": room.board.id,
            "board_secret": room.board.secret}),
        )
        .await;
    assert_eq!(refused.closed().await, 1013);

    // The controller resumes where it was on the other node; its board never noticed.
    let (mut controller, welcome) =
        controller_socket(other.address, &room.token, &room.pairing_id, Some(3)).await;
    assert_eq!(welcome["offset"], 3);
    controller
        .send(command(&new_id(), json!({"kind": "blank", "on": false})))
        .await;
    assert_eq!(controller.next_of("ack").await["offset"], 4);
    for offset in 1..=4 {
        assert_eq!(room.board_socket.next_of("event").await["offset"], offset);
    }

    proxy.mend();
    let mended = Instant::now();
    while cut_off.ready().await != 200 {
        assert!(
            mended.elapsed() < Duration::from_secs(5),
            "not ready after the network came back"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let (mut controller, _) =
        controller_socket(cut_off.address, &room.token, &room.pairing_id, Some(4)).await;
    controller
        .send(command(&new_id(), json!({"kind": "blank", "on": true})))
        .await;
    assert_eq!(controller.next_of("ack").await["offset"], 5);
}
