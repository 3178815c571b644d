//! What the board and its controllers learn about each other besides events: the board's
//! `shown` receipt reaches the controllers, and an edited lesson reaches the boards showing
//! it, on one node and across nodes.

use serde_json::{json, Value};

use crate::{
    both_engines,
    helpers::{Engine, TestApp, TestDatabase},
    ws_client::{command, new_id, Classroom, Socket},
};

/// Sends a command and waits for its `ack`; the offset it got.
async fn acknowledged(controller: &mut Socket, action: Value) -> i64 {
    let id = new_id();
    controller.send(command(&id, action)).await;
    let ack = controller.next_of("ack").await;
    assert_eq!(ack["id"], id.as_str(), "{ack}");
    ack["offset"].as_i64().unwrap()
}

/// The next frame of `kind`, skipping any other.
async fn next_of_only(socket: &mut Socket, kind: &str) -> Value {
    loop {
        let frame = socket.next().await;
        if frame["type"] == kind {
            return frame;
        }
    }
}

/// A lesson of `slides` text slides owned by the room's teacher; its id.
async fn text_lesson(app: &TestApp, token: &str, slides: usize) -> String {
    let slides: Vec<Value> = (1..=slides)
        .map(|n| json!({"kind": "text", "text": format!("slide {n}")}))
        .collect();
    let created: Value = app
        .client
        .post(app.url("/api/lessons"))
        .bearer_auth(token)
        .json(&json!({"title": "Volcanoes", "slides": slides}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    created["id"].as_str().unwrap().to_string()
}

async fn rename(app: &TestApp, token: &str, lesson_id: &str, version: i64) -> reqwest::Response {
    app.client
        .put(app.url(&format!("/api/lessons/{lesson_id}")))
        .bearer_auth(token)
        .header("if-match", version.to_string())
        .json(&json!({"title": "Volcanoes, edited", "slides": [{"kind": "text", "text": "new"}]}))
        .send()
        .await
        .unwrap()
}

both_engines!(
    the_boards_shown_receipt_reaches_its_controllers,
    |engine: Engine| async move {
        let app = TestApp::spawn(engine).await;
        let mut room = Classroom::open(&app, "ann").await;
        let (mut controller, _) = room.controller(app.address).await;
        let (mut colleague, _) = room.controller(app.address).await;
        let offset = acknowledged(&mut controller, json!({"kind": "blank", "on": true})).await;
        assert_eq!(room.board_socket.next_of("event").await["offset"], offset);

        room.board_socket
            .send(json!({"type": "shown", "offset": offset}))
            .await;
        for socket in [&mut controller, &mut colleague] {
            let shown = next_of_only(socket, "shown").await;
            assert_eq!(shown["offset"], offset);
            assert!(
                shown["at"].as_str().is_some_and(|at| at.ends_with('Z')),
                "{shown}"
            );
        }

        room.board_socket
            .send(json!({"type": "shown", "offset": offset + 5}))
            .await;
        let refused = next_of_only(&mut room.board_socket, "error").await;
        assert_eq!(refused["error"], "invalid_frame");
        controller
            .send(json!({"type": "shown", "offset": offset}))
            .await;
        assert_eq!(
            next_of_only(&mut controller, "error").await["error"],
            "forbidden"
        );
    }
);

both_engines!(
    boards_showing_an_edited_lesson_are_told_to_read_it_again,
    |engine: Engine| async move {
        let app = TestApp::spawn(engine).await;
        let mut room = Classroom::open(&app, "ann").await;
        let mut elsewhere = Classroom::open(&app, "bob").await;
        let shown = text_lesson(&app, &room.token, 2).await;
        let (mut controller, _) = room.controller(app.address).await;
        acknowledged(
            &mut controller,
            json!({"kind": "open_lesson", "lesson_id": shown}),
        )
        .await;

        assert_eq!(rename(&app, &room.token, &shown, 1).await.status(), 200);
        for socket in [&mut room.board_socket, &mut controller] {
            let updated = next_of_only(socket, "lesson_updated").await;
            assert_eq!(
                updated,
                json!({"type": "lesson_updated", "lesson_id": shown, "version": 2})
            );
        }
        // A board showing another lesson hears nothing of it (had it been told, the frame
        // would have been queued before the ones above arrived).
        elsewhere.board_socket.send(json!({"type": "ping"})).await;
        loop {
            let frame = elsewhere.board_socket.next().await;
            assert_ne!(frame["type"], "lesson_updated", "{frame}");
            if frame["type"] == "pong" {
                break;
            }
        }
    }
);

#[tokio::test]
async fn receipts_and_edits_cross_nodes() {
    let database = TestDatabase::new(Engine::Postgres).await;
    let a = TestApp::spawn_on(&database.url, |_| {}).await;
    let b = TestApp::spawn_on(&database.url, |_| {}).await;
    let mut room = Classroom::open(&a, "ann").await;
    let (mut controller, _) = room.controller(b.address).await;
    let lesson = text_lesson(&b, &room.token, 3).await;
    let offset = acknowledged(
        &mut controller,
        json!({"kind": "open_lesson", "lesson_id": lesson}),
    )
    .await;
    assert_eq!(room.board_socket.next_of("event").await["offset"], offset);

    room.board_socket
        .send(json!({"type": "shown", "offset": offset}))
        .await;
    assert_eq!(
        next_of_only(&mut controller, "shown").await["offset"],
        offset
    );

    assert_eq!(rename(&b, &room.token, &lesson, 1).await.status(), 200);
    let updated = next_of_only(&mut room.board_socket, "lesson_updated").await;
    assert_eq!(updated["version"], 2);
}
