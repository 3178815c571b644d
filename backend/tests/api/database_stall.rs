//! A database connection that stops answering without closing (a stalled network): commands
//! and logins fail fast with 503 instead of hanging, `/readyz` says so, `/healthz` still
//! answers, and everything works again once the network forwards again.

use std::time::{Duration, Instant};

use serde_json::json;

use crate::{
    helpers::TestApp,
    postgres::fresh_database,
    stall_proxy::StallProxy,
    ws_client::{command, controller_socket, new_id, Classroom},
};

/// The node's statement deadline in this test.
const DEADLINE: Duration = Duration::from_secs(1);

/// What "fast" means for a request during the stall: the deadline, plus room for a busy
/// machine, far below the minutes a stalled TCP connection takes to die.
const FAST: Duration = Duration::from_secs(4);

#[tokio::test]
async fn a_stalled_database_fails_commands_and_logins_fast_and_recovers() {
    let direct = fresh_database().await;
    let (proxy, proxied) = StallProxy::in_front_of(&direct).await;
    let node = TestApp::spawn_on(&proxied, |settings| {
        settings.limits.statement_timeout = DEADLINE;
    })
    .await;
    let room = Classroom::open(&node, "ann").await;
    node.add_user("bob", "pw", "teacher").await;
    let (mut controller, _) = room.controller(node.address).await;
    controller
        .send(command(&new_id(), json!({"kind": "blank", "on": true})))
        .await;
    assert_eq!(controller.next_of("ack").await["offset"], 1);

    proxy.stall();

    let stuck = new_id();
    let started = Instant::now();
    controller
        .send(command(&stuck, json!({"kind": "blank", "on": false})))
        .await;
    let refused = controller.next_of("error").await;
    assert_eq!(refused["error"], "unavailable", "{refused}");
    assert_eq!(refused["id"], stuck.as_str());
    assert!(
        started.elapsed() < FAST,
        "command answered after {:?}",
        started.elapsed()
    );

    let started = Instant::now();
    let login = node.password_grant("bob", "pw").await;
    assert_eq!(login.status(), 503);
    assert!(
        started.elapsed() < FAST,
        "login answered after {:?}",
        started.elapsed()
    );

    let started = Instant::now();
    assert_eq!(node.ready().await, 503);
    assert!(
        started.elapsed() < FAST,
        "readyz answered after {:?}",
        started.elapsed()
    );
    let started = Instant::now();
    let alive = node.client.get(node.url("/healthz")).send().await.unwrap();
    assert_eq!(alive.status(), 200);
    assert!(started.elapsed() < Duration::from_millis(500));

    proxy.resume();

    // A stall of more than a few seconds sends the node's sockets elsewhere (close 1012), so
    // the controller comes back as the app would: once the node is ready, with its offset.
    let recovered = Instant::now() + Duration::from_secs(30);
    while node.ready().await != 200 {
        assert!(Instant::now() < recovered, "not ready after the stall");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    drop(controller);
    let (mut controller, _) =
        controller_socket(node.address, &room.token, &room.pairing_id, Some(1)).await;
    // The same command again (a client retries with its id): taken once the network is back.
    loop {
        controller
            .send(command(&stuck, json!({"kind": "blank", "on": false})))
            .await;
        let answer = loop {
            let frame = controller.next().await;
            if matches!(frame["type"].as_str(), Some("ack" | "error")) {
                break frame;
            }
        };
        if answer["type"] == "ack" {
            assert_eq!(answer["offset"], 2);
            break;
        }
        assert!(
            Instant::now() < recovered,
            "commands did not recover: {answer}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(node.password_grant("bob", "pw").await.status(), 200);
}
