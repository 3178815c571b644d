//! A refresh asks the directory again: a teacher removed from it, or from the teacher group,
//! loses access at the next refresh; while the directory is down, `auth.directory_grace`
//! keeps logins going from the stored identity.

use std::time::Duration;

use boardcast::directory::{Identity, Roles};
use serde_json::Value;

use crate::{
    both_engines,
    helpers::{Engine, TestApp},
    slapd::Slapd,
};

const JAN_DN: &str = "uid=jdevries,ou=people,dc=school,dc=example";

async fn ldap_node(slapd: &Slapd, grace: Duration) -> TestApp {
    let mut ldap = slapd.settings();
    ldap.role_cache = Duration::ZERO;
    TestApp::spawn_with(Engine::Sqlite, |s| {
        s.ldap = Some(ldap);
        s.auth.directory_grace = grace;
    })
    .await
}

fn refresh_token(tokens: &Value) -> String {
    tokens["refresh_token"].as_str().unwrap().to_string()
}

async fn error_code(response: reqwest::Response) -> (u16, String) {
    let status = response.status().as_u16();
    let body: Value = response.json().await.unwrap();
    (
        status,
        body["error"].as_str().unwrap_or_default().to_string(),
    )
}

#[tokio::test]
async fn a_teacher_deleted_from_the_directory_cannot_refresh() {
    let slapd = Slapd::start().await;
    let app = ldap_node(&slapd, Duration::from_secs(3600)).await;
    let tokens = app.login("jdevries", "jan-pw").await;
    slapd.delete_entry(JAN_DN).await;
    let refused = app.refresh(&refresh_token(&tokens)).await;
    assert_eq!(error_code(refused).await, (400, "invalid_grant".into()));
    // The login is revoked: its access token stops working too.
    let access = tokens["access_token"].as_str().unwrap();
    assert_eq!(app.me(access).await.status(), 401);
}

#[tokio::test]
async fn leaving_the_teacher_group_ends_the_login_and_losing_admin_downgrades_it() {
    let slapd = Slapd::start().await;
    let app = ldap_node(&slapd, Duration::from_secs(3600)).await;
    let jan = app.login("jdevries", "jan-pw").await;
    let anna = app.login("anna", "anna-pw").await;
    slapd
        .remove_member("cn=teachers,ou=groups,dc=school,dc=example", JAN_DN)
        .await;
    slapd
        .remove_member(
            "cn=admins,ou=groups,dc=school,dc=example",
            "uid=anna,ou=people,dc=school,dc=example",
        )
        .await;
    let refused = app.refresh(&refresh_token(&jan)).await;
    assert_eq!(error_code(refused).await, (400, "invalid_grant".into()));
    let refreshed = app.refresh(&refresh_token(&anna)).await;
    assert_eq!(refreshed.status(), 200);
    let refreshed: Value = refreshed.json().await.unwrap();
    let me: Value = app
        .me(refreshed["access_token"].as_str().unwrap())
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(me["roles"], serde_json::json!(["teacher"]));
}

#[tokio::test]
async fn with_the_directory_down_refresh_goes_on_within_the_grace() {
    let mut slapd = Slapd::start().await;
    let app = ldap_node(&slapd, Duration::from_secs(3600)).await;
    let tokens = app.login("jdevries", "jan-pw").await;
    slapd.stop();
    let refreshed = app.refresh(&refresh_token(&tokens)).await;
    assert_eq!(refreshed.status(), 200);
}

#[tokio::test]
async fn past_the_grace_a_refresh_waits_for_the_directory_without_spending_the_token() {
    let mut slapd = Slapd::start().await;
    let app = ldap_node(&slapd, Duration::ZERO).await;
    let tokens = app.login("jdevries", "jan-pw").await;
    slapd.stop();
    let refresh = refresh_token(&tokens);
    let refused = app.refresh(&refresh).await;
    assert_eq!(
        error_code(refused).await,
        (503, "temporarily_unavailable".into())
    );
    slapd.restart().await;
    assert_eq!(app.refresh(&refresh).await.status(), 200);
}

both_engines!(
    a_builtin_account_that_lost_its_role_cannot_refresh,
    |engine| async move {
        let app = TestApp::spawn(engine).await;
        app.add_user("jan", "pw", "teacher").await;
        let tokens = app.login("jan", "pw").await;
        let demoted = Identity {
            username: "jan".into(),
            display_name: "jan display".into(),
            roles: Roles::default(),
        };
        app.store.upsert_directory_user(&demoted, 0).await.unwrap();
        let refused = app.refresh(&refresh_token(&tokens)).await;
        assert_eq!(error_code(refused).await, (400, "invalid_grant".into()));
    }
);
