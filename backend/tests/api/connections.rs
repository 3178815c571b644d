//! Connections that cannot pin a node: idle, slow-header and keep-alive connections are closed
//! after their deadlines, and a flood of them does not keep others from being served.

use std::time::{Duration, Instant};

use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::TcpStream,
};

use crate::{
    helpers::{Engine, TestApp},
    ws_client::PATIENCE,
};

/// Reads until the node closes the connection; what it sent before closing.
pub async fn read_until_closed(stream: &mut TcpStream) -> Vec<u8> {
    let mut received = Vec::new();
    let mut buffer = [0_u8; 4096];
    loop {
        let read = tokio::time::timeout(PATIENCE, stream.read(&mut buffer))
            .await
            .expect("the node did not close the connection in time");
        match read {
            Ok(0) | Err(_) => return received,
            Ok(n) => received.extend_from_slice(&buffer[..n]),
        }
    }
}

#[tokio::test]
async fn thousands_of_idle_connections_neither_slow_healthz_nor_stay_open() {
    // Both ends of every connection live in this process.
    rlimit::increase_nofile_limit(u64::MAX).unwrap();
    let idle_timeout = Duration::from_secs(2);
    let app = TestApp::spawn_with(Engine::Sqlite, |settings| {
        settings.limits.idle_timeout = idle_timeout;
        settings.limits.max_connections_per_address = 5_000;
    })
    .await;
    let mut idle = Vec::new();
    for _ in 0..2_000 {
        idle.push(TcpStream::connect(app.address).await.unwrap());
    }

    let asked = Instant::now();
    let health = app.client.get(app.url("/healthz")).send().await.unwrap();
    let answered_within = asked.elapsed();
    assert_eq!(health.status(), 200);
    assert!(
        answered_within < Duration::from_millis(100),
        "/healthz took {answered_within:?}"
    );

    for connection in &mut idle {
        assert!(read_until_closed(connection).await.is_empty());
    }
    assert!(asked.elapsed() >= idle_timeout - Duration::from_millis(500));
}

#[tokio::test]
async fn a_request_whose_headers_never_finish_is_closed_after_the_header_timeout() {
    let header_timeout = Duration::from_secs(1);
    let app = TestApp::spawn_with(Engine::Sqlite, |settings| {
        settings.limits.header_timeout = header_timeout;
        settings.limits.idle_timeout = Duration::from_secs(600);
    })
    .await;
    let connected = Instant::now();
    let mut stream = TcpStream::connect(app.address).await.unwrap();
    stream
        .write_all(b"GET /healthz HTTP/1.1\r\nhost: localhost\r\n")
        .await
        .unwrap();
    // A byte now and then, never the blank line that ends the head.
    let (mut reader, mut writer) = stream.split();
    let trickle = async {
        loop {
            tokio::time::sleep(Duration::from_millis(100)).await;
            if writer.write_all(b"x").await.is_err() {
                std::future::pending::<()>().await;
            }
        }
    };
    let closed = async {
        let mut buffer = [0_u8; 1024];
        loop {
            match reader.read(&mut buffer).await {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
        }
    };
    tokio::time::timeout(PATIENCE, async {
        tokio::select! {
            () = closed => {}
            () = trickle => {}
        }
    })
    .await
    .expect("a connection trickling its headers was never closed");
    assert!(connected.elapsed() >= header_timeout);
}

#[tokio::test]
async fn an_idle_keep_alive_connection_is_closed_after_the_idle_timeout() {
    let idle_timeout = Duration::from_secs(1);
    let app = TestApp::spawn_with(Engine::Sqlite, |settings| {
        settings.limits.idle_timeout = idle_timeout;
        settings.limits.header_timeout = Duration::from_secs(600);
    })
    .await;
    let mut stream = TcpStream::connect(app.address).await.unwrap();
    stream
        .write_all(b"GET /healthz HTTP/1.1\r\nhost: localhost\r\n\r\n")
        .await
        .unwrap();
    let answered = Instant::now();
    let received = read_until_closed(&mut stream).await;
    let received = String::from_utf8_lossy(&received);
    assert!(received.starts_with("HTTP/1.1 200"), "{received}");
    assert!(received.ends_with("ok"), "{received}");
    assert!(answered.elapsed() >= idle_timeout - Duration::from_millis(100));
}

#[tokio::test]
async fn a_request_body_that_stalls_is_abandoned_after_the_body_timeout() {
    let body_timeout = Duration::from_secs(1);
    let app = TestApp::spawn_with(Engine::Sqlite, |settings| {
        settings.limits.body_timeout = body_timeout;
    })
    .await;
    let mut stream = TcpStream::connect(app.address).await.unwrap();
    stream
        .write_all(
            b"POST /api/boards HTTP/1.1\r\nhost: localhost\r\ncontent-type: application/json\r\n\
              content-length: 100\r\n\r\n{\"name\":",
        )
        .await
        .unwrap();
    let sent = Instant::now();
    let received = read_until_closed(&mut stream).await;
    let received = String::from_utf8_lossy(&received);
    assert!(received.starts_with("HTTP/1.1 400"), "{received}");
    assert!(
        received.contains(r#""error":"invalid_request""#),
        "{received}"
    );
    assert!(sent.elapsed() >= body_timeout);
}
