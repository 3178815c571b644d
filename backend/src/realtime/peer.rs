//! One open socket as the hub sees it: a small bounded queue of frames to send, and requests
//! that cannot wait in (or be dropped from) that queue: close, catch up from the log, show a
//! new pairing code. The hub fills them; the socket's own task empties them.

use std::sync::{
    atomic::{AtomicBool, Ordering},
    Mutex, MutexGuard, PoisonError,
};

use axum::extract::ws::Utf8Bytes;
use tokio::sync::{mpsc, Notify};

use super::frames::Role;

/// Frames queued per socket before events fall back to the log and pointers are dropped.
pub const OUTBOX_CAPACITY: usize = 32;

/// What a socket is asked to send.
#[derive(Debug, Clone)]
pub enum Outgoing {
    /// An event frame, and the offset it carries.
    Event { seq: i64, text: Utf8Bytes },
    /// A frame that may be dropped under pressure (pointer, presence).
    Frame(Utf8Bytes),
}

/// Something a socket must do that cannot wait in (or be dropped from) its queue.
#[derive(Debug, Default)]
struct Requests {
    /// Close with this code and reason.
    close: Mutex<Option<(u16, &'static str)>>,
    /// An event could not be queued: read the log.
    behind: AtomicBool,
    /// The board lost its pairings: show a new code.
    wants_code: AtomicBool,
}

/// The access token a controller said hello with, and its login: revoking either closes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Credential {
    /// The login (token family).
    pub family_id: String,
    /// The access token's digest.
    pub token_digest: String,
}

/// One open socket, as the hub sees it.
pub struct Peer {
    id: u64,
    pub board_id: String,
    pub role: Role,
    /// The pairing a controller steers through.
    pub pairing_id: Option<String>,
    /// What a controller said hello with.
    pub credential: Option<Credential>,
    outbox: mpsc::Sender<Outgoing>,
    requests: Requests,
    /// Woken whenever `requests` changed.
    attention: Notify,
}

impl Peer {
    pub(super) fn new(
        id: u64,
        board_id: &str,
        role: Role,
        pairing_id: Option<String>,
        credential: Option<Credential>,
        outbox: mpsc::Sender<Outgoing>,
    ) -> Self {
        Self {
            id,
            board_id: board_id.to_string(),
            role,
            pairing_id,
            credential,
            outbox,
            requests: Requests::default(),
            attention: Notify::new(),
        }
    }

    /// Whether `other` is this very socket.
    pub(super) fn is(&self, other: &Peer) -> bool {
        self.id == other.id
    }

    /// Waits until the hub asked for something; see [`Peer::take_close`] and friends.
    pub async fn needs_attention(&self) {
        self.attention.notified().await;
    }

    pub fn take_close(&self) -> Option<(u16, &'static str)> {
        lock(&self.requests.close).take()
    }

    pub fn take_behind(&self) -> bool {
        self.requests.behind.swap(false, Ordering::AcqRel)
    }

    pub fn take_wants_code(&self) -> bool {
        self.requests.wants_code.swap(false, Ordering::AcqRel)
    }

    pub(super) fn ask_for_code(&self) {
        self.requests.wants_code.store(true, Ordering::Release);
        self.attention.notify_one();
    }

    pub(super) fn close(&self, code: u16, reason: &'static str) {
        *lock(&self.requests.close) = Some((code, reason));
        self.attention.notify_one();
    }

    pub(super) fn mark_behind(&self) {
        self.requests.behind.store(true, Ordering::Release);
        self.attention.notify_one();
    }

    pub(super) fn send_event(&self, seq: i64, text: &Utf8Bytes) {
        let event = Outgoing::Event {
            seq,
            text: text.clone(),
        };
        if self.outbox.try_send(event).is_err() {
            self.mark_behind();
        }
    }

    /// Best-effort frames keep half the queue free for events.
    pub(super) fn send_droppable(&self, text: &Utf8Bytes) {
        if self.outbox.capacity() > OUTBOX_CAPACITY / 2 {
            let _ = self.outbox.try_send(Outgoing::Frame(text.clone()));
        }
    }
}

pub(super) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // The hub holds plain data; a panicked holder left nothing half-done that matters.
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}
