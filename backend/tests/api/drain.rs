//! A rolling restart as a load balancer and clients see it: on SIGTERM a node takes no new
//! connections, closes its sockets with 1012 so their clients move to another node, finishes
//! the requests in flight and exits 0, within `shutdown_drain` whatever its clients do.

use std::time::{Duration, Instant};

use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::TcpStream,
};

use crate::{
    helpers::{Engine, TestApp, TestDatabase},
    media_helpers::png,
    node_process::NodeProcess,
    ws_client::{board_socket, controller_socket, pair_with_code, register_board, teacher, Socket},
};

/// Time for a node's goodbyes and exit beyond what the test itself waits for.
const EXIT_WITHIN: Duration = Duration::from_secs(5);

#[tokio::test]
async fn sigterm_closes_every_socket_with_1012_and_clients_resume_on_another_node() {
    let database = TestDatabase::new(Engine::Postgres).await;
    // A long drain: sockets must close at once, not when the drain ends.
    let mut draining = NodeProcess::start_with(
        "node-a",
        &database.url,
        &[("BOARDCAST_SHUTDOWN_DRAIN", "60s")],
    )
    .await;
    let other = TestApp::spawn_on(&database.url, |_| {}).await;
    let board = register_board(&other, "Room 12").await;
    let (mut board_on_a, _) = board_socket(draining.address, &board, None).await;
    let code = board_on_a.next_of("code").await;
    let token = teacher(&other, "jdevries").await;
    let pairing = pair_with_code(&other, &token, code["code"].as_str().unwrap()).await;
    let (mut controller_on_a, _) =
        controller_socket(draining.address, &token, &pairing, None).await;
    // Connected, still to say hello: it must not be left open either.
    let mut greeting = Socket::connect(draining.address).await;

    let started = Instant::now();
    draining.terminate();

    assert_eq!(controller_on_a.closed().await, 1012);
    assert_eq!(board_on_a.closed().await, 1012);
    assert_eq!(greeting.closed().await, 1012);
    assert!(started.elapsed() < EXIT_WITHIN, "{:?}", started.elapsed());
    let (_, board_welcome) = board_socket(other.address, &board, Some(0)).await;
    assert_eq!(board_welcome["type"], "welcome");
    let (_, controller_welcome) = controller_socket(other.address, &token, &pairing, None).await;
    assert_eq!(controller_welcome["type"], "welcome");
    assert!(draining.exited(EXIT_WITHIN).await.success());
}

#[tokio::test]
async fn an_upload_in_flight_at_sigterm_completes_while_new_connections_are_refused() {
    let database = TestDatabase::new(Engine::Postgres).await;
    let mut draining = NodeProcess::start_with("node-a", &database.url, &[]).await;
    let other = TestApp::spawn_on(&database.url, |_| {}).await;
    let token = teacher(&other, "ann").await;
    let bytes = png(64 * 1024, 3);
    let mut upload = HeldRequest::start(
        draining.address,
        &format!(
            "POST /api/uploads?filename=slide.png HTTP/1.1\r\nhost: node-a\r\n\
             authorization: Bearer {token}\r\nconnection: close\r\ncontent-type: image/png\r\n\
             content-length: {}\r\n",
            bytes.len()
        ),
    )
    .await;
    let (first, rest) = bytes.split_at(bytes.len() / 2);
    upload.send(first).await;

    draining.terminate();

    refused_within(draining.address, EXIT_WITHIN).await;
    upload.send(rest).await;
    let (status, body) = upload.response().await;
    assert_eq!(status, 201, "{body}");
    assert!(draining.exited(EXIT_WITHIN).await.success());
}

#[tokio::test]
async fn a_stuck_request_cannot_keep_a_node_past_shutdown_drain() {
    let database = TestDatabase::new(Engine::Sqlite).await;
    let drain = Duration::from_secs(1);
    let mut draining = NodeProcess::start_with(
        "node-a",
        &database.url,
        &[("BOARDCAST_SHUTDOWN_DRAIN", "1s")],
    )
    .await;
    // Half a body, and then nothing: well within `body_timeout`, so only the drain ends it.
    let mut stuck = HeldRequest::start(
        draining.address,
        "POST /oauth/token HTTP/1.1\r\nhost: node-a\r\n\
         content-type: application/x-www-form-urlencoded\r\ncontent-length: 100\r\n",
    )
    .await;
    stuck.send(b"grant_type=password").await;

    let started = Instant::now();
    draining.terminate();

    let status = draining.exited(drain + EXIT_WITHIN).await;
    assert!(status.success(), "{status}");
    let took = started.elapsed();
    assert!(took >= drain, "stopped before the drain ended: {took:?}");
    assert!(
        took < drain + Duration::from_millis(1500),
        "stopped {took:?} after SIGTERM"
    );
}

/// A request whose body the test sends when it chooses. It asks for `100 Continue`, which the
/// node sends only once the handler reads the body: from then on the request is in flight.
struct HeldRequest {
    stream: TcpStream,
}

impl HeldRequest {
    /// Sends `head` (request line and headers, without the blank line) and waits for the
    /// node's `100 Continue`.
    async fn start(address: std::net::SocketAddr, head: &str) -> Self {
        let mut stream = TcpStream::connect(address).await.unwrap();
        stream
            .write_all(format!("{head}expect: 100-continue\r\n\r\n").as_bytes())
            .await
            .unwrap();
        let mut interim = Vec::new();
        while !interim.ends_with(b"\r\n\r\n") {
            let mut byte = [0; 1];
            let read = tokio::time::timeout(EXIT_WITHIN, stream.read(&mut byte))
                .await
                .expect("no 100 Continue in time")
                .unwrap();
            assert_eq!(read, 1, "the node hung up before 100 Continue");
            interim.push(byte[0]);
        }
        let interim = String::from_utf8(interim).unwrap();
        assert!(interim.starts_with("HTTP/1.1 100"), "{interim}");
        Self { stream }
    }

    async fn send(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).await.unwrap();
    }

    /// The status line, headers and body of the answer, which ends the connection.
    async fn response(mut self) -> (u16, String) {
        let mut answer = Vec::new();
        tokio::time::timeout(EXIT_WITHIN, self.stream.read_to_end(&mut answer))
            .await
            .expect("no answer in time")
            .unwrap();
        let answer = String::from_utf8(answer).unwrap();
        let status = answer
            .split(' ')
            .nth(1)
            .and_then(|status| status.parse().ok())
            .unwrap_or_else(|| panic!("not an HTTP answer: {answer:?}"));
        (status, answer)
    }
}

/// Connects to `address` until it refuses, failing after `within`.
async fn refused_within(address: std::net::SocketAddr, within: Duration) {
    let deadline = Instant::now() + within;
    loop {
        match TcpStream::connect(address).await {
            Err(error) if error.kind() == std::io::ErrorKind::ConnectionRefused => return,
            // Caught in the handshake as the listener closed: the next try is refused.
            Err(error) if error.kind() == std::io::ErrorKind::ConnectionReset => {}
            Err(error) => panic!("connecting failed otherwise: {error}"),
            Ok(_) => assert!(
                Instant::now() < deadline,
                "{address} still takes connections"
            ),
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}
