//! The websocket across nodes on one PostgreSQL: events, pointers, presence and unpairing
//! cross nodes; a lost database listener catches up; a node killed with `kill -9` in the
//! middle of a lesson loses nothing that was acknowledged; nor does a notification that
//! cannot be read.

use std::collections::HashSet;

use boardcast::store::EVENTS_CHANNEL;
use serde_json::{json, Value};

use crate::{
    helpers::{Engine, TestApp, TestDatabase, UNTHROTTLED_COMMANDS},
    node_process::NodeProcess,
    ws_client::{
        board_socket, command, controller_socket, new_id, pair_with_code, register_board, teacher,
        Classroom, Socket,
    },
};

#[tokio::test]
async fn a_board_on_one_node_is_steered_from_another() {
    let database = TestDatabase::new(Engine::Postgres).await;
    let a = TestApp::spawn_on(&database.url, |_| {}).await;
    let b = TestApp::spawn_on(&database.url, |_| {}).await;
    let mut room = Classroom::open(&a, "jdevries").await;
    let (mut controller, welcome) = room.controller(b.address).await;
    assert_eq!(welcome["offset"], 0);

    let presence = loop {
        let frame = room.board_socket.next().await;
        if frame["type"] == "presence" && frame["controllers"] == 1 {
            break frame;
        }
    };
    assert_eq!(presence["board_online"], true);

    for i in 0..20 {
        controller
            .send(command(
                &new_id(),
                json!({"kind": "blank", "on": i % 2 == 0}),
            ))
            .await;
        assert_eq!(controller.next_of("ack").await["offset"], i + 1);
    }
    for offset in 1..=20 {
        assert_eq!(room.board_socket.next_of("event").await["offset"], offset);
    }

    controller
        .send(json!({"type": "pointer", "x": 0.5, "y": 0.25}))
        .await;
    let pointer = loop {
        let frame = room.board_socket.next().await;
        if frame["type"] == "pointer" {
            break frame;
        }
    };
    assert_eq!(pointer, json!({"type": "pointer", "x": 0.5, "y": 0.25}));

    // The board's "not me" on node A closes the controller on node B.
    let deleted = a
        .client
        .delete(a.url(&format!("/api/pairings/{}", room.pairing_id)))
        .header("authorization", room.board.authorization())
        .send()
        .await
        .unwrap();
    assert_eq!(deleted.status(), 204);
    assert_eq!(controller.closed().await, 4003);
}

/// A teacher logging out on one node closes their controller on another within a second,
/// long before either node's periodic check.
#[tokio::test]
async fn a_revocation_on_one_node_closes_its_sockets_on_another() {
    let database = TestDatabase::new(Engine::Postgres).await;
    let far_check = |settings: &mut boardcast::config::Settings| {
        settings.auth.token_cache_window = std::time::Duration::from_secs(60);
    };
    let a = TestApp::spawn_on(&database.url, far_check).await;
    let b = TestApp::spawn_on(&database.url, far_check).await;
    let mut room = Classroom::open(&a, "jdevries").await;
    let (mut controller, _) = room.controller(b.address).await;
    controller.round_trip().await;

    assert_eq!(a.revoke(&room.token).await.status(), 200);
    let closed = tokio::time::timeout(std::time::Duration::from_secs(1), controller.closed())
        .await
        .expect("the socket on the other node outlived the revocation by more than a second");
    assert_eq!(closed, 4001);
    room.board_socket.round_trip().await;
}

/// Ends the nodes' event listeners (not the connections that watch the primary, which
/// listen on a channel of their own), as a failover or a network cut would, once `expected`
/// of them are listening; how many were ended.
async fn cut_listeners(app: &TestApp, expected: usize) -> usize {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let listening = format!(
        "datname = current_database() and pid <> pg_backend_pid() \
         and query ilike 'listen%{EVENTS_CHANNEL}%'"
    );
    loop {
        let count: i64 = sqlx::query_scalar(&format!(
            "select count(*) from pg_stat_activity where {listening}"
        ))
        .fetch_one(app.store.pool())
        .await
        .unwrap();
        if count as usize >= expected || std::time::Instant::now() > deadline {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let cut: Vec<bool> = sqlx::query_scalar(&format!(
        "select pg_terminate_backend(pid) from pg_stat_activity where {listening}"
    ))
    .fetch_all(app.store.pool())
    .await
    .unwrap();
    cut.len()
}

#[tokio::test]
async fn events_sent_while_the_listener_was_cut_still_arrive_in_order() {
    let database = TestDatabase::new(Engine::Postgres).await;
    let a = TestApp::spawn_on(&database.url, |_| {}).await;
    let b = TestApp::spawn_on(&database.url, |_| {}).await;
    let mut room = Classroom::open(&a, "jdevries").await;
    let (mut controller, _) = room.controller(b.address).await;
    controller
        .send(command(&new_id(), json!({"kind": "blank", "on": true})))
        .await;
    controller.next_of("ack").await;
    assert_eq!(room.board_socket.next_of("event").await["offset"], 1);

    assert_eq!(cut_listeners(&a, 2).await, 2);
    for i in 0..30 {
        controller
            .send(command(
                &new_id(),
                json!({"kind": "blank", "on": i % 2 == 1}),
            ))
            .await;
        controller.next_of("ack").await;
    }
    for offset in 2..=31 {
        assert_eq!(room.board_socket.next_of("event").await["offset"], offset);
    }
}

/// What the board saw: every event in order, across reconnects.
struct BoardLog {
    offsets: Vec<i64>,
    ids: Vec<String>,
    final_state: Value,
}

/// Reads the board's events until `last` arrives; when its node dies, reconnects to
/// `fallback` with its offset and goes on.
async fn follow_board(
    mut socket: Socket,
    board: crate::ws_client::Board,
    fallback: std::net::SocketAddr,
    mut last: tokio::sync::watch::Receiver<i64>,
) -> BoardLog {
    let mut log = BoardLog {
        offsets: Vec::new(),
        ids: Vec::new(),
        final_state: Value::Null,
    };
    let mut reconnects = 0;
    loop {
        let target = *last.borrow();
        if target > 0 && log.offsets.last() == Some(&target) {
            let (_, welcome) = board_socket(fallback, &board, Some(target)).await;
            log.final_state = welcome["state"].clone();
            return log;
        }
        let frame = tokio::select! {
            frame = socket.try_next() => frame,
            _ = last.changed() => continue,
        };
        match frame {
            Some(frame) if frame["type"] == "event" => {
                log.offsets.push(frame["offset"].as_i64().unwrap());
                log.ids.push(frame["id"].as_str().unwrap().to_string());
            }
            Some(_) => {}
            None => {
                reconnects += 1;
                assert_eq!(reconnects, 1, "the board lost its node twice");
                let offset = log.offsets.last().copied().unwrap_or(0);
                let (resumed, welcome) = board_socket(fallback, &board, Some(offset)).await;
                assert_eq!(welcome["reset"], false);
                for event in welcome["events"].as_array().unwrap() {
                    log.offsets.push(event["offset"].as_i64().unwrap());
                    log.ids.push(event["id"].as_str().unwrap().to_string());
                }
                socket = resumed;
            }
        }
    }
}

#[tokio::test]
async fn killing_the_boards_node_mid_lesson_loses_and_repeats_nothing() {
    let database = TestDatabase::new(Engine::Postgres).await;
    let unthrottled = UNTHROTTLED_COMMANDS.to_string();
    let settings = [(
        "BOARDCAST_LIMITS__COMMANDS_PER_SECOND",
        unthrottled.as_str(),
    )];
    let mut a = NodeProcess::start_with("node-a", &database.url, &settings).await;
    let b = NodeProcess::start_with("node-b", &database.url, &settings).await;
    // The HTTP helpers of a node in this process, on the same database.
    let helper = TestApp::spawn_on(&database.url, |_| {}).await;
    let board = register_board(&helper, "Room 12").await;
    let (mut board_on_a, _) = board_socket(a.address, &board, None).await;
    let code = board_on_a.next_of("code").await;
    let token = teacher(&helper, "jdevries").await;
    let pairing = pair_with_code(&helper, &token, code["code"].as_str().unwrap()).await;
    let (mut controller, _) = controller_socket(b.address, &token, &pairing, None).await;

    let (last_acked, last) = tokio::sync::watch::channel(0);
    let follower = tokio::spawn(follow_board(board_on_a, board.clone(), b.address, last));
    let mut acked: Vec<(String, i64)> = Vec::new();
    let mut blank = false;
    for i in 0..1_000 {
        if i == 500 {
            a.kill().await;
        }
        // Every tenth command is sent twice, as a client unsure of its ack would.
        let id = new_id();
        blank = !blank;
        let frame = command(&id, json!({"kind": "blank", "on": blank}));
        let repeats = if i % 10 == 0 { 2 } else { 1 };
        let mut offsets = HashSet::new();
        for _ in 0..repeats {
            controller.send(frame.clone()).await;
            let ack = controller.next_of("ack").await;
            assert_eq!(ack["id"], id.as_str());
            offsets.insert(ack["offset"].as_i64().unwrap());
        }
        assert_eq!(offsets.len(), 1, "a re-sent command got another offset");
        acked.push((id, offsets.into_iter().next().unwrap()));
    }
    last_acked.send(acked.last().unwrap().1).unwrap();
    let seen = tokio::time::timeout(std::time::Duration::from_secs(60), follower)
        .await
        .expect("the board never caught up")
        .unwrap();

    let expected_offsets: Vec<i64> = (1..=1_000).collect();
    assert_eq!(
        seen.offsets, expected_offsets,
        "events missing, repeated or out of order"
    );
    let acked_ids: Vec<String> = acked.iter().map(|(id, _)| id.clone()).collect();
    assert_eq!(seen.ids, acked_ids);
    let (_, on_controller) = controller_socket(b.address, &token, &pairing, None).await;
    assert_eq!(seen.final_state, on_controller["state"]);
    assert_eq!(on_controller["state"]["blank"], blank);
    assert_eq!(on_controller["offset"], 1_000);
}

#[tokio::test]
async fn an_unreadable_notification_is_caught_up_from_the_log() {
    let database = TestDatabase::new(Engine::Postgres).await;
    let node = TestApp::spawn_on(&database.url, |_| {}).await;
    let mut room = Classroom::open(&node, "jdevries").await;
    let (mut controller, _) = room.controller(node.address).await;
    controller
        .send(command(&new_id(), json!({"kind": "blank", "on": true})))
        .await;
    controller.next_of("ack").await;
    assert_eq!(room.board_socket.next_of("event").await["offset"], 1);

    // Another node appends the same command again, and its announcement arrives garbled.
    let pool = node.store.pool();
    let mut tx = pool.begin().await.unwrap();
    sqlx::query(
        "insert into board_events (board_id, seq, command_id, action, by_user_id, at) \
         select board_id, 2, $1, action, by_user_id, at from board_events where seq = 1",
    )
    .bind(new_id())
    .execute(&mut *tx)
    .await
    .unwrap();
    sqlx::query("update board_states set seq = 2")
        .execute(&mut *tx)
        .await
        .unwrap();
    sqlx::query("select pg_notify('boardcast_events', 'not an event')")
        .execute(&mut *tx)
        .await
        .unwrap();
    tx.commit().await.unwrap();

    assert_eq!(room.board_socket.next_of("event").await["offset"], 2);
}
