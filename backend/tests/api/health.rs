//! Liveness, readiness and shutdown as a load balancer and an operator see them.

use crate::helpers::{Engine, TestApp};

#[tokio::test]
async fn healthz_and_readyz_answer_when_the_database_does() {
    let app = TestApp::spawn(Engine::Sqlite).await;
    let health = app.client.get(app.url("/healthz")).send().await.unwrap();
    assert_eq!(health.status(), 200);
    let ready = app.client.get(app.url("/readyz")).send().await.unwrap();
    assert_eq!(ready.status(), 200);
    assert!(ready.headers().contains_key("x-request-id"));
}

#[tokio::test]
async fn unknown_api_paths_get_a_json_404() {
    let app = TestApp::spawn(Engine::Sqlite).await;
    let response = app
        .client
        .get(app.url("/api/nothing-here"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 404);
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["error"], "not_found");
}

#[tokio::test]
async fn a_stopped_node_finishes_cleanly_and_stops_listening() {
    let app = TestApp::spawn(Engine::Sqlite).await;
    let address = app.address;
    app.stop().await;
    assert!(tokio::net::TcpStream::connect(address).await.is_err());
}

#[tokio::test]
async fn metrics_count_requests_and_login_outcomes() {
    let app = TestApp::spawn(Engine::Sqlite).await;
    app.add_user("jan", "pw", "teacher").await;
    app.password_grant("jan", "wrong").await;
    app.login("jan", "pw").await;
    let response = app.client.get(app.url("/metrics")).send().await.unwrap();
    assert_eq!(response.status(), 200);
    let text = response.text().await.unwrap();
    assert!(
        text.contains(r#"boardcast_logins_total{outcome="success"} 1"#),
        "{text}"
    );
    assert!(
        text.contains(r#"boardcast_logins_total{outcome="invalid_credentials"} 1"#),
        "{text}"
    );
    assert!(
        text.contains(
            r#"boardcast_http_requests_total{method="POST",route="/oauth/token",status="200"} 1"#
        ),
        "{text}"
    );
    assert!(
        text.contains("boardcast_directory_duration_seconds_count 2"),
        "{text}"
    );
    assert!(
        text.contains("boardcast_directory_breaker_state 0"),
        "{text}"
    );
}

#[tokio::test]
async fn allowed_origins_get_cors_headers_and_others_do_not() {
    let app = TestApp::spawn_with(Engine::Sqlite, |s| {
        s.web.allowed_origins = vec!["http://spa.test".into()]
    })
    .await;
    let preflight = |origin: &'static str| {
        app.client
            .request(reqwest::Method::OPTIONS, app.url("/api/me"))
            .header("origin", origin)
            .header("access-control-request-method", "GET")
            .header("access-control-request-headers", "authorization")
            .send()
    };
    let allowed = preflight("http://spa.test").await.unwrap();
    assert_eq!(
        allowed.headers()["access-control-allow-origin"],
        "http://spa.test"
    );
    assert_eq!(
        allowed.headers()["access-control-allow-credentials"],
        "true"
    );
    let other = preflight("http://evil.test").await.unwrap();
    assert!(!other.headers().contains_key("access-control-allow-origin"));
}

#[tokio::test]
async fn oversized_bodies_are_refused_with_413_and_the_node_stays_up() {
    let app = TestApp::spawn(Engine::Sqlite).await;
    let huge = format!(
        "grant_type=password&client_id=web&username=a&password={}",
        "x".repeat(200_000)
    );
    let response = app
        .client
        .post(app.url("/oauth/token"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(huge)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 413);
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["error"], "invalid_request");
    assert_eq!(
        app.client
            .get(app.url("/healthz"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
}

#[tokio::test]
async fn nodes_starting_together_on_one_fresh_database_all_come_up() {
    let database = crate::helpers::TestDatabase::new(Engine::Postgres).await;
    let (a, b, c) = tokio::join!(
        TestApp::spawn_on(&database.url, |_| {}),
        TestApp::spawn_on(&database.url, |_| {}),
        TestApp::spawn_on(&database.url, |_| {}),
    );
    for node in [&a, &b, &c] {
        let ready = node.client.get(node.url("/readyz")).send().await.unwrap();
        assert_eq!(ready.status(), 200);
    }
    a.add_user("jan", "pw", "teacher").await;
    let token = c.login("jan", "pw").await["access_token"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(b.me(&token).await.status(), 200);
}

#[tokio::test]
async fn a_stuck_client_cannot_hold_shutdown_past_the_drain_deadline() {
    use tokio::io::AsyncWriteExt;

    let app = TestApp::spawn_with(Engine::Sqlite, |s| {
        s.shutdown_drain = std::time::Duration::from_millis(300)
    })
    .await;
    let mut stuck = tokio::net::TcpStream::connect(app.address).await.unwrap();
    stuck
        .write_all(b"POST /oauth/token HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\npart")
        .await
        .unwrap();
    let started = std::time::Instant::now();
    tokio::time::timeout(std::time::Duration::from_secs(5), app.stop())
        .await
        .expect("the node did not stop");
    assert!(
        started.elapsed() < std::time::Duration::from_secs(2),
        "took {:?}",
        started.elapsed()
    );
    drop(stuck);
}

#[tokio::test]
async fn invented_methods_share_one_metrics_label() {
    let app = TestApp::spawn(Engine::Sqlite).await;
    for invented in ["FROBNICATE", "SCAN1", "SCAN2"] {
        let method = reqwest::Method::from_bytes(invented.as_bytes()).unwrap();
        let response = app
            .client
            .request(method, app.url("/api/me"))
            .send()
            .await
            .unwrap();
        assert!(response.status().is_client_error(), "{invented}");
    }
    let text = app
        .client
        .get(app.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        !text.contains("FROBNICATE") && !text.contains("SCAN"),
        "{text}"
    );
    assert!(
        text.contains(r#"boardcast_http_requests_total{method="other",route="/api/me""#),
        "{text}"
    );
}

#[tokio::test]
async fn metrics_move_to_metrics_listen_when_it_is_set() {
    let app = TestApp::spawn_with(Engine::Sqlite, |settings| {
        settings.metrics_listen = Some("127.0.0.1:0".parse().unwrap());
    })
    .await;
    let metrics_address = app.metrics_address.unwrap();
    let metrics = app
        .client
        .get(format!("http://{metrics_address}/metrics"))
        .send()
        .await
        .unwrap();
    assert_eq!(metrics.status(), 200);
    assert!(metrics.text().await.unwrap().contains("boardcast_"));
    let public = app.client.get(app.url("/metrics")).send().await.unwrap();
    assert_eq!(public.status(), 404);
}
