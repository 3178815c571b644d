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
    classroom::{Run, Socket},
    stats::Latencies,
    Report,
};

/// When each command was sent, by id.
type SentAt = Arc<Mutex<HashMap<String, Instant>>>;

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
