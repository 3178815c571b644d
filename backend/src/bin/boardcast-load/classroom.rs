//! Setting up the boards and controllers: logging in, registering and pairing each board,
//! and opening every socket (see `drive` for what is done with them).

use std::{net::SocketAddr, time::Duration, time::Instant};

use anyhow::{bail, Context};
use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio::{net::TcpStream, task::JoinSet};
use tokio_tungstenite::{
    tungstenite::{protocol::WebSocketConfig, Message},
    MaybeTlsStream, WebSocketStream,
};

use super::{http, Args, Placement};

/// Bytes read from a socket at a time.
const READ_BUFFER_BYTES: usize = 4 * 1024;

pub type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// One board's sockets: its own, and its controllers'.
pub struct Board {
    pub socket: Socket,
    pub controllers: Vec<Controller>,
}

/// A controller's socket, and whether it is on another node than its board's (so its
/// commands' events reach the board through the database's notification).
pub struct Controller {
    pub socket: Socket,
    pub crosses_nodes: bool,
}

/// Open sockets, ready to be driven.
pub struct Run {
    pub boards: Vec<Board>,
    pub setup: Duration,
}

impl Run {
    /// Logs in, registers and pairs every board, and opens every socket.
    pub async fn set_up(args: &Args) -> anyhow::Result<Self> {
        let started = Instant::now();
        let token = log_in(args).await?;
        let mut pending = JoinSet::new();
        let mut boards = Vec::with_capacity(args.boards);
        for index in 0..args.boards {
            if pending.len() >= args.concurrency {
                boards.push(next(&mut pending).await?);
            }
            let (nodes, token, controllers) = (args.nodes.clone(), token.clone(), args.controllers);
            let same_node = match args.placement {
                Placement::Across => false,
                Placement::Same => true,
                Placement::Both => index % 2 == 0,
            };
            pending.spawn(async move {
                open_board(&nodes, index, &token, controllers, same_node).await
            });
        }
        while !pending.is_empty() {
            boards.push(next(&mut pending).await?);
        }
        Ok(Self {
            boards,
            setup: started.elapsed(),
        })
    }

    pub fn sockets(&self) -> usize {
        self.boards.iter().map(|b| 1 + b.controllers.len()).sum()
    }
}

async fn next(pending: &mut JoinSet<anyhow::Result<Board>>) -> anyhow::Result<Board> {
    pending
        .join_next()
        .await
        .context("no board task")?
        .context("a board task panicked")?
}

async fn log_in(args: &Args) -> anyhow::Result<String> {
    let form = form_urlencoded::Serializer::new(String::new())
        .append_pair("grant_type", "password")
        .append_pair("username", &args.username)
        .append_pair("password", &args.password)
        .append_pair("client_id", "web")
        .finish();
    let (status, body) = http::post(
        args.nodes[0],
        "/oauth/token",
        "application/x-www-form-urlencoded",
        &form,
        None,
    )
    .await?;
    match body["access_token"].as_str() {
        Some(token) if status == 200 => Ok(token.to_string()),
        _ => bail!("login as {} failed: {status} {body}", args.username),
    }
}

/// Registers board `index`, pairs with the code its socket shows, opens its controllers: on
/// the board's node when `same_node`, otherwise on the nodes after it in turn.
async fn open_board(
    nodes: &[SocketAddr],
    index: usize,
    token: &str,
    controllers: usize,
    same_node: bool,
) -> anyhow::Result<Board> {
    let node = |offset: usize| nodes[(index + offset) % nodes.len()];
    let body = json!({ "name": format!("load {index}") }).to_string();
    let (status, board) =
        http::post(node(0), "/api/boards", "application/json", &body, None).await?;
    if status != 201 {
        bail!(
            "registering a board: {status} {board} (raise pairing.max_boards_per_address_per_hour)"
        );
    }
    let hello = json!({"type": "hello", "role": "board",
        "board_id": board["board_id"], "board_secret": board["board_secret"]});
    let mut socket = greet(node(0), &hello).await?;
    let code = loop {
        let frame = read_json(&mut socket).await?;
        if frame["type"] == "code" {
            break frame["code"].clone();
        }
    };
    let body = json!({ "code": code }).to_string();
    let (status, pairing) = http::post(
        node(1),
        "/api/pairings",
        "application/json",
        &body,
        Some(token),
    )
    .await?;
    if status != 201 {
        bail!("pairing: {status} {pairing}");
    }
    let mut sockets = Vec::with_capacity(controllers);
    for offset in 0..controllers {
        let hello = json!({"type": "hello", "role": "controller",
            "access_token": token, "pairing_id": pairing["pairing_id"]});
        let at = if same_node { node(0) } else { node(1 + offset) };
        sockets.push(Controller {
            socket: greet(at, &hello).await?,
            crosses_nodes: at != node(0),
        });
    }
    Ok(Board {
        socket,
        controllers: sockets,
    })
}

/// Opens a socket and waits for its `welcome`.
async fn greet(node: SocketAddr, hello: &Value) -> anyhow::Result<Socket> {
    // Small read buffers, as the node's: the default (128 KiB) is zeroed before every read,
    // and with thousands of sockets that alone would take the cores the nodes are measured on.
    let config = WebSocketConfig::default().read_buffer_size(READ_BUFFER_BYTES);
    // Without Nagle's algorithm, as browsers open their sockets: a command goes out at once.
    let disable_nagle = true;
    let (mut socket, _) = tokio_tungstenite::connect_async_with_config(
        format!("ws://{node}/ws"),
        Some(config),
        disable_nagle,
    )
    .await
    .with_context(|| format!("websocket to {node}"))?;
    socket.send(Message::Text(hello.to_string().into())).await?;
    loop {
        let frame = read_json(&mut socket).await?;
        if frame["type"] == "welcome" {
            return Ok(socket);
        }
    }
}

async fn read_json(socket: &mut Socket) -> anyhow::Result<Value> {
    loop {
        match tokio::time::timeout(Duration::from_secs(30), socket.next()).await {
            Err(_) => bail!("no frame within 30 s"),
            Ok(None) => bail!("socket ended"),
            Ok(Some(Err(error))) => bail!("socket failed: {error}"),
            Ok(Some(Ok(Message::Text(text)))) => return Ok(serde_json::from_str(&text)?),
            Ok(Some(Ok(Message::Close(frame)))) => bail!("socket closed: {frame:?}"),
            Ok(Some(Ok(_))) => {}
        }
    }
}
