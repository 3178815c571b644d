//! A websocket client for tests, and the steps most realtime tests share: a registered board,
//! a paired teacher, their sockets.

use std::{collections::VecDeque, net::SocketAddr, time::Duration};

use futures_util::{SinkExt, StreamExt};
use reqwest::StatusCode;
use serde_json::{json, Value};
use tokio::net::TcpStream;
use tokio_tungstenite::{
    tungstenite::{protocol::frame::coding::CloseCode, Message},
    MaybeTlsStream, WebSocketStream,
};

use crate::helpers::TestApp;

/// How long a test waits for a frame that should come.
pub const PATIENCE: Duration = Duration::from_secs(15);

pub struct Socket {
    stream: WebSocketStream<MaybeTlsStream<TcpStream>>,
    /// Event frames read while waiting for another kind, in arrival order.
    held: VecDeque<Value>,
}

impl Socket {
    pub async fn connect(address: SocketAddr) -> Self {
        let (stream, _) = tokio_tungstenite::connect_async(format!("ws://{address}/ws"))
            .await
            .unwrap();
        Self {
            stream,
            held: VecDeque::new(),
        }
    }

    pub async fn send(&mut self, frame: Value) {
        self.send_text(&frame.to_string()).await;
    }

    pub async fn send_text(&mut self, text: &str) {
        self.stream
            .send(Message::Text(text.to_string().into()))
            .await
            .unwrap();
    }

    pub async fn send_binary(&mut self, bytes: Vec<u8>) {
        self.stream
            .send(Message::Binary(bytes.into()))
            .await
            .unwrap();
    }

    /// The next JSON frame (held events first); panics on close or silence.
    pub async fn next(&mut self) -> Value {
        if let Some(held) = self.held.pop_front() {
            return held;
        }
        self.read().await
    }

    /// The next JSON frame, or `None` once the socket is closed or broken (the node died).
    pub async fn try_next(&mut self) -> Option<Value> {
        if let Some(held) = self.held.pop_front() {
            return Some(held);
        }
        loop {
            let message = tokio::time::timeout(PATIENCE, self.stream.next())
                .await
                .expect("no frame in time");
            match message {
                Some(Ok(Message::Text(text))) => return Some(serde_json::from_str(&text).unwrap()),
                Some(Ok(Message::Close(_))) | Some(Err(_)) | None => return None,
                Some(Ok(_)) => {}
            }
        }
    }

    async fn read(&mut self) -> Value {
        loop {
            let message = tokio::time::timeout(PATIENCE, self.stream.next())
                .await
                .expect("no frame in time")
                .expect("socket ended")
                .expect("socket failed");
            match message {
                Message::Text(text) => return serde_json::from_str(&text).unwrap(),
                Message::Close(frame) => panic!("socket closed: {frame:?}"),
                _ => {}
            }
        }
    }

    /// The next frame of type `kind`. Events before it are held for later reads; presence,
    /// pointer, paired, code and shown frames are skipped; anything else fails the test.
    pub async fn next_of(&mut self, kind: &str) -> Value {
        if let Some(at) = self.held.iter().position(|frame| frame["type"] == kind) {
            return self.held.remove(at).unwrap();
        }
        loop {
            let frame = self.read().await;
            if frame["type"] == kind {
                return frame;
            }
            if frame["type"] == "event" {
                self.held.push_back(frame);
                continue;
            }
            assert!(
                matches!(
                    frame["type"].as_str(),
                    Some("presence" | "pointer" | "paired" | "code" | "shown")
                ),
                "expected a {kind} frame, got {frame}"
            );
        }
    }

    /// Sends a command with a new id and waits for its `ack`; the acknowledged offset.
    pub async fn acked(&mut self, action: Value) -> i64 {
        self.send(command(&new_id(), action)).await;
        self.next_of("ack").await["offset"].as_i64().unwrap()
    }

    /// Waits for the node to close the socket; its close code.
    pub async fn closed(&mut self) -> u16 {
        loop {
            let message = tokio::time::timeout(PATIENCE, self.stream.next())
                .await
                .expect("not closed in time");
            match message {
                Some(Ok(Message::Close(Some(frame)))) => return u16::from(frame.code),
                Some(Ok(Message::Close(None))) => return u16::from(CloseCode::Status),
                Some(Ok(_)) => {}
                None | Some(Err(_)) => panic!("socket ended without a close frame"),
            }
        }
    }

    /// Closes the socket from this side (1000); the code of the close frame the node answered
    /// with, or `None` when it dropped the connection without one.
    pub async fn close(mut self) -> Option<u16> {
        self.stream.close(None).await.unwrap();
        loop {
            let message = tokio::time::timeout(PATIENCE, self.stream.next())
                .await
                .expect("no answer to the close in time");
            match message {
                Some(Ok(Message::Close(frame))) => {
                    return Some(frame.map_or(u16::from(CloseCode::Status), |f| f.code.into()))
                }
                Some(Ok(_)) => {}
                None | Some(Err(_)) => return None,
            }
        }
    }

    /// Sends a ping frame and waits for the pong, skipping anything before it.
    pub async fn round_trip(&mut self) {
        self.send(json!({"type": "ping"})).await;
        loop {
            if self.next().await["type"] == "pong" {
                return;
            }
        }
    }
}

/// A registered board's credentials.
#[derive(Clone)]
pub struct Board {
    pub id: String,
    pub secret: String,
}

impl Board {
    /// The `Authorization` header value of the board's HTTP calls.
    pub fn authorization(&self) -> String {
        format!("Board {}:{}", self.id, self.secret)
    }
}

pub async fn register_board(app: &TestApp, name: &str) -> Board {
    let response = app
        .client
        .post(app.url("/api/boards"))
        .json(&json!({ "name": name }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::CREATED);
    let body: Value = response.json().await.unwrap();
    Board {
        id: body["board_id"].as_str().unwrap().to_string(),
        secret: body["board_secret"].as_str().unwrap().to_string(),
    }
}

/// A board socket after its `welcome`.
pub async fn board_socket(
    address: SocketAddr,
    board: &Board,
    offset: Option<i64>,
) -> (Socket, Value) {
    let mut socket = Socket::connect(address).await;
    let mut hello = json!({
        "type": "hello", "role": "board", "board_id": board.id, "board_secret": board.secret,
    });
    if let Some(offset) = offset {
        hello["offset"] = json!(offset);
    }
    socket.send(hello).await;
    let welcome = socket.next_of("welcome").await;
    (socket, welcome)
}

/// A controller socket after its `welcome`.
pub async fn controller_socket(
    address: SocketAddr,
    token: &str,
    pairing_id: &str,
    offset: Option<i64>,
) -> (Socket, Value) {
    let mut socket = Socket::connect(address).await;
    let mut hello = json!({
        "type": "hello", "role": "controller", "access_token": token, "pairing_id": pairing_id,
    });
    if let Some(offset) = offset {
        hello["offset"] = json!(offset);
    }
    socket.send(hello).await;
    let welcome = socket.next_of("welcome").await;
    (socket, welcome)
}

/// A teacher account's access token.
pub async fn teacher(app: &TestApp, username: &str) -> String {
    app.add_user(username, "pw", "teacher").await;
    app.login(username, "pw").await["access_token"]
        .as_str()
        .unwrap()
        .to_string()
}

/// Pairs the teacher with the board through the code its socket shows; the pairing id.
pub async fn pair_with_code(app: &TestApp, token: &str, code: &str) -> String {
    let response = app
        .client
        .post(app.url("/api/pairings"))
        .bearer_auth(token)
        .json(&json!({ "code": code }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::CREATED);
    let body: Value = response.json().await.unwrap();
    body["pairing_id"].as_str().unwrap().to_string()
}

/// A command frame.
pub fn command(id: &str, action: Value) -> Value {
    json!({ "type": "command", "id": id, "action": action })
}

pub fn new_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// A board on its socket, waiting with a code, and a teacher paired with it on `app`.
pub struct Classroom {
    pub board: Board,
    pub board_socket: Socket,
    pub token: String,
    pub pairing_id: String,
}

impl Classroom {
    pub async fn open(app: &TestApp, teacher_name: &str) -> Self {
        let board = register_board(app, "Room 12").await;
        let (mut board_socket, welcome) = board_socket(app.address, &board, None).await;
        assert_eq!(welcome["offset"], 0);
        let code = board_socket.next_of("code").await;
        let token = teacher(app, teacher_name).await;
        let pairing_id = pair_with_code(app, &token, code["code"].as_str().unwrap()).await;
        Self {
            board,
            board_socket,
            token,
            pairing_id,
        }
    }

    pub async fn controller(&self, address: SocketAddr) -> (Socket, Value) {
        controller_socket(address, &self.token, &self.pairing_id, None).await
    }
}
