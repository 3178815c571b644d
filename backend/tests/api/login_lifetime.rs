//! `limits.login_lifetime`: a login ends that long after the password was checked, however
//! often it refreshes, and no token or session cookie outlives it.

use std::time::{Duration, Instant};

use serde_json::Value;

use crate::{both_engines, helpers::TestApp};

const LIFETIME: Duration = Duration::from_secs(3);
const SPA: &str = "http://spa.school.test";

fn short_logins(settings: &mut boardcast::config::Settings) {
    settings.limits.login_lifetime = LIFETIME;
    settings.web.allowed_origins = vec![SPA.to_string()];
}

both_engines!(
    refreshing_never_extends_a_login_past_its_lifetime,
    |engine| async move {
        let app = TestApp::spawn_with(engine, short_logins).await;
        app.add_user("jan", "pw", "teacher").await;
        let started = Instant::now();
        let mut tokens = app.login("jan", "pw").await;
        assert!(tokens["expires_in"].as_u64().unwrap() <= LIFETIME.as_secs());
        let ended = loop {
            tokio::time::sleep(Duration::from_millis(400)).await;
            let refresh = tokens["refresh_token"].as_str().unwrap().to_string();
            let response = app.refresh(&refresh).await;
            if response.status() != 200 {
                let body: Value = response.json().await.unwrap();
                assert_eq!(body["error"], "invalid_grant", "{body}");
                break started.elapsed();
            }
            tokens = response.json().await.unwrap();
            assert!(
                tokens["expires_in"].as_u64().unwrap() <= LIFETIME.as_secs(),
                "{tokens}"
            );
            assert!(
                started.elapsed() < LIFETIME + Duration::from_secs(1),
                "refresh still works after the login's lifetime"
            );
        };
        assert!(ended >= LIFETIME - Duration::from_millis(500), "{ended:?}");
        let last_access = tokens["access_token"].as_str().unwrap();
        assert_eq!(app.me(last_access).await.status(), 401);
        let session = app
            .client
            .post(app.url("/api/session/token"))
            .header("origin", SPA)
            .send()
            .await
            .unwrap();
        assert_eq!(session.status(), 401);
    }
);

#[tokio::test]
async fn the_session_cookie_ends_with_the_login() {
    let app = TestApp::spawn_with(crate::helpers::Engine::Sqlite, short_logins).await;
    app.add_user("jan", "pw", "teacher").await;
    let response = app.password_grant("jan", "pw").await;
    let cookie = response.headers()["set-cookie"].to_str().unwrap();
    let max_age: u64 = cookie
        .split(';')
        .find_map(|part| part.trim().strip_prefix("Max-Age="))
        .unwrap()
        .parse()
        .unwrap();
    assert!(max_age <= LIFETIME.as_secs(), "{cookie}");
}
