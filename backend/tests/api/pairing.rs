//! Boards and pairing over HTTP: registration, codes, pairing, listing, unpairing, guessing
//! limits, and who may do what; on both engines, and across two nodes.

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::{
    both_engines,
    helpers::{Engine, TestApp, TestDatabase},
    ws_client::{register_board, Board},
};

async fn request_code(app: &TestApp, board: &Board) -> reqwest::Response {
    app.client
        .post(app.url(&format!("/api/boards/{}/code", board.id)))
        .header("authorization", board.authorization())
        .send()
        .await
        .unwrap()
}

async fn code_of(app: &TestApp, board: &Board) -> String {
    let response = request_code(app, board).await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let body: Value = response.json().await.unwrap();
    body["code"].as_str().unwrap().to_string()
}

async fn teacher_token(app: &TestApp, username: &str) -> String {
    app.add_user(username, "pw", "teacher").await;
    let tokens = app.login(username, "pw").await;
    tokens["access_token"].as_str().unwrap().to_string()
}

async fn pair(app: &TestApp, token: &str, code: &str) -> reqwest::Response {
    app.client
        .post(app.url("/api/pairings"))
        .bearer_auth(token)
        .json(&json!({ "code": code, "label": "laptop" }))
        .send()
        .await
        .unwrap()
}

async fn list_pairings(app: &TestApp, token: &str) -> Vec<Value> {
    let response = app
        .client
        .get(app.url("/api/pairings"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    response.json().await.unwrap()
}

async fn delete_pairing(app: &TestApp, id: &str, authorization: &str) -> StatusCode {
    app.client
        .delete(app.url(&format!("/api/pairings/{id}")))
        .header("authorization", authorization)
        .send()
        .await
        .unwrap()
        .status()
}

both_engines!(
    a_teacher_pairs_with_the_code_a_board_shows,
    |engine| async move {
        let app = TestApp::spawn(engine).await;
        let board = register_board(&app, "Room 12").await;
        let token = teacher_token(&app, "jan").await;
        let code = code_of(&app, &board).await;
        assert_eq!(code.len(), 6);
        let response = pair(&app, &token, &code).await;
        assert_eq!(response.status(), StatusCode::CREATED);
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["board"]["id"], board.id.as_str());
        assert_eq!(body["board"]["name"], "Room 12");
        let pairing_id = body["pairing_id"].as_str().unwrap();
        let listed = list_pairings(&app, &token).await;
        assert_eq!(listed.len(), 1);
        assert_eq!(listed[0]["pairing_id"], pairing_id);
        assert_eq!(listed[0]["board"]["online"], true);
        assert!(listed[0]["created_at"].as_str().unwrap().ends_with('Z'));
    }
);

both_engines!(a_code_pairs_only_once, |engine| async move {
    let app = TestApp::spawn(engine).await;
    let board = register_board(&app, "Room 12").await;
    let jan = teacher_token(&app, "jan").await;
    let eve = teacher_token(&app, "eve").await;
    let code = code_of(&app, &board).await;
    assert_eq!(pair(&app, &jan, &code).await.status(), StatusCode::CREATED);
    let again = pair(&app, &eve, &code).await;
    assert_eq!(again.status(), StatusCode::NOT_FOUND);
    let body: Value = again.json().await.unwrap();
    assert_eq!(body["error"], "invalid_code");
    assert!(list_pairings(&app, &eve).await.is_empty());
});

#[tokio::test]
async fn an_expired_code_is_invalid_like_an_unknown_one() {
    let code_ttl = std::time::Duration::from_secs(60);
    let app = TestApp::spawn_with(Engine::Sqlite, |settings| {
        settings.pairing.code_ttl = code_ttl;
    })
    .await;
    let board = register_board(&app, "Room 12").await;
    let token = teacher_token(&app, "jan").await;
    let code = code_of(&app, &board).await;
    // Just past the code's lifetime, without waiting for it.
    app.clock
        .advance(code_ttl + std::time::Duration::from_millis(1));
    let expired = pair(&app, &token, &code).await;
    assert_eq!(expired.status(), StatusCode::NOT_FOUND);
    let body: Value = expired.json().await.unwrap();
    assert_eq!(body["error"], "invalid_code");
}

#[tokio::test]
async fn a_new_code_replaces_the_one_shown_before() {
    let app = TestApp::spawn(Engine::Sqlite).await;
    let board = register_board(&app, "Room 12").await;
    let token = teacher_token(&app, "jan").await;
    let old = code_of(&app, &board).await;
    let mut new = code_of(&app, &board).await;
    while new == old {
        new = code_of(&app, &board).await;
    }
    assert_eq!(
        pair(&app, &token, &old).await.status(),
        StatusCode::NOT_FOUND
    );
    assert_eq!(pair(&app, &token, &new).await.status(), StatusCode::CREATED);
}

#[tokio::test]
async fn guessing_codes_is_stopped_with_429() {
    let app = TestApp::spawn_with(Engine::Sqlite, |settings| {
        settings.pairing.max_failures_per_user = 3;
    })
    .await;
    let board = register_board(&app, "Room 12").await;
    let token = teacher_token(&app, "jan").await;
    let code = code_of(&app, &board).await;
    let wrong = if code == "000000" { "000001" } else { "000000" };
    for _ in 0..3 {
        assert_eq!(
            pair(&app, &token, wrong).await.status(),
            StatusCode::NOT_FOUND
        );
    }
    let throttled = pair(&app, &token, &code).await;
    assert_eq!(throttled.status(), StatusCode::TOO_MANY_REQUESTS);
    let retry_after: u64 = throttled.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(retry_after > 0);
    // Even the right code waits: the budget is spent, and the code is still unspent.
    let other = teacher_token(&app, "eve").await;
    assert_eq!(
        pair(&app, &other, &code).await.status(),
        StatusCode::CREATED
    );
}

#[tokio::test]
async fn guesses_from_one_address_are_limited_across_teachers() {
    let app = TestApp::spawn_with(Engine::Sqlite, |settings| {
        settings.pairing.max_failures_per_address = 2;
    })
    .await;
    let board = register_board(&app, "Room 12").await;
    let code = code_of(&app, &board).await;
    let wrong = if code == "000000" { "000001" } else { "000000" };
    for name in ["a", "b"] {
        let token = teacher_token(&app, name).await;
        assert_eq!(
            pair(&app, &token, wrong).await.status(),
            StatusCode::NOT_FOUND
        );
    }
    let token = teacher_token(&app, "c").await;
    assert_eq!(
        pair(&app, &token, &code).await.status(),
        StatusCode::TOO_MANY_REQUESTS
    );
}

#[tokio::test]
async fn malformed_codes_are_bad_requests_and_not_counted() {
    let app = TestApp::spawn_with(Engine::Sqlite, |settings| {
        settings.pairing.max_failures_per_user = 1;
    })
    .await;
    let board = register_board(&app, "Room 12").await;
    let token = teacher_token(&app, "jan").await;
    for code in ["12345", "1234567", "12a456", "", "１２３４５６"] {
        let response = pair(&app, &token, code).await;
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{code:?}");
    }
    let code = code_of(&app, &board).await;
    assert_eq!(
        pair(&app, &token, &code).await.status(),
        StatusCode::CREATED
    );
}

#[tokio::test]
async fn bad_bodies_get_clear_errors() {
    let app = TestApp::spawn(Engine::Sqlite).await;
    let token = teacher_token(&app, "jan").await;
    let send = |body: &'static str, content_type: &'static str| {
        app.client
            .post(app.url("/api/pairings"))
            .bearer_auth(&token)
            .header("content-type", content_type)
            .body(body)
            .send()
    };
    let cases = [
        ("{\"code\":", "application/json", 400, "invalid_json"),
        (
            "{\"code\":123456}",
            "application/json",
            400,
            "invalid_request",
        ),
        (
            "{\"code\":\"123456\",\"x\":1}",
            "application/json",
            400,
            "invalid_request",
        ),
        (
            "code=123456",
            "application/x-www-form-urlencoded",
            415,
            "unsupported_media_type",
        ),
    ];
    for (body, content_type, status, error) in cases {
        let response = send(body, content_type).await.unwrap();
        assert_eq!(response.status().as_u16(), status, "{body}");
        let json: Value = response.json().await.unwrap();
        assert_eq!(json["error"], error, "{body}");
        assert!(json["message"].as_str().is_some_and(|m| !m.is_empty()));
    }
}

#[tokio::test]
async fn only_teachers_pair_and_only_with_a_token() {
    let app = TestApp::spawn(Engine::Sqlite).await;
    let board = register_board(&app, "Room 12").await;
    let code = code_of(&app, &board).await;
    app.add_user("root", "pw", "admin").await;
    let admin = app.login("root", "pw").await["access_token"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(
        pair(&app, &admin, &code).await.status(),
        StatusCode::FORBIDDEN
    );
    let anonymous = app
        .client
        .post(app.url("/api/pairings"))
        .json(&json!({ "code": code }))
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED);
    // A board's credentials are not a teacher's.
    let as_board = app
        .client
        .post(app.url("/api/pairings"))
        .header("authorization", board.authorization())
        .json(&json!({ "code": code }))
        .send()
        .await
        .unwrap();
    assert_eq!(as_board.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn a_board_needs_its_own_secret_for_a_code() {
    let app = TestApp::spawn(Engine::Sqlite).await;
    let board = register_board(&app, "Room 12").await;
    let other = register_board(&app, "Room 13").await;
    let forged = Board {
        id: board.id.clone(),
        secret: other.secret.clone(),
    };
    assert_eq!(
        request_code(&app, &forged).await.status(),
        StatusCode::UNAUTHORIZED
    );
    let response = app
        .client
        .post(app.url(&format!("/api/boards/{}/code", board.id)))
        .header("authorization", other.authorization())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
}

both_engines!(
    the_teacher_or_the_board_may_delete_a_pairing,
    |engine| async move {
        let app = TestApp::spawn(engine).await;
        let board = register_board(&app, "Room 12").await;
        let jan = teacher_token(&app, "jan").await;
        let eve = teacher_token(&app, "eve").await;
        let mut pairing_ids = Vec::new();
        for _ in 0..2 {
            let code = code_of(&app, &board).await;
            let body: Value = pair(&app, &jan, &code).await.json().await.unwrap();
            pairing_ids.push(body["pairing_id"].as_str().unwrap().to_string());
        }
        // Someone else's pairing looks like none at all.
        assert_eq!(
            delete_pairing(&app, &pairing_ids[0], &format!("Bearer {eve}")).await,
            StatusCode::NOT_FOUND
        );
        assert_eq!(
            delete_pairing(&app, &pairing_ids[0], &format!("Bearer {jan}")).await,
            StatusCode::NO_CONTENT
        );
        assert_eq!(
            delete_pairing(&app, &pairing_ids[1], &board.authorization()).await,
            StatusCode::NO_CONTENT
        );
        assert_eq!(
            delete_pairing(&app, &pairing_ids[1], &board.authorization()).await,
            StatusCode::NOT_FOUND
        );
        assert!(list_pairings(&app, &jan).await.is_empty());
    }
);

#[tokio::test]
async fn board_registration_is_limited_per_address() {
    let app = TestApp::spawn_with(Engine::Sqlite, |settings| {
        settings.pairing.max_boards_per_address_per_hour = 2;
    })
    .await;
    register_board(&app, "a").await;
    register_board(&app, "b").await;
    let third = app
        .client
        .post(app.url("/api/boards"))
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(third.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(third.headers().contains_key("retry-after"));
}

#[tokio::test]
async fn a_code_shown_by_a_board_on_one_node_pairs_on_another() {
    let database = TestDatabase::new(Engine::Postgres).await;
    let a = TestApp::spawn_on(&database.url, |_| {}).await;
    let b = TestApp::spawn_on(&database.url, |_| {}).await;
    let board = register_board(&a, "Room 12").await;
    let code = code_of(&a, &board).await;
    let token = teacher_token(&b, "jan").await;
    let response = pair(&b, &token, &code).await;
    assert_eq!(response.status(), StatusCode::CREATED);
    assert_eq!(list_pairings(&a, &token).await.len(), 1);
}

#[tokio::test]
async fn two_teachers_racing_for_one_code_pair_once() {
    let database = TestDatabase::new(Engine::Postgres).await;
    let a = TestApp::spawn_on(&database.url, |_| {}).await;
    let b = TestApp::spawn_on(&database.url, |_| {}).await;
    let board = register_board(&a, "Room 12").await;
    let code = code_of(&a, &board).await;
    let jan = teacher_token(&a, "jan").await;
    let eve = teacher_token(&b, "eve").await;
    let (first, second) = tokio::join!(pair(&a, &jan, &code), pair(&b, &eve, &code));
    let mut statuses = [first.status(), second.status()];
    statuses.sort();
    assert_eq!(statuses, [StatusCode::CREATED, StatusCode::NOT_FOUND]);
}
