//! The websocket on one node, on both engines: commands, acks and events, idempotent
//! re-sends, refused commands, resume and reset, unpairing, several controllers, pointers,
//! and answers sent without delay.

use serde_json::{json, Value};

use crate::{
    both_engines,
    helpers::{unthrottled_commands, Engine, TestApp},
    ws_client::{board_socket, command, controller_socket, new_id, Classroom, Socket},
};

both_engines!(
    a_command_is_acknowledged_and_reaches_every_socket_of_the_board,
    |engine: Engine| async move {
        let app = TestApp::spawn(engine).await;
        let mut room = Classroom::open(&app, "jdevries").await;
        let (mut controller, welcome) = room.controller(app.address).await;
        assert_eq!(welcome["board_id"], room.board.id.as_str());
        assert_eq!(welcome["offset"], 0);
        assert_eq!(welcome["reset"], false);
        assert_eq!(
            welcome["state"],
            json!({"lesson_id": null, "slide": 0, "blank": false, "timer_ends_at": null})
        );

        let id = new_id();
        controller
            .send(command(&id, json!({"kind": "blank", "on": true})))
            .await;
        let ack = controller.next_of("ack").await;
        assert_eq!(ack, json!({"type": "ack", "id": id, "offset": 1}));
        let event = controller.next_of("event").await;
        assert_eq!(event["offset"], 1);
        let on_board = room.board_socket.next_of("event").await;
        assert_eq!(on_board["offset"], 1);
        assert_eq!(on_board["id"], id.as_str());
        assert_eq!(on_board["action"], json!({"kind": "blank", "on": true}));
        assert!(on_board["by"].as_str().is_some_and(|by| !by.is_empty()));
        assert!(on_board["at"].as_str().is_some_and(|at| at.ends_with('Z')));

        // The same id again: the same ack, nothing appended (the next command gets offset 2).
        controller
            .send(command(&id, json!({"kind": "blank", "on": true})))
            .await;
        assert_eq!(
            controller.next_of("ack").await,
            json!({"type": "ack", "id": id, "offset": 1})
        );
        let second = new_id();
        controller
            .send(command(&second, json!({"kind": "timer", "seconds": 300})))
            .await;
        assert_eq!(controller.next_of("ack").await["offset"], 2);
        let on_board = room.board_socket.next_of("event").await;
        assert_eq!(on_board["offset"], 2);
        assert_eq!(on_board["id"], second.as_str());

        // A new socket starts from the state the log led to.
        let (_, welcome) = room.controller(app.address).await;
        assert_eq!(welcome["offset"], 2);
        assert_eq!(welcome["state"]["blank"], true);
        assert!(welcome["state"]["timer_ends_at"].is_string());

        // What an operator sees of it: every command counted once by outcome, and timed.
        let metrics = app.client.get(app.url("/metrics")).send().await.unwrap();
        let metrics = metrics.text().await.unwrap();
        for line in [
            r#"boardcast_board_commands_total{outcome="appended"} 2"#,
            r#"boardcast_board_commands_total{outcome="repeated"} 1"#,
            "boardcast_board_command_duration_seconds_count 3",
        ] {
            assert!(metrics.contains(line), "{line} not in {metrics}");
        }
    }
);

both_engines!(
    refused_commands_and_malformed_frames_change_nothing,
    |engine: Engine| async move {
        let app = TestApp::spawn(engine).await;
        let room = Classroom::open(&app, "jdevries").await;
        let (mut controller, _) = room.controller(app.address).await;
        let refusals = [
            (json!({"kind": "goto", "slide": 3}), "no_lesson"),
            (json!({"kind": "next"}), "no_lesson"),
            (
                json!({"kind": "open_lesson", "lesson_id": new_id()}),
                "unknown_lesson",
            ),
            (json!({"kind": "timer", "seconds": 0}), "invalid_timer"),
            (json!({"kind": "fly"}), "invalid_frame"),
            (json!({"kind": "blank", "on": "yes"}), "invalid_frame"),
            (
                json!({"kind": "blank", "on": true, "extra": 1}),
                "invalid_frame",
            ),
        ];
        for (action, code) in refusals {
            let id = new_id();
            controller.send(command(&id, action.clone())).await;
            let error = controller.next_of("error").await;
            assert_eq!(error["error"], code, "{action}");
            assert_eq!(error["id"], id.as_str(), "{action}");
            assert!(error["message"].as_str().is_some_and(|m| !m.is_empty()));
        }
        for text in [
            "not json",
            "{}",
            r#"{"type":"command","id":"x","action":{"kind":"next"}}"#,
            r#"{"type":"hello","role":"board"}"#,
            r#"{"type":"request_code"}"#,
        ] {
            controller.send_text(text).await;
            let error = controller.next_of("error").await;
            assert!(error["error"].is_string(), "{text}: {error}");
        }
        controller.send_binary(vec![0xde, 0xad]).await;
        assert_eq!(controller.next_of("error").await["error"], "invalid_frame");
        controller.round_trip().await;
        let (_, welcome) = room.controller(app.address).await;
        assert_eq!(welcome["offset"], 0);
        assert_eq!(welcome["state"]["blank"], false);
    }
);

/// Frames a careless or hostile client might send: valid ones broken in every way.
fn mangled_frames(rng: &mut impl rand::Rng, count: usize) -> Vec<String> {
    let templates = [
        command(&new_id(), json!({"kind": "blank", "on": true})).to_string(),
        command(&new_id(), json!({"kind": "goto", "slide": 2})).to_string(),
        json!({"type": "pointer", "x": 0.25, "y": 0.75}).to_string(),
        json!({"type": "ping"}).to_string(),
        json!({"type": "request_code"}).to_string(),
    ];
    let junk = [
        "null",
        "-1",
        "1e999",
        "\"\\u0000\"",
        "[[[[[[[[[[]]]]]]]]]]",
        "{\"kind\":{}}",
        "\"é\"",
    ];
    (0..count)
        .map(|_| {
            let mut frame = templates[rng.gen_range(0..templates.len())].clone();
            match rng.gen_range(0..5) {
                0 => frame.truncate(rng.gen_range(0..frame.len())),
                1 => {
                    let at = rng.gen_range(0..frame.len());
                    if frame.is_char_boundary(at) {
                        frame.insert_str(at, junk[rng.gen_range(0..junk.len())]);
                    }
                }
                2 => {
                    let mut bytes = frame.into_bytes();
                    let at = rng.gen_range(0..bytes.len());
                    bytes[at] = rng.gen_range(b' '..=b'~');
                    frame = String::from_utf8(bytes).unwrap();
                }
                3 => frame = format!("{}{}", "[".repeat(rng.gen_range(1..200)), frame),
                _ => {
                    let value = junk[rng.gen_range(0..junk.len())];
                    frame = frame.replacen("true", value, 1).replacen("0.25", value, 1);
                }
            }
            frame
        })
        .collect()
}

both_engines!(
    random_and_malformed_frames_never_hurt_the_node,
    |engine: Engine| async move {
        use rand::SeedableRng;
        let app = TestApp::spawn(engine).await;
        let room = Classroom::open(&app, "jdevries").await;
        let (mut controller, _) = room.controller(app.address).await;
        let mut rng = rand::rngs::StdRng::seed_from_u64(0xb0a2d);
        let mut last_ack = 0;
        for frame in mangled_frames(&mut rng, 300) {
            controller.send_text(&frame).await;
            controller.send(json!({"type": "ping"})).await;
            // Every frame is answered before the pong: an ack, an error, or nothing for a
            // pointer or a pong of its own.
            loop {
                let answer = controller.next().await;
                match answer["type"].as_str() {
                    Some("pong") => break,
                    Some("ack") => last_ack = answer["offset"].as_i64().unwrap().max(last_ack),
                    Some("error" | "event" | "presence") => {}
                    other => panic!("unexpected {other:?} after {frame:?}"),
                }
            }
        }
        let health = app.client.get(app.url("/healthz")).send().await.unwrap();
        assert_eq!(health.status(), 200);
        let (_, welcome) = room.controller(app.address).await;
        assert_eq!(welcome["offset"], last_ack);
    }
);

/// Sends `count` blank toggles; the offset of the last.
async fn toggle(controller: &mut Socket, count: usize) -> i64 {
    let mut offset = 0;
    for i in 0..count {
        controller
            .send(command(
                &new_id(),
                json!({"kind": "blank", "on": i % 2 == 0}),
            ))
            .await;
        offset = controller.next_of("ack").await["offset"].as_i64().unwrap();
    }
    offset
}

both_engines!(
    a_client_resumes_from_its_offset_or_gets_the_state,
    |engine: Engine| async move {
        let app = TestApp::spawn(engine).await;
        let room = Classroom::open(&app, "jdevries").await;
        let (mut controller, _) = room.controller(app.address).await;
        assert_eq!(toggle(&mut controller, 5).await, 5);

        let (_, welcome) = board_socket(app.address, &room.board, Some(2)).await;
        assert_eq!(welcome["reset"], false);
        assert_eq!(welcome["offset"], 5);
        let offsets: Vec<i64> = welcome["events"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["offset"].as_i64().unwrap())
            .collect();
        assert_eq!(offsets, [3, 4, 5]);

        let (_, welcome) = board_socket(app.address, &room.board, Some(5)).await;
        assert_eq!(welcome["events"], json!([]));
        assert_eq!(welcome["reset"], false);

        // Offsets the board never had (a restored database): the state is authoritative.
        let (_, welcome) = board_socket(app.address, &room.board, Some(99)).await;
        assert_eq!(welcome["reset"], true);
        assert_eq!(welcome["offset"], 5);

        // History trimmed (all but the latest event): the state, flagged as a reset.
        let trimmed = app.store.trim_board_events(i64::MAX).await.unwrap();
        assert_eq!(trimmed, 4);
        let (_, welcome) = board_socket(app.address, &room.board, Some(2)).await;
        assert_eq!(welcome["reset"], true);
        assert_eq!(welcome["events"], json!([]));
        assert_eq!(welcome["offset"], 5);
        assert_eq!(welcome["state"]["blank"], true);
    }
);

both_engines!(
    deleting_a_pairing_closes_its_controllers_with_4003,
    |engine: Engine| async move {
        let app = TestApp::spawn(engine).await;
        let mut room = Classroom::open(&app, "jdevries").await;
        let paired = room.board_socket.next_of("paired").await;
        assert_eq!(paired["pairing_id"], room.pairing_id.as_str());
        assert_eq!(paired["by"], "jdevries display");
        let (mut controller, _) = room.controller(app.address).await;
        let deleted = app
            .client
            .delete(app.url(&format!("/api/pairings/{}", room.pairing_id)))
            .bearer_auth(&room.token)
            .send()
            .await
            .unwrap();
        assert_eq!(deleted.status(), 204);
        assert_eq!(controller.closed().await, 4003);
        // The board, left without a pairing, shows a new code.
        let code = room.board_socket.next_of("code").await;
        assert_eq!(code["code"].as_str().unwrap().len(), 6);
        // The pairing is gone for new sockets too.
        let mut again = Socket::connect(app.address).await;
        again
            .send(json!({"type": "hello", "role": "controller",
                "access_token": room.token, "pairing_id": room.pairing_id}))
            .await;
        assert_eq!(again.closed().await, 4003);
    }
);

both_engines!(
    three_controllers_see_the_same_events_in_the_same_order,
    |engine: Engine| async move {
        let app = TestApp::spawn(engine).await;
        let mut room = Classroom::open(&app, "jdevries").await;
        let mut controllers = Vec::new();
        for _ in 0..3 {
            controllers.push(room.controller(app.address).await.0);
        }
        let presence = last_presence(&mut room.board_socket, 3).await;
        assert_eq!(presence["board_online"], true);
        // Each controller sends two commands, interleaved.
        for round in 0..2 {
            for controller in controllers.iter_mut() {
                controller
                    .send(command(
                        &new_id(),
                        json!({"kind": "blank", "on": round == 0}),
                    ))
                    .await;
                controller.next_of("ack").await;
            }
        }
        let mut seen: Vec<Vec<Value>> = Vec::new();
        for socket in controllers.iter_mut().chain([&mut room.board_socket]) {
            let mut ids = Vec::new();
            for offset in 1..=6 {
                let event = socket.next_of("event").await;
                assert_eq!(event["offset"], offset);
                ids.push(event["id"].clone());
            }
            seen.push(ids);
        }
        assert!(seen.windows(2).all(|pair| pair[0] == pair[1]));
    }
);

/// Reads presence frames until one counts `controllers`.
async fn last_presence(socket: &mut Socket, controllers: u64) -> Value {
    loop {
        let frame = socket.next().await;
        if frame["type"] == "presence" && frame["controllers"] == controllers {
            return frame;
        }
    }
}

both_engines!(
    pointers_reach_the_board_coalesced_and_latest_wins,
    |engine: Engine| async move {
        let app = TestApp::spawn(engine).await;
        let mut room = Classroom::open(&app, "jdevries").await;
        let (mut controller, _) = room.controller(app.address).await;
        let started = std::time::Instant::now();
        for i in 0..=200 {
            let x = f64::from(i) / 200.0;
            controller
                .send(json!({"type": "pointer", "x": x, "y": 0.5}))
                .await;
        }
        controller.round_trip().await;
        let sent_for = started.elapsed();
        let mut received = 0;
        loop {
            let frame = room.board_socket.next().await;
            if frame["type"] != "pointer" {
                continue;
            }
            received += 1;
            if frame["x"] == 1.0 {
                break;
            }
        }
        // At most 60 per second (plus the first), and the last position always arrives.
        let allowed = (sent_for.as_secs_f64() + 0.1) * 60.0 + 2.0;
        assert!(
            f64::from(received) <= allowed,
            "{received} pointers in {sent_for:?}"
        );
        controller
            .send(json!({"type": "pointer", "hidden": true}))
            .await;
        let hidden = loop {
            let frame = room.board_socket.next().await;
            if frame["type"] == "pointer" {
                break frame;
            }
        };
        assert_eq!(hidden, json!({"type": "pointer", "hidden": true}));
    }
);

both_engines!(hello_is_required_and_checked, |engine: Engine| async move {
    let app = TestApp::spawn(engine).await;
    let room = Classroom::open(&app, "jdevries").await;
    let mut first_not_hello = Socket::connect(app.address).await;
    first_not_hello.send(json!({"type": "ping"})).await;
    assert_eq!(first_not_hello.closed().await, 4008);

    let wrong_secret = json!({"type": "hello", "role": "board",
            "board_id": room.board.id, "board_secret": "guess"});
    let wrong_token = json!({"type": "hello", "role": "controller",
            "access_token": "guess", "pairing_id": room.pairing_id});
    for (hello, code) in [(wrong_secret, 4001), (wrong_token, 4001)] {
        let mut socket = Socket::connect(app.address).await;
        socket.send(hello).await;
        assert_eq!(socket.closed().await, code);
    }
    // Another teacher cannot use this pairing.
    let other = crate::ws_client::teacher(&app, "intruder").await;
    let mut socket = Socket::connect(app.address).await;
    socket
        .send(json!({"type": "hello", "role": "controller",
                "access_token": other, "pairing_id": room.pairing_id}))
        .await;
    assert_eq!(socket.closed().await, 4003);

    // A frame over 64 KiB closes with 1009.
    let (mut controller, _) =
        controller_socket(app.address, &room.token, &room.pairing_id, None).await;
    let huge = format!(r#"{{"type":"ping","pad":"{}"}}"#, "x".repeat(70 * 1024));
    controller.send_text(&huge).await;
    assert_eq!(controller.closed().await, 1009);
});

#[tokio::test]
async fn a_socket_without_hello_is_closed_with_4008_after_the_hello_timeout() {
    let hello_timeout = std::time::Duration::from_secs(1);
    let app = TestApp::spawn_with(Engine::Sqlite, |settings| {
        settings.limits.hello_timeout = hello_timeout;
    })
    .await;
    let started = std::time::Instant::now();
    let mut silent = Socket::connect(app.address).await;
    assert_eq!(silent.closed().await, 4008);
    let waited = started.elapsed();
    // Well before the 10 s default: the configured deadline, not the built-in one.
    assert!(
        waited >= hello_timeout && waited < std::time::Duration::from_secs(5),
        "{waited:?}"
    );
}

#[tokio::test]
async fn stopping_a_node_closes_its_sockets_with_1012() {
    let app = TestApp::spawn(Engine::Sqlite).await;
    let mut room = Classroom::open(&app, "jdevries").await;
    let (mut controller, _) = room.controller(app.address).await;
    let stopping = tokio::spawn(app.stop());
    assert_eq!(controller.closed().await, 1012);
    assert_eq!(room.board_socket.closed().await, 1012);
    stopping.await.unwrap();
}

both_engines!(
    a_board_that_stops_reading_still_gets_every_event_in_order,
    |engine: Engine| async move {
        let app = TestApp::spawn_with(engine, unthrottled_commands).await;
        let mut room = Classroom::open(&app, "jdevries").await;
        let (mut controller, _) = room.controller(app.address).await;
        // The board reads nothing while far more events than its queue holds pile up.
        let last = toggle(&mut controller, 1_500).await;
        assert_eq!(last, 1_500);
        for offset in 1..=last {
            assert_eq!(room.board_socket.next_of("event").await["offset"], offset);
        }
        room.board_socket.round_trip().await;
    }
);

both_engines!(
    a_board_is_shown_to_itself_its_teachers_and_admins_only,
    |engine: Engine| async move {
        let app = TestApp::spawn(engine).await;
        let room = Classroom::open(&app, "jdevries").await;
        let (mut controller, _) = room.controller(app.address).await;
        assert_eq!(toggle(&mut controller, 1).await, 1);
        let path = app.url(&format!("/api/boards/{}", room.board.id));
        let show = |authorization: String| {
            app.client
                .get(&path)
                .header("authorization", authorization)
                .send()
        };

        let as_board = show(room.board.authorization()).await.unwrap();
        assert_eq!(as_board.status(), 200);
        let body: Value = as_board.json().await.unwrap();
        assert_eq!(body["id"], room.board.id.as_str());
        assert_eq!(body["name"], "Room 12");
        assert_eq!(body["offset"], 1);
        assert_eq!(body["state"]["blank"], true);
        assert_eq!(body["online"], true);

        let as_teacher = show(format!("Bearer {}", room.token)).await.unwrap();
        assert_eq!(as_teacher.status(), 200);

        app.add_user("head", "pw", "admin").await;
        let admin = app.login("head", "pw").await["access_token"]
            .as_str()
            .unwrap()
            .to_string();
        assert_eq!(show(format!("Bearer {admin}")).await.unwrap().status(), 200);

        let stranger = crate::ws_client::teacher(&app, "other").await;
        let refused = show(format!("Bearer {stranger}")).await.unwrap();
        assert_eq!(refused.status(), 404);
        let body: Value = refused.json().await.unwrap();
        assert_eq!(body["error"], "not_found");

        let other_board = crate::ws_client::register_board(&app, "Room 13").await;
        let as_other_board = show(other_board.authorization()).await.unwrap();
        assert_eq!(as_other_board.status(), 404);
        assert_eq!(app.client.get(&path).send().await.unwrap().status(), 401);
    }
);

/// A board with its socket open and a teacher paired with it: the board's socket, the
/// teacher's token response and the pairing id.
async fn paired_teacher(app: &TestApp) -> (Socket, Value, String) {
    let board = crate::ws_client::register_board(app, "Room 12").await;
    let (mut board_socket, _) = board_socket(app.address, &board, None).await;
    let code = board_socket.next_of("code").await;
    app.add_user("jdevries", "pw", "teacher").await;
    let tokens = app.login("jdevries", "pw").await;
    let access = tokens["access_token"].as_str().unwrap();
    let pairing =
        crate::ws_client::pair_with_code(app, access, code["code"].as_str().unwrap()).await;
    (board_socket, tokens, pairing)
}

both_engines!(
    a_controller_closes_when_its_login_ends,
    |engine: Engine| async move {
        let window = std::time::Duration::from_millis(300);
        let app = TestApp::spawn_with(engine, |settings| {
            settings.auth.token_cache_window = window;
        })
        .await;
        let (mut board_socket, tokens, pairing) = paired_teacher(&app).await;
        let access = tokens["access_token"].as_str().unwrap();
        let (mut controller, _) = controller_socket(app.address, access, &pairing, None).await;
        // Its access token expires (after 15 minutes) while the login lives: the checks
        // that run every window keep the socket open.
        app.clock.advance(std::time::Duration::from_secs(30 * 60));
        let closed = tokio::time::timeout(3 * window, controller.closed()).await;
        assert!(closed.is_err(), "closed while the login lives: {closed:?}");
        controller.round_trip().await;

        // Logging out (revoking the refresh token ends the login) closes the socket.
        let revoked = app.revoke(tokens["refresh_token"].as_str().unwrap()).await;
        assert_eq!(revoked.status(), 200);
        assert_eq!(controller.closed().await, 4001);
        board_socket.round_trip().await;
    }
);

/// How soon a revocation reaches the sockets it ends: well inside the periodic check, which
/// the tests below set far away so that only the revocation itself can close them.
const REVOCATION_REACHES_SOCKETS: std::time::Duration = std::time::Duration::from_secs(1);

both_engines!(
    a_controller_closes_when_the_access_token_it_said_hello_with_is_revoked,
    |engine: Engine| async move {
        let app = TestApp::spawn_with(engine, |settings| {
            settings.auth.token_cache_window = std::time::Duration::from_secs(60);
        })
        .await;
        let (mut board_socket, tokens, pairing) = paired_teacher(&app).await;
        let first = tokens["access_token"].as_str().unwrap();
        let refreshed: Value = app
            .refresh(tokens["refresh_token"].as_str().unwrap())
            .await
            .json()
            .await
            .unwrap();
        let second = refreshed["access_token"].as_str().unwrap();
        let (mut revoked_one, _) = controller_socket(app.address, first, &pairing, None).await;
        let (mut other_one, _) = controller_socket(app.address, second, &pairing, None).await;

        assert_eq!(app.revoke(first).await.status(), 200);
        let closed = tokio::time::timeout(REVOCATION_REACHES_SOCKETS, revoked_one.closed())
            .await
            .expect("the socket outlived its revoked token by more than a second");
        assert_eq!(closed, 4001);
        // The login goes on: the socket opened with its other access token stays.
        other_one.round_trip().await;
        board_socket.round_trip().await;
    }
);
