//! Beyond `max_connections`, or beyond `max_connections_per_address` from one address, a
//! client hears 503 `overloaded` at once instead of waiting; once others leave it is served.

use std::{net::IpAddr, time::Duration};

use tokio::{io::AsyncWriteExt, net::TcpStream};

use crate::{
    connections::read_until_closed,
    helpers::{Engine, TestApp},
};

/// A refusal comes at once: well before any deadline of the node.
const AT_ONCE: Duration = Duration::from_secs(2);

async fn open(app: &TestApp, count: usize) -> Vec<TcpStream> {
    let mut held = Vec::new();
    for _ in 0..count {
        held.push(TcpStream::connect(app.address).await.unwrap());
    }
    held
}

/// Ends a held connection the way the node sees it end, and waits until it has.
async fn release(mut connection: TcpStream) {
    connection
        .write_all(b"GET /healthz HTTP/1.1\r\nhost: localhost\r\nconnection: close\r\n\r\n")
        .await
        .unwrap();
    read_until_closed(&mut connection).await;
}

async fn get_healthz(app: &TestApp, from: IpAddr) -> reqwest::Response {
    let client = reqwest::Client::builder()
        .local_address(from)
        .build()
        .unwrap();
    tokio::time::timeout(AT_ONCE, client.get(app.url("/healthz")).send())
        .await
        .expect("no answer at once")
        .unwrap()
}

async fn assert_overloaded(response: reqwest::Response) {
    assert_eq!(response.status(), 503);
    assert_eq!(response.headers()["connection"], "close");
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["error"], "overloaded");
}

#[tokio::test]
async fn connections_beyond_max_connections_get_503_until_some_close() {
    let app = TestApp::spawn_with(Engine::Sqlite, |settings| {
        settings.limits.max_connections = 20;
    })
    .await;
    let local = IpAddr::from([127, 0, 0, 1]);
    let mut held = open(&app, 20).await;

    assert_overloaded(get_healthz(&app, local).await).await;
    // The cap is on the node, not on one address.
    assert_overloaded(get_healthz(&app, IpAddr::from([127, 0, 0, 2])).await).await;

    release(held.pop().unwrap()).await;
    assert_eq!(get_healthz(&app, local).await.status(), 200);
}

#[tokio::test]
async fn one_address_beyond_its_cap_gets_503_while_others_are_served() {
    let app = TestApp::spawn_with(Engine::Sqlite, |settings| {
        settings.limits.max_connections_per_address = 5;
    })
    .await;
    let local = IpAddr::from([127, 0, 0, 1]);
    let mut held = open(&app, 5).await;

    assert_overloaded(get_healthz(&app, local).await).await;
    assert_eq!(
        get_healthz(&app, IpAddr::from([127, 0, 0, 2]))
            .await
            .status(),
        200
    );

    release(held.pop().unwrap()).await;
    assert_eq!(get_healthz(&app, local).await.status(), 200);
}

#[tokio::test]
async fn a_flood_beyond_the_cap_is_closed_unanswered_once_256_refusals_wait() {
    let app = TestApp::spawn_with(Engine::Sqlite, |settings| {
        settings.limits.max_connections = 1;
    })
    .await;
    let _held = open(&app, 1).await;
    // Refused, each waiting for a request head that does not come.
    let mut waiting = open(&app, 256).await;

    let mut flooding = TcpStream::connect(app.address).await.unwrap();
    let flood_answer = tokio::time::timeout(AT_ONCE, read_until_closed(&mut flooding))
        .await
        .expect("a connection beyond the refusals was not closed at once");
    assert!(flood_answer.is_empty());

    let mut first = waiting.swap_remove(0);
    first
        .write_all(b"GET /healthz HTTP/1.1\r\nhost: localhost\r\n\r\n")
        .await
        .unwrap();
    let answer = read_until_closed(&mut first).await;
    assert!(answer.starts_with(b"HTTP/1.1 503"));
}
