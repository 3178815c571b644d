//! Guessing passwords at the token endpoint: failed logins are limited per username and per
//! client address, across nodes, and a proxy's `X-Forwarded-For` counts only when the proxy is
//! trusted.

use crate::helpers::{Engine, TestApp, TestDatabase};

#[tokio::test]
async fn failed_logins_are_limited_per_username_with_retry_after() {
    let app = TestApp::spawn_with(Engine::Sqlite, |s| s.auth.max_failures_per_user = 3).await;
    app.add_user("jan", "right", "teacher").await;
    for _ in 0..3 {
        assert_eq!(app.password_grant("jan", "wrong").await.status(), 400);
    }
    let response = app.password_grant("jan", "right").await;
    assert_eq!(response.status(), 429);
    let retry_after: u64 = response.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(retry_after > 0 && retry_after <= 15 * 60);
}

#[tokio::test]
async fn failed_logins_are_limited_per_address_across_nodes() {
    let database = TestDatabase::new(Engine::Postgres).await;
    let limit = |s: &mut boardcast::config::Settings| s.auth.max_failures_per_address = 4;
    let a = TestApp::spawn_on(&database.url, limit).await;
    let b = TestApp::spawn_on(&database.url, limit).await;
    for i in 0..2 {
        assert_eq!(
            a.password_grant(&format!("user{i}"), "guess")
                .await
                .status(),
            400
        );
        assert_eq!(
            b.password_grant(&format!("other{i}"), "guess")
                .await
                .status(),
            400
        );
    }
    assert_eq!(a.password_grant("someone", "guess").await.status(), 429);
    assert_eq!(b.password_grant("someone", "guess").await.status(), 429);
}

async fn grant_from(app: &TestApp, forwarded_for: &str) -> u16 {
    app.client
        .post(app.url("/oauth/token"))
        .header("x-forwarded-for", forwarded_for)
        .form(&[
            ("grant_type", "password"),
            ("username", "x"),
            ("password", "guess"),
            ("client_id", "web"),
        ])
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

#[tokio::test]
async fn behind_a_trusted_proxy_each_client_address_has_its_own_budget() {
    let app = TestApp::spawn_with(Engine::Sqlite, |s| {
        s.auth.max_failures_per_address = 2;
        s.auth.max_failures_per_user = 100;
        s.web.trusted_proxies = vec!["127.0.0.1".parse().unwrap()];
    })
    .await;
    assert_eq!(grant_from(&app, "10.0.0.1").await, 400);
    assert_eq!(grant_from(&app, "203.0.113.9, 10.0.0.1").await, 400);
    assert_eq!(grant_from(&app, "10.0.0.1").await, 429);
    assert_eq!(grant_from(&app, "10.0.0.2").await, 400);
}

#[tokio::test]
async fn forwarded_for_from_an_untrusted_peer_is_ignored() {
    let app = TestApp::spawn_with(Engine::Sqlite, |s| {
        s.auth.max_failures_per_address = 2;
        s.auth.max_failures_per_user = 100;
    })
    .await;
    assert_eq!(grant_from(&app, "10.0.0.1").await, 400);
    assert_eq!(grant_from(&app, "10.0.0.2").await, 400);
    assert_eq!(
        grant_from(&app, "10.0.0.3").await,
        429,
        "a spoofed header must not buy new guesses"
    );
}
