//! Logins through a node configured with the LDAP directory.

use std::time::{Duration, Instant};

use serde_json::Value;

use crate::{
    helpers::{Engine, TestApp},
    slapd::Slapd,
};

async fn node_with(slapd: &Slapd, timeout: Duration) -> TestApp {
    let mut ldap = slapd.settings();
    ldap.timeout = timeout;
    TestApp::spawn_with(Engine::Sqlite, |s| s.ldap = Some(ldap)).await
}

#[tokio::test]
async fn ldap_teacher_gets_tokens_and_me_shows_directory_data() {
    let slapd = Slapd::start().await;
    let app = node_with(&slapd, Duration::from_secs(1)).await;
    let token = app.login("anna", "anna-pw").await["access_token"]
        .as_str()
        .unwrap()
        .to_string();
    let me: Value = app.me(&token).await.json().await.unwrap();
    assert_eq!(me["username"], "anna");
    assert_eq!(me["display_name"], "Anna Jansen");
    assert_eq!(me["roles"], serde_json::json!(["teacher", "admin"]));
    // The same person logging in again keeps the same id.
    let again = app.login("anna", "anna-pw").await["access_token"]
        .as_str()
        .unwrap()
        .to_string();
    let me_again: Value = app.me(&again).await.json().await.unwrap();
    assert_eq!(me["id"], me_again["id"]);
}

#[tokio::test]
async fn ldap_user_outside_both_groups_is_refused() {
    let slapd = Slapd::start().await;
    let app = node_with(&slapd, Duration::from_secs(1)).await;
    let response = app.password_grant("outsider", "outsider-pw").await;
    assert_eq!(response.status(), 400);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"], "invalid_grant");
}

#[tokio::test]
async fn metacharacter_usernames_and_empty_passwords_are_refused() {
    let slapd = Slapd::start().await;
    let app = node_with(&slapd, Duration::from_secs(1)).await;
    for (username, password) in [("*", "jan-pw"), (")(uid=*", "jan-pw"), ("jdevries", "")] {
        let response = app.password_grant(username, password).await;
        assert_eq!(response.status(), 400, "{username}");
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["error"], "invalid_grant", "{username}");
    }
}

#[tokio::test]
async fn directory_down_gives_a_fast_503_and_issued_tokens_keep_working() {
    let mut slapd = Slapd::start().await;
    let app = node_with(&slapd, Duration::from_millis(500)).await;
    let token = app.login("jdevries", "jan-pw").await["access_token"]
        .as_str()
        .unwrap()
        .to_string();
    slapd.stop();
    let started = Instant::now();
    let response = app.password_grant("jdevries", "jan-pw").await;
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "took {:?}",
        started.elapsed()
    );
    assert_eq!(response.status(), 503);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"], "temporarily_unavailable");
    assert_eq!(app.me(&token).await.status(), 200);
}

#[tokio::test]
async fn hung_directory_costs_logins_at_most_the_timeout_and_other_requests_nothing() {
    let slapd = Slapd::start().await;
    let timeout = Duration::from_millis(400);
    let app = node_with(&slapd, timeout).await;
    let token = app.login("jdevries", "jan-pw").await["access_token"]
        .as_str()
        .unwrap()
        .to_string();
    slapd.pause();
    // Logins hanging on the directory in the background...
    let logins: Vec<_> = (0..4)
        .map(|_| {
            let client = app.client.clone();
            let url = app.url("/oauth/token");
            tokio::spawn(async move {
                let started = Instant::now();
                let form = [
                    ("grant_type", "password"),
                    ("username", "jdevries"),
                    ("password", "jan-pw"),
                    ("client_id", "web"),
                ];
                let status = client.post(url).form(&form).send().await.unwrap().status();
                (status, started.elapsed())
            })
        })
        .collect();
    // ...while other requests stay fast.
    for _ in 0..5 {
        let started = Instant::now();
        assert_eq!(app.me(&token).await.status(), 200);
        assert!(
            started.elapsed() < Duration::from_millis(200),
            "took {:?}",
            started.elapsed()
        );
    }
    for login in logins {
        let (status, elapsed) = login.await.unwrap();
        assert_eq!(status, 503);
        assert!(elapsed < timeout * 2, "a login took {elapsed:?}");
    }
    // The breaker is open now: the next login is refused at once.
    let started = Instant::now();
    assert_eq!(app.password_grant("jdevries", "jan-pw").await.status(), 503);
    assert!(
        started.elapsed() < Duration::from_millis(100),
        "took {:?}",
        started.elapsed()
    );
    let metrics = app
        .client
        .get(app.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains("boardcast_directory_breaker_state 2"),
        "{metrics}"
    );
}

#[tokio::test]
async fn changed_roles_and_another_spelling_keep_one_account() {
    let slapd = Slapd::start().await;
    let mut ldap = slapd.settings();
    ldap.role_cache = Duration::ZERO;
    let app = TestApp::spawn_with(Engine::Sqlite, |s| s.ldap = Some(ldap)).await;
    let me_after_login = |username: &'static str| {
        let app = &app;
        async move {
            let token = app.login(username, "anna-pw").await["access_token"]
                .as_str()
                .unwrap()
                .to_string();
            app.me(&token).await.json::<Value>().await.unwrap()
        }
    };
    let first = me_after_login("anna").await;
    assert_eq!(first["roles"], serde_json::json!(["teacher", "admin"]));
    slapd
        .remove_member(
            "cn=admins,ou=groups,dc=school,dc=example",
            "uid=anna,ou=people,dc=school,dc=example",
        )
        .await;
    // Typed in capitals: the account is found under the directory's spelling.
    let demoted = me_after_login("ANNA").await;
    assert_eq!(demoted["username"], "anna");
    assert_eq!(demoted["roles"], serde_json::json!(["teacher"]));
    assert_eq!(demoted["id"], first["id"]);
}
