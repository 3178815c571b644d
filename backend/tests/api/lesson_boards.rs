//! Lessons on the board: a controller opens only lessons its teacher may show and steers
//! within their slides, and a board reads the lesson open on it, without the speaker notes.

use serde_json::{json, Value};

use crate::{
    both_engines,
    helpers::{Engine, TestApp},
    lessons::{create, get},
    media_helpers::{png, upload_png},
    ws_client::{command, new_id, teacher, Classroom},
};

both_engines!(
    boards_open_only_lessons_the_teacher_may_show_and_stay_in_range,
    |engine: Engine| async move {
        let app = TestApp::spawn(engine).await;
        let room = Classroom::open(&app, "ann").await;
        let bob = teacher(&app, "bob").await;
        let three_slides = json!({"title": "Fractions", "slides": [
        {"kind": "text", "text": "1"}, {"kind": "text", "text": "2"}, {"kind": "text", "text": "3"}]});
        let anns: Value = create(&app, &room.token, three_slides.clone())
            .await
            .json()
            .await
            .unwrap();
        let bobs: Value = create(&app, &bob, three_slides).await.json().await.unwrap();
        let (mut controller, _) = room.controller(app.address).await;
        let mut send = async |action: Value| {
            let id = new_id();
            controller.send(command(&id, action)).await;
            loop {
                let frame = controller.next().await;
                if frame["type"] == "ack" || frame["type"] == "error" {
                    assert_eq!(frame["id"], id.as_str());
                    return frame;
                }
            }
        };

        let refused = send(json!({"kind": "open_lesson", "lesson_id": bobs["id"]})).await;
        assert_eq!(refused["error"], "unknown_lesson");
        let opened =
            send(json!({"kind": "open_lesson", "lesson_id": anns["id"], "slide": 1})).await;
        assert_eq!(opened["type"], "ack", "{opened}");
        assert_eq!(
            send(json!({"kind": "goto", "slide": 2})).await["type"],
            "ack"
        );
        let beyond = send(json!({"kind": "goto", "slide": 3})).await;
        assert_eq!(beyond["error"], "slide_out_of_range");
        let too_far =
            send(json!({"kind": "open_lesson", "lesson_id": anns["id"], "slide": 7})).await;
        assert_eq!(too_far["error"], "slide_out_of_range");

        let (_, welcome) = room.controller(app.address).await;
        assert_eq!(welcome["state"]["lesson_id"], anns["id"]);
        assert_eq!(welcome["state"]["slide"], 2);
    }
);

/// Sends a command on the controller and waits for its answer (`ack` or `error`).
async fn steer(controller: &mut crate::ws_client::Socket, action: Value) -> Value {
    let id = new_id();
    controller.send(command(&id, action)).await;
    loop {
        let frame = controller.next().await;
        if (frame["type"] == "ack" || frame["type"] == "error") && frame["id"] == id.as_str() {
            return frame;
        }
    }
}

async fn get_as_board(
    app: &TestApp,
    board: &crate::ws_client::Board,
    path: &str,
) -> reqwest::Response {
    app.client
        .get(app.url(path))
        .header("authorization", board.authorization())
        .send()
        .await
        .unwrap()
}

both_engines!(
    a_board_reads_the_lesson_open_on_it_without_the_notes,
    |engine: Engine| async move {
        let app = TestApp::spawn(engine).await;
        let room = Classroom::open(&app, "ann").await;
        let image = upload_png(&app, &room.token, png(300, 9)).await;
        let lesson = json!({"title": "Rivers", "slides": [
            {"kind": "image", "upload_id": image["id"], "notes": "Ask about the delta"},
            {"kind": "text", "text": "The Rhine", "notes": "  "},
        ]});
        let created: Value = create(&app, &room.token, lesson)
            .await
            .json()
            .await
            .unwrap();
        let other: Value = create(&app, &room.token, json!({"title": "Other"}))
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(created["slides"][0]["notes"], "Ask about the delta");
        assert!(
            created["slides"][1].get("notes").is_none(),
            "blank notes are dropped"
        );
        let path = format!("/api/lessons/{}", created["id"].as_str().unwrap());
        let read: Value = get(&app, &room.token, &path).await.json().await.unwrap();
        assert_eq!(read["slides"][0]["notes"], "Ask about the delta");

        let before = get_as_board(&app, &room.board, &path).await;
        assert_eq!(before.status(), 403, "nothing is open yet");
        assert_eq!(before.json::<Value>().await.unwrap()["error"], "forbidden");
        let (mut controller, _) = room.controller(app.address).await;
        let opened = steer(
            &mut controller,
            json!({"kind": "open_lesson", "lesson_id": created["id"]}),
        )
        .await;
        assert_eq!(opened["type"], "ack", "{opened}");

        let shown = get_as_board(&app, &room.board, &path).await;
        assert_eq!(shown.status(), 200);
        let shown: Value = shown.json().await.unwrap();
        assert_eq!(shown["title"], "Rivers");
        assert!(shown["slides"][0].get("notes").is_none(), "{shown}");
        let media_url = shown["slides"][0]["media_url"].as_str().unwrap();
        let image_bytes = app.client.get(app.url(media_url)).send().await.unwrap();
        assert_eq!(image_bytes.bytes().await.unwrap(), png(300, 9));
        let other_path = format!("/api/lessons/{}", other["id"].as_str().unwrap());
        assert_eq!(
            get_as_board(&app, &room.board, &other_path).await.status(),
            403
        );
        let listing = get_as_board(&app, &room.board, "/api/lessons").await;
        assert_eq!(listing.status(), 401, "a board lists no lessons");

        let wrong_secret = crate::ws_client::Board {
            id: room.board.id.clone(),
            secret: "guess".into(),
        };
        assert_eq!(get_as_board(&app, &wrong_secret, &path).await.status(), 401);
    }
);
