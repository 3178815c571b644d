//! A node with `[web] tls_cert` and `tls_key` serves https and wss itself; half a TLS setup
//! or an unreadable file stops it at start-up with the key named.

use std::sync::Arc;

use boardcast::{config::Settings, startup::Application};
use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio::net::TcpStream;
use tokio_rustls::{
    rustls::{crypto::ring, pki_types::ServerName, ClientConfig, RootCertStore},
    TlsConnector,
};
use tokio_tungstenite::tungstenite::Message;

use crate::{
    helpers::{Engine, TestApp},
    test_ca::TestCa,
    ws_client::PATIENCE,
};

async fn spawn_tls(ca: &TestCa) -> TestApp {
    TestApp::spawn_with(Engine::Sqlite, |settings| {
        settings.web.tls_cert = Some(ca.cert_file());
        settings.web.tls_key = Some(ca.key_file());
    })
    .await
}

fn https_client(ca: &TestCa) -> reqwest::Client {
    reqwest::Client::builder()
        .use_rustls_tls()
        .tls_built_in_root_certs(false)
        .add_root_certificate(
            reqwest::Certificate::from_pem(&std::fs::read(ca.ca_file()).unwrap()).unwrap(),
        )
        .build()
        .unwrap()
}

#[tokio::test]
async fn healthz_is_served_over_https_to_a_client_trusting_the_ca() {
    let ca = TestCa::new();
    let app = spawn_tls(&ca).await;
    let url = format!("https://localhost:{}/healthz", app.address.port());
    let response = https_client(&ca).get(url).send().await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.text().await.unwrap(), "ok");
}

#[tokio::test]
async fn a_plain_http_client_gets_no_answer_from_a_tls_node() {
    let ca = TestCa::new();
    let app = spawn_tls(&ca).await;
    let answer = tokio::time::timeout(PATIENCE, app.client.get(app.url("/healthz")).send())
        .await
        .expect("the node neither answered nor closed");
    assert!(answer.is_err(), "{answer:?}");
}

#[tokio::test]
async fn a_board_socket_works_over_wss() {
    let ca = TestCa::new();
    let app = spawn_tls(&ca).await;
    let client = https_client(&ca);
    let registered: Value = client
        .post(format!(
            "https://localhost:{}/api/boards",
            app.address.port()
        ))
        .json(&json!({"name": "room 12"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();

    let mut roots = RootCertStore::empty();
    let ca_pem = std::fs::read(ca.ca_file()).unwrap();
    for cert in rustls_pemfile_certs(&ca_pem) {
        roots.add(cert).unwrap();
    }
    let config = ClientConfig::builder_with_provider(Arc::new(ring::default_provider()))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    let tcp = TcpStream::connect(app.address).await.unwrap();
    let tls = TlsConnector::from(Arc::new(config))
        .connect(ServerName::try_from("localhost").unwrap(), tcp)
        .await
        .unwrap();
    let url = format!("wss://localhost:{}/ws", app.address.port());
    let (mut socket, _) = tokio_tungstenite::client_async(url, tls).await.unwrap();
    let hello = json!({
        "type": "hello", "role": "board",
        "board_id": registered["board_id"], "board_secret": registered["board_secret"],
    });
    socket
        .send(Message::Text(hello.to_string().into()))
        .await
        .unwrap();
    let welcome = loop {
        let message = tokio::time::timeout(PATIENCE, socket.next())
            .await
            .expect("no welcome in time")
            .unwrap()
            .unwrap();
        if let Message::Text(text) = message {
            let frame: Value = serde_json::from_str(&text).unwrap();
            if frame["type"] == "welcome" {
                break frame;
            }
        }
    };
    assert_eq!(welcome["board_id"], registered["board_id"]);
}

fn rustls_pemfile_certs(
    pem: &[u8],
) -> Vec<tokio_rustls::rustls::pki_types::CertificateDer<'static>> {
    use tokio_rustls::rustls::pki_types::{pem::PemObject, CertificateDer};
    CertificateDer::pem_slice_iter(pem)
        .collect::<Result<_, _>>()
        .unwrap()
}

/// Why `Application::build` refused these settings.
async fn startup_error(customize: impl FnOnce(&mut Settings)) -> String {
    let mut settings = Settings::from_sources(None, Vec::new()).unwrap();
    settings.listen = "127.0.0.1:0".parse().unwrap();
    customize(&mut settings);
    Application::build(settings)
        .await
        .err()
        .expect("the node started")
        .to_string()
}

#[tokio::test]
async fn only_tls_cert_set_is_a_startup_error_naming_tls_key() {
    let ca = TestCa::new();
    let error = startup_error(|settings| settings.web.tls_cert = Some(ca.cert_file())).await;
    assert!(error.contains("tls_key is not"), "{error}");
}

#[tokio::test]
async fn an_unreadable_certificate_is_a_startup_error_naming_tls_cert() {
    let ca = TestCa::new();
    let error = startup_error(|settings| {
        settings.web.tls_cert = Some(ca.cert_file().with_extension("missing"));
        settings.web.tls_key = Some(ca.key_file());
    })
    .await;
    assert!(error.starts_with("[web] tls_cert"), "{error}");
}

#[tokio::test]
async fn a_key_that_is_not_pem_is_a_startup_error_naming_tls_key() {
    let ca = TestCa::new();
    let error = startup_error(|settings| {
        settings.web.tls_cert = Some(ca.cert_file());
        settings.web.tls_key = Some(ca.ca_file());
    })
    .await;
    assert!(error.starts_with("[web] tls_key"), "{error}");
}
