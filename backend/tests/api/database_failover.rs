//! The PostgreSQL primary lost under two nodes and its synchronous standby promoted, as a
//! failover engine does it. The nodes name both servers in their `database_url`: they fail
//! requests fast while no primary answers, say so on `/readyz`, follow the new primary once
//! it is promoted (their listeners too: a command on one node reaches a board on the other),
//! and no acknowledged command is lost.

use std::time::{Duration, Instant};

use serde_json::json;

use crate::{
    helpers::TestApp,
    postgres::{database_on, start_with_standby},
    ws_client::{board_socket, command, controller_socket, new_id, Classroom},
};

/// What "fast" means for a request while no primary answers: far below the seconds a pool
/// would wait for a refused server to come back.
const FAST: Duration = Duration::from_secs(1);

/// How soon after the promotion the nodes must serve again: the watch notices in a
/// fraction of a second; the rest is room for a busy machine.
const BACK_WITHIN: Duration = Duration::from_secs(5);

#[tokio::test]
async fn nodes_follow_a_promoted_standby_and_lose_no_acknowledged_command() {
    let (primary, standby) = start_with_standby();
    let single = database_on(&primary).await;
    primary.require_standby_ack().await;
    let name = single.rsplit('/').next().unwrap();
    let url = format!(
        "postgres://postgres@127.0.0.1:{},127.0.0.1:{}/{name}?target_session_attrs=read-write",
        primary.port(),
        standby.port()
    );
    let a = TestApp::spawn_on(&url, |_| {}).await;
    let b = TestApp::spawn_on(&url, |_| {}).await;
    let mut room = Classroom::open(&a, "ann").await;
    a.add_user("bob", "pw", "teacher").await;
    let (mut controller, _) = room.controller(b.address).await;
    for offset in 1..=5 {
        let blank = json!({"kind": "blank", "on": offset % 2 == 1});
        assert_eq!(controller.acked(blank).await, offset);
        assert_eq!(room.board_socket.next_of("event").await["offset"], offset);
    }

    primary.kill();

    let started = Instant::now();
    assert_eq!(a.password_grant("bob", "pw").await.status(), 503);
    assert!(
        started.elapsed() < FAST,
        "login refused after {:?}",
        started.elapsed()
    );
    let unsent = new_id();
    let started = Instant::now();
    controller
        .send(command(&unsent, json!({"kind": "blank", "on": false})))
        .await;
    let refused = controller.next_of("error").await;
    assert_eq!(refused["error"], "unavailable", "{refused}");
    assert!(
        started.elapsed() < FAST,
        "command refused after {:?}",
        started.elapsed()
    );
    for node in [&a, &b] {
        assert_eq!(node.ready().await, 503, "ready without a primary");
    }

    standby.promote().await;
    let promoted = Instant::now();
    while a.ready().await != 200 || b.ready().await != 200 {
        assert!(
            promoted.elapsed() < BACK_WITHIN,
            "not ready after the promotion"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    // Ready means served: the first logins (each pooled connection in turn) all succeed;
    // none is handed a connection to the dead server.
    for _ in 0..10 {
        assert_eq!(a.password_grant("bob", "pw").await.status(), 200);
    }
    // Sockets may have been sent elsewhere while no primary answered (close 1012): they
    // come back as the app does, with their offsets, and the retried command is taken once.
    drop((controller, room.board_socket));
    let (mut board, welcome) = board_socket(a.address, &room.board, Some(5)).await;
    assert_eq!(welcome["offset"], 5);
    let (mut controller, _) =
        controller_socket(b.address, &room.token, &room.pairing_id, Some(5)).await;
    controller
        .send(command(&unsent, json!({"kind": "blank", "on": false})))
        .await;
    assert_eq!(controller.next_of("ack").await["offset"], 6);
    // Node a heard of it through its listener, now on the new primary.
    assert_eq!(board.next_of("event").await["offset"], 6);

    let log: Vec<i64> = sqlx::query_scalar("select seq from board_events order by seq")
        .fetch_all(b.store.pool())
        .await
        .unwrap();
    assert_eq!(log, (1..=6).collect::<Vec<i64>>());
}
