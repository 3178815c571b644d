//! Lessons over HTTP on both engines: creating, editing, who sees which, what slides may hold,
//! and the uploads they show.

use serde_json::{json, Value};

use crate::{
    both_engines,
    helpers::TestApp,
    media_helpers::{png, upload, upload_png},
    ws_client::teacher,
};

/// `POST /api/lessons`.
pub async fn create(app: &TestApp, token: &str, lesson: Value) -> reqwest::Response {
    app.client
        .post(app.url("/api/lessons"))
        .bearer_auth(token)
        .json(&lesson)
        .send()
        .await
        .unwrap()
}

async fn put(
    app: &TestApp,
    token: &str,
    id: &str,
    version: Option<&str>,
    lesson: Value,
) -> reqwest::Response {
    let mut request = app
        .client
        .put(app.url(&format!("/api/lessons/{id}")))
        .bearer_auth(token)
        .json(&lesson);
    if let Some(version) = version {
        request = request.header("if-match", version);
    }
    request.send().await.unwrap()
}

pub async fn get(app: &TestApp, token: &str, path: &str) -> reqwest::Response {
    app.client
        .get(app.url(path))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
}

fn pdf() -> Vec<u8> {
    b"%PDF-1.7\n1 0 obj << /Type /Catalog >> endobj\n%%EOF\n".to_vec()
}

fn mp4() -> Vec<u8> {
    let mut bytes = b"\0\0\0\x20ftypisom\0\0\x02\0isomiso2avc1mp41".to_vec();
    bytes.extend([0u8; 200]);
    bytes
}

both_engines!(
    a_lesson_is_created_read_edited_and_deleted,
    |engine| async move {
        let app = TestApp::spawn(engine).await;
        let token = teacher(&app, "ann").await;
        let image = upload_png(&app, &token, png(500, 1)).await;
        let lesson = json!({
            "title": "Fractions",
            "slides": [
                {"kind": "text", "text": "What is a half?"},
                {"id": "pic", "kind": "image", "upload_id": image["id"]},
            ]
        });

        let created = create(&app, &token, lesson).await;
        assert_eq!(created.status(), 201);
        assert_eq!(created.headers()["etag"], "\"1\"");
        let created: Value = created.json().await.unwrap();
        assert_eq!(created["version"], 1);
        assert_eq!(created["title"], "Fractions");
        let slides = created["slides"].as_array().unwrap();
        assert!(slides[0]["id"].as_str().is_some_and(|id| !id.is_empty()));
        assert_eq!(slides[1]["id"], "pic");
        let media_url = slides[1]["media_url"].as_str().unwrap();
        assert_eq!(
            reqwest::get(app.url(media_url))
                .await
                .unwrap()
                .bytes()
                .await
                .unwrap(),
            png(500, 1)
        );
        let id = created["id"].as_str().unwrap();

        let read: Value = get(&app, &token, &format!("/api/lessons/{id}"))
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(read["slides"], created["slides"]);

        // Sent back as read, with one change.
        let mut edited = read.clone();
        edited["title"] = json!("Fractions, part 1");
        let saved = put(&app, &token, id, Some("\"1\""), edited).await;
        assert_eq!(saved.status(), 200);
        assert_eq!(saved.headers()["etag"], "\"2\"");
        let saved: Value = saved.json().await.unwrap();
        assert_eq!(saved["version"], 2);
        assert_eq!(saved["title"], "Fractions, part 1");

        let listed: Vec<Value> = get(&app, &token, "/api/lessons")
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(listed.len(), 1);
        assert_eq!(listed[0]["version"], 2);

        let deleted = app
            .client
            .delete(app.url(&format!("/api/lessons/{id}")))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap();
        assert_eq!(deleted.status(), 204);
        assert_eq!(
            get(&app, &token, &format!("/api/lessons/{id}"))
                .await
                .status(),
            404
        );
    }
);

both_engines!(
    a_stale_edit_is_refused_and_overwrites_nothing,
    |engine| async move {
        let app = TestApp::spawn(engine).await;
        let token = teacher(&app, "ann").await;
        let created: Value = create(&app, &token, json!({"title": "Verbs"}))
            .await
            .json()
            .await
            .unwrap();
        let id = created["id"].as_str().unwrap();
        let first = put(
            &app,
            &token,
            id,
            Some("1"),
            json!({"title": "Verbs (laptop)"}),
        )
        .await;
        assert_eq!(first.status(), 200);

        let stale = put(
            &app,
            &token,
            id,
            Some("1"),
            json!({"title": "Verbs (phone)"}),
        )
        .await;
        assert_eq!(stale.status(), 409);
        assert_eq!(stale.json::<Value>().await.unwrap()["error"], "conflict");
        let unconditional = put(&app, &token, id, None, json!({"title": "Verbs (tablet)"})).await;
        assert_eq!(unconditional.status(), 428);
        let garbled = put(&app, &token, id, Some("latest"), json!({"title": "x"})).await;
        assert_eq!(garbled.status(), 400);

        let read: Value = get(&app, &token, &format!("/api/lessons/{id}"))
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(read["title"], "Verbs (laptop)");
        assert_eq!(read["version"], 2);
    }
);

both_engines!(
    lessons_are_their_owners_and_admins_see_all,
    |engine| async move {
        let app = TestApp::spawn(engine).await;
        let ann = teacher(&app, "ann").await;
        let bob = teacher(&app, "bob").await;
        app.add_user("root", "pw", "admin").await;
        let admin = app.login("root", "pw").await["access_token"]
            .as_str()
            .unwrap()
            .to_string();
        let created: Value = create(&app, &ann, json!({"title": "Ann's"}))
            .await
            .json()
            .await
            .unwrap();
        let path = format!("/api/lessons/{}", created["id"].as_str().unwrap());

        assert_eq!(get(&app, &bob, &path).await.status(), 404);
        let bobs: Vec<Value> = get(&app, &bob, "/api/lessons").await.json().await.unwrap();
        assert!(bobs.is_empty());
        let edit_by_bob = put(
            &app,
            &bob,
            created["id"].as_str().unwrap(),
            Some("1"),
            json!({"title": "Mine now"}),
        )
        .await;
        assert_eq!(edit_by_bob.status(), 404);
        let all: Vec<Value> = get(&app, &admin, "/api/lessons")
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(all.len(), 1);
        assert_eq!(get(&app, &admin, &path).await.status(), 200);

        assert_eq!(
            create(&app, &admin, json!({"title": "x"})).await.status(),
            403
        );
        let anonymous = app
            .client
            .get(app.url("/api/lessons"))
            .send()
            .await
            .unwrap();
        assert_eq!(anonymous.status(), 401);
    }
);

both_engines!(slides_must_fit_their_kind, |engine| async move {
    let app = TestApp::spawn(engine).await;
    let ann = teacher(&app, "ann").await;
    let bob = teacher(&app, "bob").await;
    let image = upload_png(&app, &ann, png(100, 2)).await["id"].clone();
    let pdf_upload: Value = upload(&app, &ann, "application/pdf", pdf())
        .await
        .json()
        .await
        .unwrap();
    let video: Value = upload(&app, &ann, "video/mp4", mp4())
        .await
        .json()
        .await
        .unwrap();
    let bobs_image = upload_png(&app, &bob, png(100, 3)).await["id"].clone();

    let good = json!({"title": "All kinds", "slides": [
        {"kind": "image", "upload_id": image},
        {"kind": "pdf", "upload_id": pdf_upload["id"], "page": 2},
        {"kind": "video", "upload_id": video["id"]},
        {"kind": "text", "text": "Questions?"},
        {"kind": "link", "url": "https://example.org/quiz"},
    ]});
    let created = create(&app, &ann, good).await;
    assert_eq!(created.status(), 201);
    let created: Value = created.json().await.unwrap();
    assert_eq!(created["slides"][1]["page"], 2);
    assert!(created["slides"][2]["media_url"].is_string());
    assert!(created["slides"][3].get("media_url").is_none());

    let bad_slides = [
        json!({"kind": "pdf", "upload_id": image}),
        json!({"kind": "image", "upload_id": video["id"]}),
        json!({"kind": "image"}),
        json!({"kind": "image", "upload_id": bobs_image}),
        json!({"kind": "image", "upload_id": "no-such-upload"}),
        json!({"kind": "pdf", "upload_id": pdf_upload["id"], "page": 0}),
        json!({"kind": "text", "text": "hi", "url": "https://example.org"}),
        json!({"kind": "text", "text": "  "}),
        json!({"kind": "link", "url": "javascript:alert(1)"}),
        json!({"kind": "slideshow"}),
        json!({"kind": "text", "text": "hi", "colour": "red"}),
    ];
    for slide in bad_slides {
        let response = create(
            &app,
            &ann,
            json!({"title": "Bad", "slides": [slide.clone()]}),
        )
        .await;
        assert_eq!(response.status(), 400, "{slide}");
        let error: Value = response.json().await.unwrap();
        assert_eq!(error["error"], "invalid_request", "{slide}");
    }
    let twice = json!({"title": "Bad", "slides": [
        {"id": "a", "kind": "text", "text": "1"}, {"id": "a", "kind": "text", "text": "2"}]});
    assert_eq!(create(&app, &ann, twice).await.status(), 400);
    assert_eq!(create(&app, &ann, json!({"title": ""})).await.status(), 400);
    let listed: Vec<Value> = get(&app, &ann, "/api/lessons").await.json().await.unwrap();
    assert_eq!(listed.len(), 1, "only the good lesson was saved");
});

both_engines!(
    an_upload_a_lesson_shows_cannot_be_deleted,
    |engine| async move {
        let app = TestApp::spawn(engine).await;
        let token = teacher(&app, "ann").await;
        let image = upload_png(&app, &token, png(100, 4)).await;
        let image_id = image["id"].as_str().unwrap();
        let lesson = json!({"title": "Maps", "slides": [{"kind": "image", "upload_id": image_id}]});
        let created: Value = create(&app, &token, lesson).await.json().await.unwrap();
        let delete_upload = || {
            app.client
                .delete(app.url(&format!("/api/uploads/{image_id}")))
                .bearer_auth(&token)
                .send()
        };

        let refused = delete_upload().await.unwrap();
        assert_eq!(refused.status(), 409);
        assert!(refused.text().await.unwrap().contains("Maps"));
        let emptied = put(
            &app,
            &token,
            created["id"].as_str().unwrap(),
            Some("1"),
            json!({"title": "Maps"}),
        )
        .await;
        assert_eq!(emptied.status(), 200);
        assert_eq!(delete_upload().await.unwrap().status(), 204);
    }
);

both_engines!(speaker_notes_have_a_length_limit, |engine| async move {
    let app = TestApp::spawn(engine).await;
    let token = teacher(&app, "ann").await;
    let long = "n".repeat(10_001);
    let refused = create(
        &app,
        &token,
        json!({"title": "Long", "slides": [{"kind": "text", "text": "hi", "notes": long}]}),
    )
    .await;
    assert_eq!(refused.status(), 400);
    let error: Value = refused.json().await.unwrap();
    assert!(
        error["message"].as_str().unwrap().contains("notes"),
        "{error}"
    );

    // A long lesson with notes on every slide is far beyond the usual 64 KiB body limit.
    let slides: Vec<Value> = (0..200)
        .map(|n| json!({"kind": "text", "text": format!("slide {n}"), "notes": "n".repeat(2_000)}))
        .collect();
    let long_lesson = create(&app, &token, json!({"title": "Long", "slides": slides})).await;
    assert_eq!(long_lesson.status(), 201);
});
