//! The browser app end to end: headless Chromium drives the board, the controller and the
//! editor served by two real nodes on PostgreSQL with the school's LDAP. The scenario lives
//! in `frontend/e2e/` (playwright-core); this test starts the servers it needs, hands it
//! their addresses and process ids (it kills one with `kill -9`), and fails if it fails.

use std::path::{Path, PathBuf};

use serde_json::json;

use crate::{
    helpers::{Engine, TestDatabase},
    node_process::{describe_for_browser, NodeProcess},
    slapd::Slapd,
};

fn frontend() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../frontend")
}

/// A node that logs teachers in against `slapd`.
async fn node(node_id: &str, database_url: &str, slapd: &Slapd) -> NodeProcess {
    let urls = format!("[\"{}\"]", slapd.url());
    let ldap = slapd.settings();
    NodeProcess::start_with(
        node_id,
        database_url,
        &[
            ("BOARDCAST_LDAP__URLS", urls.as_str()),
            ("BOARDCAST_LDAP__BIND_DN", ldap.bind_dn.as_str()),
            ("BOARDCAST_LDAP__BIND_PASSWORD", "reader-secret"),
            ("BOARDCAST_LDAP__USER_BASE", ldap.user_base.as_str()),
            ("BOARDCAST_LDAP__TEACHER_GROUP", ldap.teacher_group.as_str()),
            ("BOARDCAST_LDAP__ADMIN_GROUP", ldap.admin_group.as_str()),
            ("BOARDCAST_LDAP__TIMEOUT", "2s"),
        ],
    )
    .await
}

#[tokio::test]
async fn teachers_steer_a_board_in_a_real_browser_through_a_node_dying() {
    assert!(
        Path::new("/usr/bin/chromium").exists(),
        "the browser tests need Chromium: apt-get install chromium"
    );
    let slapd = Slapd::start().await;
    let database = TestDatabase::new(Engine::Postgres).await;
    let a = node("node-a", &database.url, &slapd).await;
    let b = node("node-b", &database.url, &slapd).await;
    let scratch = tempfile::tempdir().unwrap();
    let cluster = describe_for_browser(
        scratch.path(),
        &[("node-a", &a), ("node-b", &b)],
        json!({
            "teacher": {"username": "jdevries", "password": "jan-pw", "display_name": "Jânneke de Vries"},
            "colleague": {"username": "anna", "password": "anna-pw"},
        }),
    );

    let status = tokio::process::Command::new("npm")
        .args(["run", "--silent", "e2e"])
        .current_dir(frontend())
        .env("BOARDCAST_E2E_CLUSTER", &cluster)
        .kill_on_drop(true)
        .status()
        .await
        .expect("npm is needed for the browser tests: apt-get install nodejs npm");
    assert!(
        status.success(),
        "the browser scenario failed (see its output above)"
    );
}
