//! The OAuth2 token endpoint, revocation and `/api/me` with the builtin directory.

use std::time::{Duration, Instant};

use serde_json::Value;

use crate::{
    both_engines,
    helpers::{Engine, TestApp, TestDatabase},
};

/// A token request's form fields.
type Form = Vec<(&'static str, &'static str)>;

async fn error_of(response: reqwest::Response) -> (u16, String) {
    let status = response.status().as_u16();
    let body: Value = response.json().await.unwrap();
    assert!(body["error_description"].is_string(), "{body}");
    (status, body["error"].as_str().unwrap().to_string())
}

both_engines!(
    password_grant_returns_tokens_that_identify_the_teacher,
    |engine| async move {
        let app = TestApp::spawn(engine).await;
        app.add_user("jan", "s3cret!", "teacher").await;
        let response = app.password_grant("jan", "s3cret!").await;
        assert_eq!(response.status(), 200);
        assert_eq!(response.headers()["cache-control"], "no-store");
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["token_type"], "Bearer");
        assert_eq!(body["scope"], "boardcast");
        assert!(body["expires_in"].as_u64().unwrap() > 0);
        assert_eq!(body["access_token"].as_str().unwrap().len(), 64);
        let me: Value = app
            .me(body["access_token"].as_str().unwrap())
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(me["username"], "jan");
        assert_eq!(me["display_name"], "jan display");
        assert_eq!(me["roles"], serde_json::json!(["teacher"]));
        assert_eq!(me["id"].as_str().unwrap().len(), 36);
    }
);

#[tokio::test]
async fn admin_roles_are_reported() {
    let app = TestApp::spawn(Engine::Sqlite).await;
    app.add_user("boss", "pw", "teacher,admin").await;
    let token = app.login("boss", "pw").await["access_token"]
        .as_str()
        .unwrap()
        .to_string();
    let me: Value = app.me(&token).await.json().await.unwrap();
    assert_eq!(me["roles"], serde_json::json!(["teacher", "admin"]));
}

#[tokio::test]
async fn wrong_unknown_and_empty_passwords_are_invalid_grants() {
    let app = TestApp::spawn(Engine::Sqlite).await;
    app.add_user("jan", "right", "teacher").await;
    assert_eq!(
        error_of(app.password_grant("jan", "wrong").await).await,
        (400, "invalid_grant".into())
    );
    assert_eq!(
        error_of(app.password_grant("nobody", "right").await).await,
        (400, "invalid_grant".into())
    );
    assert_eq!(
        error_of(app.password_grant("jan", "").await).await,
        (400, "invalid_grant".into())
    );
}

#[tokio::test]
async fn account_without_a_role_is_refused() {
    let app = TestApp::spawn(Engine::Sqlite).await;
    app.add_user("pupil", "pw", "").await;
    assert_eq!(
        error_of(app.password_grant("pupil", "pw").await).await,
        (400, "invalid_grant".into())
    );
}

#[tokio::test]
async fn me_without_a_valid_token_is_401() {
    let app = TestApp::spawn(Engine::Sqlite).await;
    let response = app.client.get(app.url("/api/me")).send().await.unwrap();
    assert_eq!(response.status(), 401);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"], "unauthorized");
    assert_eq!(app.me("0123456789abcdef").await.status(), 401);
}

both_engines!(
    refresh_rotates_and_reuse_revokes_the_family,
    |engine| async move {
        let app = TestApp::spawn(engine).await;
        app.add_user("jan", "pw", "teacher").await;
        let first = app.login("jan", "pw").await;
        let old_refresh = first["refresh_token"].as_str().unwrap();
        let second = app.refresh(old_refresh).await;
        assert_eq!(second.status(), 200);
        let second: Value = second.json().await.unwrap();
        assert_ne!(second["refresh_token"], first["refresh_token"]);
        let new_access = second["access_token"].as_str().unwrap();
        assert_eq!(app.me(new_access).await.status(), 200);

        // The spent token again: refused, and everything of that login dies with it.
        assert_eq!(
            error_of(app.refresh(old_refresh).await).await,
            (400, "invalid_grant".into())
        );
        assert_eq!(app.me(new_access).await.status(), 401);
        let newest = second["refresh_token"].as_str().unwrap().to_string();
        assert_eq!(
            error_of(app.refresh(&newest).await).await,
            (400, "invalid_grant".into())
        );
    }
);

#[tokio::test]
async fn revoked_access_token_stops_working() {
    let app = TestApp::spawn(Engine::Sqlite).await;
    app.add_user("jan", "pw", "teacher").await;
    let tokens = app.login("jan", "pw").await;
    let access = tokens["access_token"].as_str().unwrap();
    assert_eq!(app.me(access).await.status(), 200);
    let response = app.revoke(access).await;
    assert_eq!(response.status(), 200);
    assert_eq!(app.me(access).await.status(), 401);
    // Unknown tokens are fine too (RFC 7009).
    let response = app.revoke("nope").await;
    assert_eq!(response.status(), 200);
}

#[tokio::test]
async fn revoked_refresh_token_ends_the_login() {
    let app = TestApp::spawn(Engine::Sqlite).await;
    app.add_user("jan", "pw", "teacher").await;
    let tokens = app.login("jan", "pw").await;
    let refresh = tokens["refresh_token"].as_str().unwrap();
    app.revoke(refresh).await;
    let response = app.refresh(refresh).await;
    assert_eq!(error_of(response).await, (400, "invalid_grant".into()));
    assert_eq!(
        app.me(tokens["access_token"].as_str().unwrap())
            .await
            .status(),
        401
    );
}

#[tokio::test]
async fn token_minted_on_one_node_works_on_another_and_revocation_reaches_it() {
    let database = TestDatabase::new(Engine::Postgres).await;
    let window = Duration::from_millis(300);
    let a = TestApp::spawn_on(&database.url, |s| s.auth.token_cache_window = window).await;
    let b = TestApp::spawn_on(&database.url, |s| s.auth.token_cache_window = window).await;
    a.add_user("jan", "pw", "teacher").await;
    let tokens = a.login("jan", "pw").await;
    let access = tokens["access_token"].as_str().unwrap();
    assert_eq!(b.me(access).await.status(), 200);

    a.revoke(access).await;
    let revoked_at = Instant::now();
    while b.me(access).await.status() == 200 {
        assert!(
            revoked_at.elapsed() < window * 2,
            "node B still accepts a revoked token"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn malformed_token_requests_get_rfc_6749_errors() {
    let app = TestApp::spawn(Engine::Sqlite).await;
    let cases: Vec<(Form, u16, &str)> = vec![
        (
            vec![("username", "a"), ("password", "b"), ("client_id", "web")],
            400,
            "invalid_request",
        ),
        (
            vec![("grant_type", "authorization_code"), ("client_id", "web")],
            400,
            "unsupported_grant_type",
        ),
        (
            vec![
                ("grant_type", "password"),
                ("password", "b"),
                ("client_id", "web"),
            ],
            400,
            "invalid_request",
        ),
        (
            vec![
                ("grant_type", "password"),
                ("username", "a"),
                ("password", "b"),
            ],
            400,
            "invalid_request",
        ),
        (
            vec![
                ("grant_type", "password"),
                ("username", "a"),
                ("password", "b"),
                ("client_id", "nope"),
            ],
            401,
            "invalid_client",
        ),
        (
            vec![
                ("grant_type", "password"),
                ("username", "a"),
                ("password", "b"),
                ("client_id", "web"),
                ("client_secret", "x"),
            ],
            401,
            "invalid_client",
        ),
        (
            vec![
                ("grant_type", "password"),
                ("username", "a"),
                ("password", "b"),
                ("client_id", "web"),
                ("scope", "everything"),
            ],
            400,
            "invalid_scope",
        ),
        (
            vec![("grant_type", "refresh_token"), ("client_id", "web")],
            400,
            "invalid_request",
        ),
        (
            vec![
                ("grant_type", "refresh_token"),
                ("refresh_token", "forged"),
                ("client_id", "web"),
            ],
            400,
            "invalid_grant",
        ),
    ];
    for (form, status, error) in cases {
        let response = app.token_request(&form).await;
        assert_eq!(
            error_of(response).await,
            (status, error.to_string()),
            "{form:?}"
        );
    }
    let duplicated = app
        .client
        .post(app.url("/oauth/token"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body("grant_type=password&grant_type=password&username=a&password=b&client_id=web")
        .send()
        .await
        .unwrap();
    assert_eq!(error_of(duplicated).await, (400, "invalid_request".into()));
    let json = app
        .client
        .post(app.url("/oauth/token"))
        .json(&serde_json::json!({"grant_type": "password"}))
        .send()
        .await
        .unwrap();
    assert_eq!(error_of(json).await, (400, "invalid_request".into()));
}

#[tokio::test]
async fn confidential_client_authenticates_with_http_basic() {
    let app = TestApp::spawn(Engine::Sqlite).await;
    app.add_user("jan", "pw", "teacher").await;
    let scope = "boardcast".parse().unwrap();
    let row =
        boardcast::auth::Registrar::new_client_row("tool", Some("t0p secret".into()), &scope, 0)
            .await
            .unwrap();
    assert!(!row.secret_hash.as_deref().unwrap().contains("t0p secret"));
    app.store.create_client(&row).await.unwrap();
    let form = [
        ("grant_type", "password"),
        ("username", "jan"),
        ("password", "pw"),
    ];
    let ok = app
        .client
        .post(app.url("/oauth/token"))
        .basic_auth("tool", Some("t0p secret"))
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), 200);
    // Only the web client's logins get a session cookie.
    assert!(ok.headers().get("set-cookie").is_none());
    let bad = app
        .client
        .post(app.url("/oauth/token"))
        .basic_auth("tool", Some("guess"))
        .form(&form)
        .send()
        .await
        .unwrap();
    assert!(bad.headers().contains_key("www-authenticate"));
    assert_eq!(error_of(bad).await, (401, "invalid_client".into()));
}
