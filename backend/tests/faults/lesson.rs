//! A scripted lesson across a cluster, played by clients that behave like the browser app:
//! each board and each controller keeps one socket; when a node goes away they reconnect to
//! the next node with their last offset, and a controller sends an unacknowledged command
//! again with the same id. What they saw is kept for the checks: every acknowledgement, every
//! event each board received, and how long each reconnect took.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use futures_util::{SinkExt, StreamExt};
use rand::{rngs::StdRng, Rng, SeedableRng};
use serde_json::{json, Value};
use tokio::{net::TcpStream, sync::watch};
use tokio_tungstenite::{tungstenite::Message, MaybeTlsStream, WebSocketStream};

type Stream = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// Slides of the lesson every board shows.
pub const SLIDES: i64 = 10;
/// How long a client waits for a frame before it gives the node up.
const SILENCE: Duration = Duration::from_secs(10);
/// How long a client waits before its next connection attempt.
const RETRY: Duration = Duration::from_millis(200);

/// What the clients of one lesson observed.
#[derive(Default)]
pub struct Observed {
    /// Per board: (command id, acknowledged offset), in the order acknowledged.
    pub acks: HashMap<String, Vec<(String, i64)>>,
    /// Per board: (offset, command id) of every event its board socket received, welcome
    /// events included.
    pub seen: HashMap<String, Vec<(i64, String)>>,
    /// Per board: the state its socket ended with.
    pub final_state: HashMap<String, Value>,
    /// From losing a socket to the next `welcome`, over all clients.
    pub reconnects: Vec<Duration>,
    /// Commands refused with a final error (none are expected).
    pub refused: Vec<Value>,
}

pub type Shared = Arc<Mutex<Observed>>;

/// A lesson under way: every seat's board and controller playing on the cluster.
pub struct Running {
    pub observed: Shared,
    stop: watch::Sender<bool>,
    boards: Vec<tokio::task::JoinHandle<()>>,
    controllers: Vec<tokio::task::JoinHandle<()>>,
}

impl Running {
    /// Starts `commands` commands per board, one every `pace`; board `n` is on node `n` and
    /// its controller on the next one.
    pub fn start(school: &crate::school::School, commands: usize, pace: Duration) -> Self {
        let nodes = socket_urls(&school.nodes);
        let observed = Shared::default();
        let (stop, stopped) = watch::channel(false);
        let mut boards = Vec::new();
        let mut controllers = Vec::new();
        for (n, seat) in school.seats.iter().enumerate() {
            let shared = Arc::clone(&observed);
            boards.push(tokio::spawn(board(
                nodes.clone(),
                n,
                seat.clone(),
                shared,
                stopped.clone(),
            )));
            controllers.push(tokio::spawn(controller(
                nodes.clone(),
                n + 1,
                seat.clone(),
                school.token.clone(),
                school.lesson_id.clone(),
                commands,
                pace,
                n as u64,
                Arc::clone(&observed),
            )));
        }
        Self {
            observed,
            stop,
            boards,
            controllers,
        }
    }

    /// Acknowledgements so far, over all boards.
    pub fn acknowledged(&self) -> usize {
        self.observed
            .lock()
            .unwrap()
            .acks
            .values()
            .map(Vec::len)
            .sum()
    }

    /// Waits for every controller's last command, then for every board to show it; what
    /// the clients saw.
    pub async fn finish(self) -> Observed {
        for played in self.controllers {
            played.await.unwrap();
        }
        let converged = Instant::now() + Duration::from_secs(30);
        while !all_boards_caught_up(&self.observed) {
            assert!(
                Instant::now() < converged,
                "boards did not catch up with the log"
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        self.stop.send(true).unwrap();
        for shown in self.boards {
            shown.await.unwrap();
        }
        std::mem::take(&mut *self.observed.lock().unwrap())
    }
}

/// Whether every board has received up to its last acknowledged offset.
fn all_boards_caught_up(observed: &Shared) -> bool {
    let observed = observed.lock().unwrap();
    observed.acks.iter().all(|(board, acks)| {
        let head = acks.iter().map(|(_, offset)| *offset).max().unwrap_or(0);
        let seen = observed
            .seen
            .get(board)
            .and_then(|seen| seen.last())
            .map_or(0, |(offset, _)| *offset);
        seen >= head
    })
}

/// One board's place in the lesson.
#[derive(Clone)]
pub struct Seat {
    pub board_id: String,
    pub board_secret: String,
    pub pairing_id: String,
}

/// The websocket URLs of the nodes, from `public_url`s.
pub fn socket_urls(nodes: &[String]) -> Vec<String> {
    nodes
        .iter()
        .map(|url| format!("{}/ws", url.replacen("http", "ws", 1)))
        .collect()
}

/// Connects to the first node that answers, starting at `first`, and says hello; the stream,
/// the index of the node and the welcome.
async fn join(nodes: &[String], first: usize, hello: &Value) -> (Stream, usize, Value) {
    let mut index = first;
    loop {
        let url = &nodes[index % nodes.len()];
        if let Ok(Ok((mut stream, _))) =
            tokio::time::timeout(SILENCE, tokio_tungstenite::connect_async(url)).await
        {
            if stream.send(Message::text(hello.to_string())).await.is_ok() {
                if let Some(welcome) = next_of(&mut stream, "welcome").await {
                    return (stream, index % nodes.len(), welcome);
                }
            }
        }
        index += 1;
        tokio::time::sleep(RETRY).await;
    }
}

/// The next frame of `kind`, or `None` when the socket ends or stays silent.
async fn next_of(stream: &mut Stream, kind: &str) -> Option<Value> {
    loop {
        let frame = next_frame(stream).await?;
        if frame["type"] == kind {
            return Some(frame);
        }
    }
}

async fn next_frame(stream: &mut Stream) -> Option<Value> {
    loop {
        match tokio::time::timeout(SILENCE, stream.next()).await {
            Ok(Some(Ok(Message::Text(text)))) => return serde_json::from_str(&text).ok(),
            Ok(Some(Ok(Message::Close(_)))) | Ok(None) | Ok(Some(Err(_))) | Err(_) => return None,
            Ok(Some(Ok(_))) => {}
        }
    }
}

/// A board until `stop`: applies what it receives, reconnecting with its offset.
async fn board(
    nodes: Vec<String>,
    first: usize,
    seat: Seat,
    observed: Shared,
    mut stop: watch::Receiver<bool>,
) {
    let mut offset = 0;
    let mut state = Value::Null;
    let mut lost_at: Option<Instant> = None;
    let mut index = first;
    while !*stop.borrow() {
        let hello = json!({"type": "hello", "role": "board", "board_id": seat.board_id,
            "board_secret": seat.board_secret, "offset": offset});
        let (mut stream, joined, welcome) = join(&nodes, index, &hello).await;
        index = joined;
        record_reconnect(&observed, lost_at.take());
        if welcome["reset"] == true {
            panic!("board {} lost its history: {welcome}", seat.board_id);
        }
        state = welcome["state"].clone();
        for event in welcome["events"].as_array().into_iter().flatten() {
            offset = receive(&observed, &seat.board_id, offset, event);
        }
        loop {
            let frame = tokio::select! {
                frame = next_frame(&mut stream) => frame,
                _ = stop.changed() => break,
            };
            let Some(frame) = frame else { break };
            if frame["type"] == "event" {
                offset = receive(&observed, &seat.board_id, offset, &frame);
                state = apply(&state, &frame["action"]);
            }
        }
        lost_at = Some(Instant::now());
        index += 1;
    }
    let mut observed = observed.lock().unwrap();
    observed.final_state.insert(seat.board_id.clone(), state);
}

/// Keeps an event a board received; its new offset.
fn receive(observed: &Shared, board: &str, offset: i64, event: &Value) -> i64 {
    let at = event["offset"].as_i64().unwrap();
    let id = event["id"].as_str().unwrap().to_string();
    observed
        .lock()
        .unwrap()
        .seen
        .entry(board.to_string())
        .or_default()
        .push((at, id));
    at.max(offset)
}

fn record_reconnect(observed: &Shared, lost_at: Option<Instant>) {
    if let Some(lost_at) = lost_at {
        observed.lock().unwrap().reconnects.push(lost_at.elapsed());
    }
}

/// A controller playing `commands` actions, one every `pace`, each until acknowledged.
#[allow(clippy::too_many_arguments)]
async fn controller(
    nodes: Vec<String>,
    first: usize,
    seat: Seat,
    token: String,
    lesson_id: String,
    commands: usize,
    pace: Duration,
    seed: u64,
    observed: Shared,
) {
    let mut rng = StdRng::seed_from_u64(seed);
    let hello = json!({"type": "hello", "role": "controller", "access_token": token,
        "pairing_id": seat.pairing_id});
    let (mut stream, mut index, _) = join(&nodes, first, &hello).await;
    for n in 0..commands {
        let action = if n == 0 {
            json!({"kind": "open_lesson", "lesson_id": lesson_id, "slide": 0})
        } else {
            script_step(&mut rng)
        };
        let id = uuid::Uuid::new_v4().to_string();
        let frame = json!({"type": "command", "id": id, "action": action}).to_string();
        loop {
            let answer = match stream.send(Message::text(frame.clone())).await {
                Ok(()) => answer_to(&mut stream, &id).await,
                Err(_) => None,
            };
            match answer {
                Some(ack) if ack["type"] == "ack" => {
                    let offset = ack["offset"].as_i64().unwrap();
                    let mut observed = observed.lock().unwrap();
                    let acks = observed.acks.entry(seat.board_id.clone()).or_default();
                    acks.push((id.clone(), offset));
                    break;
                }
                Some(error)
                    if matches!(
                        error["error"].as_str(),
                        Some("unavailable" | "internal_error")
                    ) =>
                {
                    tokio::time::sleep(RETRY).await;
                }
                Some(error) => {
                    observed.lock().unwrap().refused.push(error);
                    break;
                }
                None => {
                    let lost_at = Instant::now();
                    let (again, joined, _) = join(&nodes, index + 1, &hello).await;
                    (stream, index) = (again, joined);
                    record_reconnect(&observed, Some(lost_at));
                }
            }
        }
        tokio::time::sleep(pace).await;
    }
}

/// The `ack` or `error` answering command `id`; `None` when the socket is lost.
async fn answer_to(stream: &mut Stream, id: &str) -> Option<Value> {
    loop {
        let frame = next_frame(stream).await?;
        if matches!(frame["type"].as_str(), Some("ack" | "error")) && frame["id"] == id {
            return Some(frame);
        }
    }
}

fn script_step(rng: &mut StdRng) -> Value {
    match rng.gen_range(0..4) {
        0 => json!({"kind": "goto", "slide": rng.gen_range(0..SLIDES)}),
        1 => json!({"kind": "next"}),
        2 => json!({"kind": "prev"}),
        _ => json!({"kind": "blank", "on": rng.gen_bool(0.5)}),
    }
}

/// The board state after `action`, as the server's rules have it (for the actions the
/// lesson uses).
pub fn apply(state: &Value, action: &Value) -> Value {
    let mut next = state.clone();
    let slide = state["slide"].as_i64().unwrap_or(0);
    match action["kind"].as_str().unwrap() {
        "open_lesson" => {
            next["lesson_id"] = action["lesson_id"].clone();
            next["slide"] = action["slide"].clone();
            next["blank"] = json!(false);
        }
        "goto" => next["slide"] = action["slide"].clone(),
        "next" => next["slide"] = json!((slide + 1).min(SLIDES - 1)),
        "prev" => next["slide"] = json!((slide - 1).max(0)),
        "blank" => next["blank"] = action["on"].clone(),
        other => panic!("the lesson does not use {other}"),
    }
    next
}
