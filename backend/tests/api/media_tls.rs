//! Blobs fetched from a peer whose `public_url` is `https://`, behind a TLS proxy with a
//! certificate from the school's CA: a node trusting that CA (`tls_ca_file`) serves the
//! blob at once; a node without it cannot fetch it. And two nodes that serve https
//! themselves (`[web] tls_cert`) fetch from each other.

use boardcast::config::Settings;

use crate::{
    helpers::{Engine, TestApp, TestDatabase},
    media_helpers::{on_node, png, upload_png},
    postgres::free_port,
    test_ca::TestCa,
    tls_proxy::TlsProxy,
    ws_client::teacher,
};

#[tokio::test]
async fn a_peer_behind_https_is_fetched_from_only_with_the_school_ca_trusted() {
    let ca = TestCa::new();
    let database = TestDatabase::new(Engine::Postgres).await;
    let proxy = TlsProxy::bind(&ca).await;
    let public_url = proxy.https_url();
    let origin = TestApp::spawn_on(&database.url, |s| s.public_url = public_url).await;
    proxy.forward_to(origin.address);
    let token = teacher(&origin, "ann").await;
    let bytes = png(200_000, 7);
    let created = upload_png(&origin, &token, bytes.clone()).await;
    let url = created["url"].as_str().unwrap();

    let untrusting = TestApp::spawn_on(&database.url, |_| {}).await;
    let refused = reqwest::get(on_node(url, &untrusting)).await.unwrap();
    assert_ne!(
        refused.status(),
        200,
        "fetched over an unverified connection"
    );

    let ca_file = ca.ca_file();
    let trusting = TestApp::spawn_on(&database.url, |s| s.tls_ca_file = Some(ca_file)).await;
    let served = reqwest::get(on_node(url, &trusting)).await.unwrap();
    assert_eq!(served.status(), 200);
    assert_eq!(served.bytes().await.unwrap(), bytes);
}

#[tokio::test]
async fn two_nodes_serving_https_fetch_blobs_from_each_other() {
    let ca = TestCa::new();
    let database = TestDatabase::new(Engine::Postgres).await;
    let https = |settings: &mut Settings| {
        let port = free_port();
        settings.listen = ([127, 0, 0, 1], port).into();
        settings.public_url = format!("https://127.0.0.1:{port}");
        settings.web.tls_cert = Some(ca.cert_file());
        settings.web.tls_key = Some(ca.key_file());
        settings.tls_ca_file = Some(ca.ca_file());
    };
    let first = TestApp::spawn_on(&database.url, https).await;
    let second = TestApp::spawn_on(&database.url, https).await;
    assert!(first.url("/").starts_with("https://"));

    for (origin, other, seed) in [(&first, &second, 1), (&second, &first, 2)] {
        let token = teacher(origin, &format!("teacher{seed}")).await;
        let bytes = png(150_000, seed);
        let created = upload_png(origin, &token, bytes.clone()).await;
        let url = created["url"].as_str().unwrap();
        let served = other.client.get(on_node(url, other)).send().await.unwrap();
        assert_eq!(served.status(), 200);
        assert_eq!(served.bytes().await.unwrap(), bytes);
    }
}
