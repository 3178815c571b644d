//! Text and ids as clients send them: control characters are refused the same way on both
//! engines (PostgreSQL cannot store a NUL, SQLite would), and ids are read in any case and
//! always answered in their stored lowercase form.

use serde_json::{json, Value};

use crate::{
    both_engines,
    helpers::{Engine, TestApp},
    lessons::create,
    media_helpers::{png, upload_png},
    ws_client::{command, controller_socket, teacher, Classroom},
};

both_engines!(
    control_characters_in_lessons_are_refused_and_nothing_is_stored,
    |engine| async move {
        let app = TestApp::spawn(engine).await;
        let token = teacher(&app, "ann").await;
        for lesson in [
            json!({"title": "Maps\u{0}", "slides": []}),
            json!({"title": "Maps\u{1b}[2J", "slides": []}),
            json!({"title": "Maps", "slides": [{"kind": "text", "text": "one\u{0}two"}]}),
            json!({"title": "Maps", "slides": [{"kind": "text", "text": "ok", "notes": "bell\u{7}"}]}),
            json!({"title": "Maps", "slides": [{"id": "s\u{0}", "kind": "text", "text": "ok"}]}),
            json!({"title": "Maps", "slides": [{"kind": "link", "url": "https://a.example/\u{0}"}]}),
            json!({"title": "Maps", "slides": [{"kind": "image", "upload_id": "\u{0}"}]}),
        ] {
            let refused = create(&app, &token, lesson.clone()).await;
            assert_eq!(refused.status(), 400, "{lesson}");
            let body: Value = refused.json().await.unwrap();
            assert_eq!(body["error"], "invalid_request", "{lesson}");
        }
        let listed: Value = app
            .client
            .get(app.url("/api/lessons"))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(listed, json!([]));

        let multiline = json!({"title": "Maps", "slides": [
            {"kind": "text", "text": "Step 1\n\tStep 2\r\n", "notes": "ask\nthem"}
        ]});
        assert_eq!(create(&app, &token, multiline).await.status(), 201);
    }
);

both_engines!(
    ids_sent_in_capitals_find_what_they_name_and_come_back_lowercase,
    |engine| async move {
        let app = TestApp::spawn(engine).await;
        let mut room = Classroom::open(&app, "ann").await;
        let upload = upload_png(&app, &room.token, png(1_000, 1)).await;
        let upload_id = upload["id"].as_str().unwrap().to_uppercase();
        let lesson =
            json!({"title": "Maps", "slides": [{"kind": "image", "upload_id": upload_id}]});
        let created: Value = create(&app, &room.token, lesson)
            .await
            .json()
            .await
            .unwrap();
        let lesson_id = created["id"].as_str().unwrap().to_string();
        assert_eq!(created["slides"][0]["upload_id"], upload["id"]);

        let shown = app
            .client
            .get(app.url(&format!("/api/lessons/{}", lesson_id.to_uppercase())))
            .bearer_auth(&room.token)
            .send()
            .await
            .unwrap();
        assert_eq!(shown.status(), 200);
        assert_eq!(
            shown.json::<Value>().await.unwrap()["id"],
            lesson_id.as_str()
        );

        let (mut controller, welcome) = controller_socket(
            app.address,
            &room.token,
            &room.pairing_id.to_uppercase(),
            None,
        )
        .await;
        assert_eq!(welcome["type"], "welcome");
        let command_id = uuid::Uuid::new_v4().to_string();
        controller
            .send(command(
                &command_id.to_uppercase(),
                json!({"kind": "open_lesson", "lesson_id": lesson_id.to_uppercase()}),
            ))
            .await;
        assert_eq!(controller.next_of("ack").await["id"], command_id.as_str());
        let event = room.board_socket.next_of("event").await;
        assert_eq!(event["id"], command_id.as_str());
        assert_eq!(event["action"]["lesson_id"], lesson_id.as_str());

        let board = format!(
            "Board {}:{}",
            room.board.id.to_uppercase(),
            room.board.secret
        );
        let seen = app
            .client
            .get(app.url(&format!("/api/boards/{}", room.board.id.to_uppercase())))
            .header("authorization", board)
            .send()
            .await
            .unwrap();
        assert_eq!(seen.status(), 200);
        assert_eq!(
            seen.json::<Value>().await.unwrap()["id"],
            room.board.id.as_str()
        );
    }
);

#[tokio::test]
async fn a_nul_in_a_login_is_a_clear_refusal_on_postgresql() {
    let app = TestApp::spawn(Engine::Postgres).await;
    let refused = app.password_grant("ann\u{0}", "pw").await;
    assert_eq!(refused.status(), 400);
    assert_eq!(
        refused.json::<Value>().await.unwrap()["error"],
        "invalid_request"
    );
    let refused = app
        .token_request(&[
            ("grant_type", "password"),
            ("username", "ann"),
            ("password", "pw"),
            ("client_id", "web\u{0}"),
        ])
        .await;
    assert_eq!(refused.status(), 401);
    assert_eq!(
        refused.json::<Value>().await.unwrap()["error"],
        "invalid_client"
    );
}
