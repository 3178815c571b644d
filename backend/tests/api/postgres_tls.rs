//! Nodes on a PostgreSQL server that accepts TLS connections only: with `sslmode=verify-full`
//! and the school's CA as `sslrootcert` in `database_url` every connection, the realtime
//! listener's included, is encrypted and checked; a URL that does not ask for TLS, or that
//! cannot verify the server, stops the node at start instead of serving.

use boardcast::{
    config::{DatabaseUrl, Secret, Settings},
    startup::Application,
};
use serde_json::json;

use crate::{
    helpers::TestApp,
    postgres::{database_on, start_tls},
    test_ca::TestCa,
    ws_client::{command, new_id, Classroom},
};

#[tokio::test]
async fn nodes_on_verified_tls_serve_logins_and_commands() {
    let ca = TestCa::new();
    let server = start_tls(&ca.cert_file(), &ca.key_file());
    let url = format!(
        "{}?sslmode=verify-full&sslrootcert={}",
        database_on(&server).await,
        ca.ca_file().display()
    );
    let a = TestApp::spawn_on(&url, |_| {}).await;
    let b = TestApp::spawn_on(&url, |_| {}).await;
    // The board listens on node A; the command arrives on node B and reaches A by LISTEN.
    let mut room = Classroom::open(&a, "jdevries").await;
    let (mut controller, _) = room.controller(b.address).await;
    controller
        .send(command(&new_id(), json!({"kind": "blank", "on": true})))
        .await;
    assert_eq!(controller.next_of("ack").await["offset"], 1);
    assert_eq!(room.board_socket.next_of("event").await["offset"], 1);
}

/// The error a node on `url` stops with at start.
async fn start_error(url: &str) -> String {
    let data_dir = tempfile::tempdir().unwrap();
    let mut settings = Settings::from_sources(None, Vec::new()).unwrap();
    settings.listen = "127.0.0.1:0".parse().unwrap();
    settings.data_dir = data_dir.path().to_path_buf();
    settings.database_url = Some(DatabaseUrl::new(url));
    settings.cluster_secret = Secret::new("tls-test-secret");
    match Application::build(settings).await {
        Ok(_) => panic!("the node started on {url}"),
        Err(error) => format!("{error:#}"),
    }
}

#[tokio::test]
async fn a_url_without_tls_or_without_the_ca_stops_the_node() {
    let ca = TestCa::new();
    let server = start_tls(&ca.cert_file(), &ca.key_file());
    let plain = database_on(&server).await;
    let refused = start_error(&format!("{plain}?sslmode=disable")).await;
    assert!(refused.contains("no encryption"), "{refused}");
    // The system roots do not include the school's CA.
    let unverified = start_error(&format!("{plain}?sslmode=verify-full")).await;
    assert!(
        unverified.to_lowercase().contains("certificate"),
        "{unverified}"
    );
}
