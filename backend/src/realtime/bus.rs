//! How nodes tell each other what happened on their sockets, and which uploads they stored
//! (so the others copy them at once, see `media::BlobNews`). Durable events need no bus call:
//! on PostgreSQL the append transaction notifies every node itself (see `store::board_log`).
//! The bus carries the rest, which is best-effort: pointers, boards' `shown` receipts,
//! presence, pairing changes, edited lessons, stored uploads.
//!
//! SQLite serves one node, so its bus has no one to tell. On PostgreSQL, signals queued
//! during a short tick go out in one NOTIFY (several if they exceed the payload limit), and
//! within a tick only a board's latest pointer and `shown` receipt are kept, so neither the database's work nor
//! the receivers' grows with the pointer rate.

use std::{
    collections::HashMap,
    mem,
    sync::{Arc, Mutex, PoisonError},
    time::Duration,
};

use serde::{Deserialize, Serialize};
use sqlx::AnyPool;
use tokio::sync::Notify;

/// The PostgreSQL channel for signals; events have their own (`store::EVENTS_CHANNEL`).
pub const SIGNALS_CHANNEL: &str = "boardcast_signals";

/// How long signals wait to share a notification: about one pointer frame at 60 per second.
const TICK: Duration = Duration::from_millis(16);

/// NOTIFY payloads stay below PostgreSQL's 8,000-byte limit.
const PAYLOAD_BUDGET: usize = 7_000;

/// What one node tells the others.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "k", rename_all = "snake_case")]
pub enum Signal {
    /// A pointer frame for the board's screens.
    Pointer { board: String, frame: String },
    /// A `shown` frame for the board's controllers.
    Shown { board: String, frame: String },
    /// A lesson open on these boards was edited.
    LessonUpdated {
        boards: Vec<String>,
        lesson: String,
        version: i64,
    },
    /// A teacher paired with the board.
    Paired {
        board: String,
        pairing: String,
        by: String,
    },
    /// A pairing was deleted: close its controllers (4003), the board may need a code.
    Unpaired { board: String, pairing: String },
    /// The login of this token family was revoked: close its controllers (4001).
    LoginRevoked { login: String },
    /// The access token of this digest was revoked: close the controllers that said hello
    /// with it (4001).
    TokenRevoked { token: String },
    /// An upload's blob is on the sending node's disk and its row committed: fetch it now,
    /// from `node` (its `stored_by`) first.
    BlobStored {
        sha256: String,
        size: u64,
        node: String,
    },
    /// How many sockets of the board the sending node has now.
    Presence {
        board: String,
        boards: usize,
        controllers: usize,
    },
}

/// Signals from one node, as one notification carries them.
#[derive(Debug, Serialize, Deserialize)]
pub struct Envelope {
    /// The sending node's instance id.
    #[serde(rename = "n")]
    pub sender: String,
    #[serde(rename = "s")]
    pub signals: Vec<Signal>,
}

/// Tells the other nodes; best-effort, never blocks the caller.
pub trait Bus: Send + Sync {
    fn publish(&self, signal: Signal);
}

/// The bus of a single node (SQLite): every socket is local, there is no one else to tell.
pub struct LocalBus;

impl Bus for LocalBus {
    fn publish(&self, _signal: Signal) {}
}

/// Signals waiting for the next tick.
#[derive(Default)]
struct Pending {
    pointers: HashMap<String, String>,
    shown: HashMap<String, String>,
    others: Vec<Signal>,
}

/// The bus of a cluster on PostgreSQL: signals go out with NOTIFY once per tick.
pub struct PgBus {
    pending: Arc<Mutex<Pending>>,
    queued: Arc<Notify>,
}

impl PgBus {
    /// Starts the sender for the node instance `sender`; it stops when the bus is dropped.
    pub fn start(pool: AnyPool, sender: String) -> Self {
        let pending: Arc<Mutex<Pending>> = Arc::default();
        let queued = Arc::new(Notify::new());
        let (waiting, wake) = (Arc::downgrade(&pending), Arc::clone(&queued));
        tokio::spawn(async move {
            loop {
                wake.notified().await;
                tokio::time::sleep(TICK).await;
                let Some(pending) = waiting.upgrade() else {
                    return;
                };
                let taken = mem::take(&mut *pending.lock().unwrap_or_else(PoisonError::into_inner));
                drop(pending);
                let mut signals = taken.others;
                signals.extend(
                    taken
                        .pointers
                        .into_iter()
                        .map(|(board, frame)| Signal::Pointer { board, frame }),
                );
                signals.extend(
                    taken
                        .shown
                        .into_iter()
                        .map(|(board, frame)| Signal::Shown { board, frame }),
                );
                for payload in payloads(&sender, signals) {
                    let sent = sqlx::query("select pg_notify($1, $2)")
                        .bind(SIGNALS_CHANNEL)
                        .bind(payload)
                        .execute(&pool)
                        .await;
                    if let Err(error) = sent {
                        tracing::warn!(%error, "could not tell the other nodes; signals dropped");
                    }
                }
            }
        });
        Self { pending, queued }
    }
}

impl Bus for PgBus {
    fn publish(&self, signal: Signal) {
        let mut pending = self.pending.lock().unwrap_or_else(PoisonError::into_inner);
        match signal {
            Signal::Pointer { board, frame } => {
                pending.pointers.insert(board, frame);
            }
            Signal::Shown { board, frame } => {
                pending.shown.insert(board, frame);
            }
            other => pending.others.push(other),
        }
        drop(pending);
        self.queued.notify_one();
    }
}

/// The signals as notification payloads, each within [`PAYLOAD_BUDGET`]. A signal too large
/// for any payload (it cannot happen with the frames' own limits) is dropped.
fn payloads(sender: &str, signals: Vec<Signal>) -> Vec<String> {
    let mut payloads = Vec::new();
    let mut batch: Vec<Signal> = Vec::new();
    let mut size = sender.len() + 20;
    for signal in signals {
        let length = serde_json::to_string(&signal).map_or(usize::MAX, |s| s.len() + 1);
        if length > PAYLOAD_BUDGET / 2 {
            tracing::warn!("a signal too large to notify was dropped");
            continue;
        }
        if size + length > PAYLOAD_BUDGET {
            payloads.extend(encode(sender, mem::take(&mut batch)));
            size = sender.len() + 20;
        }
        size += length;
        batch.push(signal);
    }
    if !batch.is_empty() {
        payloads.extend(encode(sender, batch));
    }
    payloads
}

fn encode(sender: &str, signals: Vec<Signal>) -> Option<String> {
    let envelope = Envelope {
        sender: sender.to_string(),
        signals,
    };
    serde_json::to_string(&envelope).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn many_signals_are_split_under_the_limit_and_none_is_lost() {
        let signals: Vec<_> = (0..400)
            .map(|i| Signal::Presence {
                board: format!("board-{i:04}-0000-0000-0000-000000000000"),
                boards: 1,
                controllers: i,
            })
            .collect();
        let encoded = payloads("node-a", signals.clone());
        assert!(encoded.len() > 1);
        let mut decoded = Vec::new();
        for payload in &encoded {
            assert!(payload.len() < PAYLOAD_BUDGET, "{}", payload.len());
            let envelope: Envelope = serde_json::from_str(payload).unwrap();
            assert_eq!(envelope.sender, "node-a");
            decoded.extend(envelope.signals);
        }
        assert_eq!(decoded, signals);
    }
}
