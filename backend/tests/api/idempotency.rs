//! Idempotency-Key on writes: a retry, on the same node or another, gets the first answer
//! and changes nothing; reusing a key for another request is refused; keys are per caller.

use reqwest::{RequestBuilder, Response};
use serde_json::{json, Value};

use crate::{
    both_engines,
    helpers::{Engine, TestApp, TestDatabase},
    ws_client::{new_id, teacher, Classroom},
};

fn keyed(request: RequestBuilder, key: &str) -> RequestBuilder {
    request.header("idempotency-key", key)
}

async fn new_lesson(app: &TestApp, token: &str, key: &str, title: &str) -> Response {
    keyed(app.client.post(app.url("/api/lessons")), key)
        .bearer_auth(token)
        .json(&json!({ "title": title }))
        .send()
        .await
        .unwrap()
}

async fn lesson_count(app: &TestApp, token: &str) -> usize {
    let lessons: Vec<Value> = app
        .client
        .get(app.url("/api/lessons"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    lessons.len()
}

both_engines!(
    a_write_repeated_with_its_key_is_done_once,
    |engine: Engine| async move {
        let app = TestApp::spawn(engine).await;
        let token = teacher(&app, "ann").await;
        let key = new_id();
        let first = new_lesson(&app, &token, &key, "Tides").await;
        assert_eq!(first.status(), 201);
        assert!(first.headers().get("idempotent-replayed").is_none());
        let etag = first.headers()["etag"].clone();
        let first: Value = first.json().await.unwrap();

        let again = new_lesson(&app, &token, &key, "Tides").await;
        assert_eq!(again.status(), 201);
        assert_eq!(again.headers()["idempotent-replayed"], "true");
        assert_eq!(again.headers()["etag"], etag);
        assert_eq!(again.json::<Value>().await.unwrap(), first);
        assert_eq!(lesson_count(&app, &token).await, 1);

        let reused = new_lesson(&app, &token, &key, "Waves").await;
        assert_eq!(reused.status(), 409);
        assert_eq!(reused.json::<Value>().await.unwrap()["error"], "conflict");
        assert_eq!(lesson_count(&app, &token).await, 1);

        // Another teacher's key is another key.
        let bob = teacher(&app, "bob").await;
        assert_eq!(new_lesson(&app, &bob, &key, "Waves").await.status(), 201);
        assert_eq!(lesson_count(&app, &bob).await, 1);

        let garbled = new_lesson(&app, &token, "not a key", "Waves").await;
        assert_eq!(garbled.status(), 400);
    }
);

both_engines!(
    an_edit_retried_after_it_succeeded_is_not_refused_as_stale,
    |engine: Engine| async move {
        let app = TestApp::spawn(engine).await;
        let token = teacher(&app, "ann").await;
        let created: Value = new_lesson(&app, &token, &new_id(), "Tides")
            .await
            .json()
            .await
            .unwrap();
        let path = app.url(&format!("/api/lessons/{}", created["id"].as_str().unwrap()));
        let key = new_id();
        let edit = || {
            keyed(app.client.put(&path), &key)
                .bearer_auth(&token)
                .header("if-match", "1")
                .json(&json!({"title": "Tides, edited"}))
                .send()
        };
        let first = edit().await.unwrap();
        assert_eq!(first.status(), 200);
        let retried = edit().await.unwrap();
        assert_eq!(retried.status(), 200, "the first answer, not 409");
        assert_eq!(retried.json::<Value>().await.unwrap()["version"], 2);
        let unkeyed = app
            .client
            .put(&path)
            .bearer_auth(&token)
            .header("if-match", "1")
            .json(&json!({"title": "Tides, edited"}))
            .send()
            .await
            .unwrap();
        assert_eq!(unkeyed.status(), 409, "without the key it is a stale edit");
    }
);

both_engines!(
    a_refused_token_does_not_use_up_the_key,
    |engine: Engine| async move {
        let app = TestApp::spawn(engine).await;
        let token = teacher(&app, "ann").await;
        let key = new_id();
        let expired = new_lesson(&app, "no-such-token", &key, "Tides").await;
        assert_eq!(expired.status(), 401);
        let renewed = new_lesson(&app, &token, &key, "Tides").await;
        assert_eq!(renewed.status(), 201);
        assert!(renewed.headers().get("idempotent-replayed").is_none());
    }
);

both_engines!(
    a_board_registration_retried_gets_the_same_board_and_the_secret_is_not_stored,
    |engine: Engine| async move {
        let app = TestApp::spawn(engine).await;
        let key = new_id();
        let register = || {
            keyed(app.client.post(app.url("/api/boards")), &key)
                .json(&json!({"name": "Room 4"}))
                .send()
        };
        let first: Value = register().await.unwrap().json().await.unwrap();
        let again = register().await.unwrap();
        assert_eq!(again.status(), 201);
        let again: Value = again.json().await.unwrap();
        assert_eq!(again, first);
        let secret = first["board_secret"].as_str().unwrap();
        let answers: Vec<(String,)> = sqlx::query_as("select answer from idempotency_keys")
            .fetch_all(app.store.pool())
            .await
            .unwrap();
        assert_eq!(answers.len(), 1);
        assert!(!answers[0].0.contains(secret));
        assert!(!answers[0].0.contains(first["board_id"].as_str().unwrap()));
    }
);

#[tokio::test]
async fn a_write_retried_on_another_node_gets_the_first_answer() {
    let database = TestDatabase::new(Engine::Postgres).await;
    let a = TestApp::spawn_on(&database.url, |_| {}).await;
    let b = TestApp::spawn_on(&database.url, |_| {}).await;
    let room = Classroom::open(&a, "ann").await;
    let key = new_id();
    let unpair = |app: &TestApp| {
        keyed(
            app.client
                .delete(app.url(&format!("/api/pairings/{}", room.pairing_id))),
            &key,
        )
        .bearer_auth(&room.token)
        .send()
    };
    assert_eq!(unpair(&a).await.unwrap().status(), 204);
    let on_b = unpair(&b).await.unwrap();
    assert_eq!(on_b.status(), 204, "not 404: the first answer");
    assert_eq!(on_b.headers()["idempotent-replayed"], "true");

    let lesson_key = new_id();
    let on_a: Value = new_lesson(&a, &room.token, &lesson_key, "Tides")
        .await
        .json()
        .await
        .unwrap();
    let on_b: Value = new_lesson(&b, &room.token, &lesson_key, "Tides")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(on_a["id"], on_b["id"]);
    assert_eq!(lesson_count(&b, &room.token).await, 1);
}
