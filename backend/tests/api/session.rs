//! The web client's session cookie: a reloaded page gets a fresh token on any node, logout
//! ends the login, and other sites cannot use the cookie.

use serde_json::Value;

use crate::helpers::{Engine, TestApp, TestDatabase};

const SPA: &str = "http://spa.school.test";

fn trust_spa(settings: &mut boardcast::config::Settings) {
    settings.web.allowed_origins = vec![SPA.to_string()];
}

async fn session_token(app: &TestApp, origin: Option<&str>) -> reqwest::Response {
    let mut request = app.client.post(app.url("/api/session/token"));
    if let Some(origin) = origin {
        request = request.header("origin", origin);
    }
    request.send().await.unwrap()
}

#[tokio::test]
async fn web_login_sets_an_http_only_session_cookie() {
    let app = TestApp::spawn_with(Engine::Sqlite, |s| {
        trust_spa(s);
        s.web.cookie_domain = ".school.test".into();
    })
    .await;
    app.add_user("jan", "pw", "teacher").await;
    let response = app.password_grant("jan", "pw").await;
    let cookie = response.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(cookie.starts_with("boardcast_session="), "{cookie}");
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax"),
        "{cookie}"
    );
    assert!(
        cookie.contains("Domain=school.test") || cookie.contains("Domain=.school.test"),
        "{cookie}"
    );
}

#[tokio::test]
async fn session_gives_a_fresh_access_token_on_another_node() {
    let database = TestDatabase::new(Engine::Postgres).await;
    let a = TestApp::spawn_on(&database.url, trust_spa).await;
    let b = TestApp::spawn_on(&database.url, trust_spa).await;
    a.add_user("jan", "pw", "teacher").await;
    a.login("jan", "pw").await;
    // The same browser (cookie jar) now talks to node B.
    let mut on_b = b;
    on_b.client = a.client.clone();
    let response = session_token(&on_b, Some(SPA)).await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["cache-control"], "no-store");
    let body: Value = response.json().await.unwrap();
    let me = on_b.me(body["access_token"].as_str().unwrap()).await;
    assert_eq!(me.status(), 200);
}

#[tokio::test]
async fn session_endpoints_refuse_foreign_or_missing_origins() {
    let app = TestApp::spawn_with(Engine::Sqlite, trust_spa).await;
    app.add_user("jan", "pw", "teacher").await;
    app.login("jan", "pw").await;
    assert_eq!(session_token(&app, None).await.status(), 403);
    let evil = session_token(&app, Some("http://evil.test")).await;
    assert_eq!(evil.status(), 403);
    let body: Value = evil.json().await.unwrap();
    assert_eq!(body["error"], "forbidden");
    let logout = app
        .client
        .delete(app.url("/api/session"))
        .header("origin", "http://evil.test")
        .send()
        .await
        .unwrap();
    assert_eq!(logout.status(), 403);
    assert_eq!(session_token(&app, Some(SPA)).await.status(), 200);
}

#[tokio::test]
async fn logout_ends_the_session_and_its_tokens() {
    let app = TestApp::spawn_with(Engine::Sqlite, trust_spa).await;
    app.add_user("jan", "pw", "teacher").await;
    let tokens = app.login("jan", "pw").await;
    let logout = app
        .client
        .delete(app.url("/api/session"))
        .header("origin", SPA)
        .send()
        .await
        .unwrap();
    assert_eq!(logout.status(), 204);
    assert_eq!(session_token(&app, Some(SPA)).await.status(), 401);
    assert_eq!(
        app.me(tokens["access_token"].as_str().unwrap())
            .await
            .status(),
        401
    );
}

#[tokio::test]
async fn without_a_session_no_token_is_given() {
    let app = TestApp::spawn_with(Engine::Sqlite, trust_spa).await;
    let response = session_token(&app, Some(SPA)).await;
    assert_eq!(response.status(), 401);
}

#[tokio::test]
async fn revoked_login_ends_its_session() {
    let app = TestApp::spawn_with(Engine::Sqlite, trust_spa).await;
    app.add_user("jan", "pw", "teacher").await;
    let tokens = app.login("jan", "pw").await;
    let refresh = tokens["refresh_token"].as_str().unwrap();
    app.revoke(refresh).await;
    assert_eq!(session_token(&app, Some(SPA)).await.status(), 401);
}

/// The session id a response's cookie hands the browser.
fn session_cookie(response: &reqwest::Response) -> String {
    let cookie = response.headers()["set-cookie"].to_str().unwrap();
    let pair = cookie.split(';').next().unwrap();
    pair.strip_prefix("boardcast_session=").unwrap().to_string()
}

/// `POST /api/session/token` from a browser holding exactly the session `id`.
async fn token_with_cookie(app: &TestApp, id: &str) -> reqwest::StatusCode {
    reqwest::Client::new()
        .post(app.url("/api/session/token"))
        .header("origin", SPA)
        .header("cookie", format!("boardcast_session={id}"))
        .send()
        .await
        .unwrap()
        .status()
}

#[tokio::test]
async fn the_cookie_lasts_as_long_as_the_refresh_token() {
    let app = TestApp::spawn_with(Engine::Sqlite, |s| {
        trust_spa(s);
        s.auth.refresh_token_ttl = std::time::Duration::from_secs(7 * 86_400);
    })
    .await;
    app.add_user("jan", "pw", "teacher").await;
    let response = app.password_grant("jan", "pw").await;
    let cookie = response.headers()["set-cookie"].to_str().unwrap();
    assert!(cookie.contains("Max-Age=604800"), "{cookie}");
    assert!(cookie.contains("Path=/"), "{cookie}");
    assert!(!cookie.contains("Secure"), "an http:// node: {cookie}");
}

#[tokio::test]
async fn logging_in_again_replaces_the_browsers_session() {
    let app = TestApp::spawn_with(Engine::Sqlite, trust_spa).await;
    app.add_user("jan", "pw", "teacher").await;
    let first = session_cookie(&app.password_grant("jan", "pw").await);
    assert_eq!(token_with_cookie(&app, &first).await, 200);
    // The same browser (its cookie jar holds the first session) logs in again.
    let second = session_cookie(&app.password_grant("jan", "pw").await);
    assert_ne!(first, second);
    assert_eq!(token_with_cookie(&app, &first).await, 401);
    assert_eq!(token_with_cookie(&app, &second).await, 200);
}

#[tokio::test]
async fn a_planted_cookie_is_never_the_session_of_a_login() {
    let app = TestApp::spawn_with(Engine::Sqlite, trust_spa).await;
    app.add_user("jan", "pw", "teacher").await;
    let planted = session_cookie(&app.password_grant("jan", "pw").await);
    // Someone else's browser gets the cookie planted, then its teacher logs in.
    let victim = reqwest::Client::new()
        .post(app.url("/oauth/token"))
        .header("cookie", format!("boardcast_session={planted}"))
        .form(&[
            ("grant_type", "password"),
            ("username", "jan"),
            ("password", "pw"),
            ("client_id", "web"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(victim.status(), 200);
    assert_ne!(session_cookie(&victim), planted);
    assert_eq!(token_with_cookie(&app, &planted).await, 401);
}

#[tokio::test]
async fn a_web_refresh_moves_the_session_along() {
    let app = TestApp::spawn_with(Engine::Sqlite, trust_spa).await;
    app.add_user("jan", "pw", "teacher").await;
    let response = app.password_grant("jan", "pw").await;
    let before = session_cookie(&response);
    let tokens: Value = response.json().await.unwrap();
    let refreshed = app.refresh(tokens["refresh_token"].as_str().unwrap()).await;
    assert_eq!(refreshed.status(), 200);
    let after = session_cookie(&refreshed);
    assert_eq!(token_with_cookie(&app, &before).await, 401);
    assert_eq!(token_with_cookie(&app, &after).await, 200);
}

crate::both_engines!(
    a_login_from_a_foreign_site_gets_tokens_but_no_session_cookie,
    |engine| async move {
        let app = TestApp::spawn_with(engine, trust_spa).await;
        app.add_user("jan", "pw", "teacher").await;
        let login_from = |origin: &'static str| {
            app.client
                .post(app.url("/oauth/token"))
                .header("origin", origin)
                .form(&[
                    ("grant_type", "password"),
                    ("username", "jan"),
                    ("password", "pw"),
                    ("client_id", "web"),
                ])
                .send()
        };
        let foreign = login_from("http://evil.test").await.unwrap();
        assert_eq!(foreign.status(), 200);
        assert!(foreign.headers().get("set-cookie").is_none());
        let body: Value = foreign.json().await.unwrap();
        assert!(body["access_token"].is_string());
        // No cookie was planted: the browser has no session to get tokens from.
        assert_eq!(session_token(&app, Some(SPA)).await.status(), 401);

        let trusted = login_from(SPA).await.unwrap();
        assert!(trusted.headers().get("set-cookie").is_some());
        assert_eq!(session_token(&app, Some(SPA)).await.status(), 200);
    }
);
