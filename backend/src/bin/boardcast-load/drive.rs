//! Driving the open sockets: commands sent at a fixed rate spread over the boards, and the
//! answers timed from the moment each command was sent.

use std::{
    borrow::Cow,
    collections::HashMap,
    sync::{
        atomic::{AtomicU64, Ordering},
        Arc, Mutex,
    },
    time::{Duration, Instant},
};

use futures_util::{SinkExt, StreamExt};
use serde::Deserialize;
use serde_json::json;
use tokio::{
    sync::{mpsc, watch},
    task::JoinSet,
};
use tokio_tungstenite::tungstenite::Message;

use super::{
    classroom::{Controller, Run, Socket},
    stats::Latencies,
    Report,
};

/// A command on its way: when it was sent, and whether from another node than its board's.
struct Sent {
    at: Instant,
    crosses_nodes: bool,
}

/// The commands sent, by id.
type SentAt = Arc<Mutex<HashMap<String, Sent>>>;

/// Which end of a pairing a socket is.
enum Seat {
    Board,
    /// A controller writes the commands it is handed.
    Controller {
        commands: mpsc::Receiver<bool>,
        crosses_nodes: bool,
    },
}

/// What one socket timed.
#[derive(Default)]
struct Samples {
    acks: Vec<Duration>,
    events: Vec<Duration>,
    /// At a board's own socket: events of commands sent from its node, and from another.
    at_board_same_node: Vec<Duration>,
    at_board_across_nodes: Vec<Duration>,
}

impl Run {
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
            for Controller {
                socket,
                crosses_nodes,
            } in board.controllers
            {
                let (queue, commands) = mpsc::channel(64);
                board_queues.push(queue);
                let seat = Seat::Controller {
                    commands,
                    crosses_nodes,
                };
                let shared = (sent_at.clone(), errors.clone(), stopped.clone());
                readers.spawn(serve_socket(socket, seat, shared));
            }
            let shared = (sent_at.clone(), errors.clone(), stopped.clone());
            readers.spawn(serve_socket(board.socket, Seat::Board, shared));
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
        let mut all = Samples::default();
        while let Some(Ok(socket)) = readers.join_next().await {
            all.acks.extend(socket.acks);
            all.events.extend(socket.events);
            all.at_board_same_node.extend(socket.at_board_same_node);
            all.at_board_across_nodes
                .extend(socket.at_board_across_nodes);
        }
        let seconds = elapsed.as_secs_f64();
        Report {
            sockets,
            setup_seconds: self.setup.as_secs_f64(),
            commands_sent,
            acks_per_second: all.acks.len() as f64 / seconds,
            events_per_second: all.events.len() as f64 / seconds,
            acks: Latencies::of(all.acks),
            fan_out: Latencies::of(all.events),
            at_boards_same_node: Latencies::of(all.at_board_same_node),
            at_boards_across_nodes: Latencies::of(all.at_board_across_nodes),
            errors: errors.load(Ordering::Relaxed),
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

/// Reads one socket until told to stop and times what it gets; a controller also writes the
/// commands it is handed.
async fn serve_socket(
    mut socket: Socket,
    mut seat: Seat,
    (sent_at, errors, mut stop): (SentAt, Arc<AtomicU64>, watch::Receiver<bool>),
) -> Samples {
    let mut samples = Samples::default();
    loop {
        let queued = async {
            match &mut seat {
                Seat::Controller { commands, .. } => commands.recv().await,
                Seat::Board => std::future::pending().await,
            }
        };
        tokio::select! {
            _ = stop.changed() => break,
            Some(blank) = queued => {
                let id = uuid::Uuid::new_v4().to_string();
                let frame = json!({"type": "command", "id": id,
                    "action": {"kind": "blank", "on": blank}});
                let crosses_nodes = matches!(seat, Seat::Controller { crosses_nodes: true, .. });
                let sent = Sent { at: Instant::now(), crosses_nodes };
                sent_at.lock().map(|mut all| all.insert(id, sent)).ok();
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
                    let all = sent_at.lock().ok()?;
                    let sent = all.get(frame.id.as_deref()?)?;
                    Some((sent.at.elapsed(), sent.crosses_nodes))
                };
                match frame.kind.as_ref() {
                    "ack" => samples.acks.extend(since_sent().map(|(took, _)| took)),
                    "event" => {
                        let Some((took, crosses_nodes)) = since_sent() else { continue };
                        samples.events.push(took);
                        match (&seat, crosses_nodes) {
                            (Seat::Board, false) => samples.at_board_same_node.push(took),
                            (Seat::Board, true) => samples.at_board_across_nodes.push(took),
                            (Seat::Controller { .. }, _) => {}
                        }
                    }
                    "error" => { errors.fetch_add(1, Ordering::Relaxed); }
                    _ => {}
                }
            }
        }
    }
    samples
}
