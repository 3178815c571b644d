//! Setting up the boards and controllers, driving commands at them, and timing the answers.

use std::{
    borrow::Cow,
    collections::HashMap,
    net::SocketAddr,
    sync::{
        atomic::{AtomicU64, Ordering},
        Arc, Mutex,
    },
    time::{Duration, Instant},
};

use anyhow::{bail, Context};
use futures_util::{SinkExt, StreamExt};
use serde::Deserialize;
use serde_json::{json, Value};
use tokio::{
    net::TcpStream,
    sync::{mpsc, watch},
    task::JoinSet,
};
use tokio_tungstenite::{
    tungstenite::{protocol::WebSocketConfig, Message},
    MaybeTlsStream, WebSocketStream,
};

use super::{http, stats::Latencies, Args, Report};

/// Bytes read from a socket at a time.
const READ_BUFFER_BYTES: usize = 4 * 1024;

type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// When each command was sent, by id.
type SentAt = Arc<Mutex<HashMap<String, Instant>>>;

/// One board's sockets: its own, and its controllers' with their command queues.
struct Board {
    socket: Socket,
    controllers: Vec<Socket>,
}

/// Open sockets, ready to be driven.
pub struct Run {
    boards: Vec<Board>,
    setup: Duration,
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
            pending.spawn(async move { open_board(&nodes, index, &token, controllers).await });
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

    /// Sends `rate` commands per second for `length`, then waits for the stragglers.
    pub async fn drive(self, rate: f64, length: Duration) -> Report {
        let sockets = self.sockets();
        let sent_at: SentAt = Arc::default();
        let errors = Arc::new(AtomicU64::new(0));
        let (stop, stopped) = watch::channel(false);
        let mut readers = JoinSet::new();
        let mut queues = Vec::new();
        for board in self.boards {
            let mut board_queues = Vec::new();
            for controller in board.controllers {
                let (queue, commands) = mpsc::channel(64);
                board_queues.push(queue);
                let shared = (sent_at.clone(), errors.clone(), stopped.clone());
                readers.spawn(serve_socket(controller, Some(commands), shared));
            }
            let shared = (sent_at.clone(), errors.clone(), stopped.clone());
            readers.spawn(serve_socket(board.socket, None, shared));
            queues.push(board_queues);
        }
        let started = Instant::now();
        let commands_sent = if rate > 0.0 {
            send_commands(&queues, rate, length, &errors).await
        } else {
            tokio::time::sleep(length).await;
            0
        };
        let elapsed = started.elapsed();
        // Answers still on their way get a moment before the sockets close.
        tokio::time::sleep(Duration::from_secs(2)).await;
        let _ = stop.send(true);
        let (mut acks, mut events) = (Vec::new(), Vec::new());
        while let Some(Ok((socket_acks, socket_events))) = readers.join_next().await {
            acks.extend(socket_acks);
            events.extend(socket_events);
        }
        let seconds = elapsed.as_secs_f64();
        Report {
            sockets,
            setup_seconds: self.setup.as_secs_f64(),
            commands_sent,
            acks_per_second: acks.len() as f64 / seconds,
            events_per_second: events.len() as f64 / seconds,
            acks: Latencies::of(acks),
            fan_out: Latencies::of(events),
            errors: errors.load(Ordering::Relaxed),
        }
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

/// Registers board `index`, pairs with the code its socket shows, opens its controllers.
async fn open_board(
    nodes: &[SocketAddr],
    index: usize,
    token: &str,
    controllers: usize,
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
        sockets.push(greet(node(1 + offset), &hello).await?);
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

/// Spreads commands over the boards in turn, each from one of its controllers, at `rate`.
async fn send_commands(
    queues: &[Vec<mpsc::Sender<bool>>],
    rate: f64,
    length: Duration,
    errors: &AtomicU64,
) -> u64 {
    let started = Instant::now();
    let mut sent = 0u64;
    let mut ticks = tokio::time::interval(Duration::from_millis(1));
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    while started.elapsed() < length {
        ticks.tick().await;
        let due = (started.elapsed().as_secs_f64() * rate) as u64;
        while sent < due {
            let board = &queues[sent as usize % queues.len()];
            let controller = &board[(sent as usize / queues.len()) % board.len()];
            let blank = (sent / queues.len() as u64).is_multiple_of(2);
            if controller.try_send(blank).is_err() {
                errors.fetch_add(1, Ordering::Relaxed);
            }
            sent += 1;
        }
    }
    sent
}

/// What the generator reads of a frame from the node: its type and the command id it
/// answers. Read without building the whole JSON value, so measuring costs the shared cores
/// as little as possible.
#[derive(Deserialize)]
struct Answer<'a> {
    #[serde(rename = "type", borrow)]
    kind: Cow<'a, str>,
    #[serde(borrow)]
    id: Option<Cow<'a, str>>,
}

/// Reads one socket until told to stop: ack and event latencies. A controller also writes
/// the commands it is handed.
async fn serve_socket(
    mut socket: Socket,
    mut commands: Option<mpsc::Receiver<bool>>,
    (sent_at, errors, mut stop): (SentAt, Arc<AtomicU64>, watch::Receiver<bool>),
) -> (Vec<Duration>, Vec<Duration>) {
    let (mut acks, mut events) = (Vec::new(), Vec::new());
    loop {
        let queued = async {
            match commands.as_mut() {
                Some(commands) => commands.recv().await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            _ = stop.changed() => break,
            Some(blank) = queued => {
                let id = uuid::Uuid::new_v4().to_string();
                let frame = json!({"type": "command", "id": id,
                    "action": {"kind": "blank", "on": blank}});
                sent_at.lock().map(|mut sent| sent.insert(id, Instant::now())).ok();
                if socket.send(Message::Text(frame.to_string().into())).await.is_err() {
                    errors.fetch_add(1, Ordering::Relaxed);
                }
            }
            message = socket.next() => {
                let Some(Ok(Message::Text(text))) = message else {
                    if matches!(message, None | Some(Err(_)) | Some(Ok(Message::Close(_)))) {
                        errors.fetch_add(1, Ordering::Relaxed);
                        break;
                    }
                    continue;
                };
                let Ok(frame) = serde_json::from_str::<Answer>(&text) else { continue };
                let since_sent = || {
                    let sent = *sent_at.lock().ok()?.get(frame.id.as_deref()?)?;
                    Some(sent.elapsed())
                };
                match frame.kind.as_ref() {
                    "ack" => acks.extend(since_sent()),
                    "event" => events.extend(since_sent()),
                    "error" => { errors.fetch_add(1, Ordering::Relaxed); }
                    _ => {}
                }
            }
        }
    }
    (acks, events)
}
