//! Logins through a node whose directory speaks TLS: `ldaps://` and StartTLS against a slapd
//! with a certificate from a test CA. A login that works without the CA trusted, or with
//! StartTLS off against a server that refuses clear binds, would mean an unchecked or
//! unencrypted connection carried a teacher's password.

use serde_json::Value;

use crate::{
    helpers::{Engine, TestApp},
    slapd::{Slapd, SlapdTls},
    test_ca::TestCa,
};

/// A node using `url` on `slapd`, trusting `ca` for the directory if given.
async fn node_with(slapd: &Slapd, url: String, starttls: bool, ca: Option<&TestCa>) -> TestApp {
    let mut ldap = slapd.settings();
    ldap.urls = vec![url];
    ldap.starttls = starttls;
    ldap.tls_ca_file = ca.map(TestCa::ca_file);
    TestApp::spawn_with(Engine::Sqlite, |s| s.ldap = Some(ldap)).await
}

async fn assert_logs_in(app: &TestApp) {
    let token = app.login("anna", "anna-pw").await;
    assert!(token["access_token"].is_string(), "{token}");
}

async fn assert_directory_unavailable(app: &TestApp) {
    let response = app.password_grant("anna", "anna-pw").await;
    assert_eq!(response.status(), 503);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"], "temporarily_unavailable", "{body}");
}

#[tokio::test]
async fn ldaps_login_works_only_with_the_school_ca_trusted() {
    let ca = TestCa::new();
    let slapd = Slapd::start_tls(SlapdTls {
        ca: &ca,
        require_tls: true,
    })
    .await;
    let trusting = node_with(&slapd, slapd.ldaps_url(), false, Some(&ca)).await;
    assert_logs_in(&trusting).await;
    let untrusting = node_with(&slapd, slapd.ldaps_url(), false, None).await;
    assert_directory_unavailable(&untrusting).await;
}

#[tokio::test]
async fn the_top_level_ca_file_is_trusted_for_the_directory_too() {
    let ca = TestCa::new();
    let slapd = Slapd::start_tls(SlapdTls {
        ca: &ca,
        require_tls: true,
    })
    .await;
    let mut ldap = slapd.settings();
    ldap.urls = vec![slapd.ldaps_url()];
    let app = TestApp::spawn_with(Engine::Sqlite, |s| {
        s.ldap = Some(ldap);
        s.tls_ca_file = Some(ca.ca_file());
    })
    .await;
    assert_logs_in(&app).await;
}

#[tokio::test]
async fn starttls_is_used_on_ldap_urls_when_set() {
    let ca = TestCa::new();
    // This server refuses any bind on a connection without TLS.
    let slapd = Slapd::start_tls(SlapdTls {
        ca: &ca,
        require_tls: true,
    })
    .await;
    let upgrading = node_with(&slapd, slapd.url(), true, Some(&ca)).await;
    assert_logs_in(&upgrading).await;
    let in_clear = node_with(&slapd, slapd.url(), false, Some(&ca)).await;
    let response = in_clear.password_grant("anna", "anna-pw").await;
    assert!(response.status().is_server_error(), "{}", response.status());
    // StartTLS to a certificate the node does not trust fails as an unreachable directory.
    let untrusting = node_with(&slapd, slapd.url(), true, None).await;
    assert_directory_unavailable(&untrusting).await;
}

#[tokio::test]
async fn a_server_without_starttls_is_not_used_in_clear() {
    // Plain slapd: no certificate, so StartTLS is refused; a bind in clear would work.
    let slapd = Slapd::start().await;
    let app = node_with(&slapd, slapd.url(), true, None).await;
    assert_directory_unavailable(&app).await;
}

#[tokio::test]
async fn starttls_is_ignored_for_ldaps_urls() {
    let ca = TestCa::new();
    let slapd = Slapd::start_tls(SlapdTls {
        ca: &ca,
        require_tls: true,
    })
    .await;
    let app = node_with(&slapd, slapd.ldaps_url(), true, Some(&ca)).await;
    assert_logs_in(&app).await;
}
