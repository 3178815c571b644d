//! The node's open sockets, grouped by board, and the one code path that hands them events.
//!
//! Events reach a socket through a small bounded queue and carry their offset; the socket
//! sends an event only if it is the next offset it owes its client, skips what it sent
//! already, and reads the log for anything in between. So the same event may arrive twice
//! (from this node's own append and from the database's notification) or not at all (a full
//! queue, a lost notification): the client still gets each event once, in order. When an
//! event cannot be queued, the socket is told to catch up from the log instead, so a slow
//! client never makes the node buffer without bound: the log is the buffer.

use std::{
    collections::HashMap,
    sync::{
        atomic::{AtomicBool, AtomicU64, Ordering},
        Arc, Mutex, MutexGuard, PoisonError,
    },
    time::{Duration, Instant},
};

use axum::extract::ws::Utf8Bytes;
use tokio::sync::{mpsc, Notify};

use super::frames::{EventFrame, Role, ServerFrame};
use crate::store::LoggedEvent;

/// Frames queued per socket before events fall back to the log and pointers are dropped.
pub const OUTBOX_CAPACITY: usize = 32;

/// Pointer frames go to a board at most this often (60 per second); the latest one wins.
pub const POINTER_INTERVAL: Duration = Duration::from_micros(16_667);

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

    fn close(&self, code: u16, reason: &'static str) {
        *lock(&self.requests.close) = Some((code, reason));
        self.attention.notify_one();
    }

    fn mark_behind(&self) {
        self.requests.behind.store(true, Ordering::Release);
        self.attention.notify_one();
    }

    fn send_event(&self, seq: i64, text: &Utf8Bytes) {
        let event = Outgoing::Event {
            seq,
            text: text.clone(),
        };
        if self.outbox.try_send(event).is_err() {
            self.mark_behind();
        }
    }

    /// Best-effort frames keep half the queue free for events.
    fn send_droppable(&self, text: &Utf8Bytes) {
        if self.outbox.capacity() > OUTBOX_CAPACITY / 2 {
            let _ = self.outbox.try_send(Outgoing::Frame(text.clone()));
        }
    }
}

/// The sockets of one board on this node.
#[derive(Default)]
struct Room {
    peers: Vec<Arc<Peer>>,
    /// The highest offset handed to this room, to know after a gap whether it is behind.
    delivered: i64,
    last_pointer: Option<Instant>,
    pending_pointer: Option<Utf8Bytes>,
}

/// Counts of a board's sockets on this node.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LocalPresence {
    pub boards: usize,
    pub controllers: usize,
}

/// Every socket of this node, by board.
pub struct Hub {
    rooms: Mutex<HashMap<String, Room>>,
    next_peer: AtomicU64,
    /// Wakes the pointer flusher (also when the hub is dropped, so that it ends).
    pointers_pending: Arc<Notify>,
}

/// Removes its peer from the hub when the socket ends, however it ends.
pub struct Membership {
    hub: Arc<Hub>,
    peer: Arc<Peer>,
}

impl Membership {
    pub fn peer(&self) -> &Arc<Peer> {
        &self.peer
    }
}

impl Drop for Membership {
    fn drop(&mut self) {
        self.hub.leave(&self.peer);
    }
}

impl Hub {
    /// A hub and its pointer flusher (which lives as long as the hub).
    pub fn start() -> Arc<Self> {
        let hub = Arc::new(Self {
            rooms: Mutex::default(),
            next_peer: AtomicU64::new(1),
            pointers_pending: Arc::new(Notify::new()),
        });
        let weak = Arc::downgrade(&hub);
        let pending = Arc::clone(&hub.pointers_pending);
        tokio::spawn(async move {
            loop {
                pending.notified().await;
                loop {
                    tokio::time::sleep(POINTER_INTERVAL).await;
                    let Some(hub) = weak.upgrade() else { return };
                    if !hub.flush_pointers(Instant::now()) {
                        break;
                    }
                }
            }
        });
        hub
    }

    /// Adds a socket to its board's room; it receives events from now on.
    pub fn join(
        self: &Arc<Self>,
        board_id: &str,
        role: Role,
        pairing_id: Option<String>,
        credential: Option<Credential>,
    ) -> (Membership, mpsc::Receiver<Outgoing>) {
        let (outbox, receiver) = mpsc::channel(OUTBOX_CAPACITY);
        let peer = Arc::new(Peer {
            id: self.next_peer.fetch_add(1, Ordering::Relaxed),
            board_id: board_id.to_string(),
            role,
            pairing_id,
            credential,
            outbox,
            requests: Requests::default(),
            attention: Notify::new(),
        });
        self.rooms()
            .entry(board_id.to_string())
            .or_default()
            .peers
            .push(Arc::clone(&peer));
        let membership = Membership {
            hub: Arc::clone(self),
            peer,
        };
        (membership, receiver)
    }

    fn leave(&self, peer: &Peer) {
        let mut rooms = self.rooms();
        if let Some(room) = rooms.get_mut(&peer.board_id) {
            room.peers.retain(|p| p.id != peer.id);
            if room.peers.is_empty() {
                rooms.remove(&peer.board_id);
            }
        }
    }

    /// Hands events to every socket of their boards on this node. Each event is encoded once.
    pub fn deliver(&self, events: &[LoggedEvent]) {
        let mut rooms = self.rooms();
        for event in events {
            let Some(room) = rooms.get_mut(&event.board_id) else {
                continue;
            };
            room.delivered = room.delivered.max(event.seq);
            let text = Utf8Bytes::from(ServerFrame::Event(EventFrame::from(event)).encode());
            for peer in &room.peers {
                peer.send_event(event.seq, &text);
            }
        }
    }

    /// Records that a socket of `board_id` starts from offset `seq`.
    pub fn delivered(&self, board_id: &str, seq: i64) {
        if let Some(room) = self.rooms().get_mut(board_id) {
            room.delivered = room.delivered.max(seq);
        }
    }

    /// A pointer frame for the board's screens, at most one per [`POINTER_INTERVAL`].
    pub fn pointer(&self, board_id: &str, text: Utf8Bytes, now: Instant) {
        let mut rooms = self.rooms();
        let Some(room) = rooms.get_mut(board_id) else {
            return;
        };
        let due = room
            .last_pointer
            .is_none_or(|last| now.duration_since(last) >= POINTER_INTERVAL);
        if due {
            room.last_pointer = Some(now);
            room.pending_pointer = None;
            send_to_boards(room, &text);
        } else {
            room.pending_pointer = Some(text);
            self.pointers_pending.notify_one();
        }
    }

    /// Sends the pointers held back; whether any is still waiting.
    fn flush_pointers(&self, now: Instant) -> bool {
        let mut waiting = false;
        for room in self.rooms().values_mut() {
            if room.pending_pointer.is_none() {
                continue;
            }
            let due = room
                .last_pointer
                .is_none_or(|last| now.duration_since(last) >= POINTER_INTERVAL);
            if !due {
                waiting = true;
                continue;
            }
            if let Some(text) = room.pending_pointer.take() {
                room.last_pointer = Some(now);
                send_to_boards(room, &text);
            }
        }
        waiting
    }

    /// A best-effort frame for every socket of `board_id` with `role` (all roles if `None`).
    pub fn tell(&self, board_id: &str, role: Option<Role>, text: &Utf8Bytes) {
        if let Some(room) = self.rooms().get(board_id) {
            for peer in room
                .peers
                .iter()
                .filter(|p| role.is_none_or(|r| p.role == r))
            {
                peer.send_droppable(text);
            }
        }
    }

    /// Asks the board's own sockets to show a fresh pairing code.
    pub fn ask_for_code(&self, board_id: &str) {
        if let Some(room) = self.rooms().get(board_id) {
            for peer in room.peers.iter().filter(|p| p.role == Role::Board) {
                peer.requests.wants_code.store(true, Ordering::Release);
                peer.attention.notify_one();
            }
        }
    }

    /// Closes the controller sockets steering through `pairing_id`.
    pub fn close_pairing(&self, pairing_id: &str, code: u16, reason: &'static str) {
        self.close_where(
            |peer| peer.pairing_id.as_deref() == Some(pairing_id),
            code,
            reason,
        );
    }

    /// Closes the controller sockets opened with a login of `family_id`.
    pub fn close_login(&self, family_id: &str, code: u16, reason: &'static str) {
        self.close_credentials(|credential| credential.family_id == family_id, code, reason);
    }

    /// Closes the controller sockets opened with the access token of `token_digest`.
    pub fn close_token(&self, token_digest: &str, code: u16, reason: &'static str) {
        self.close_credentials(
            |credential| credential.token_digest == token_digest,
            code,
            reason,
        );
    }

    fn close_credentials(
        &self,
        matches: impl Fn(&Credential) -> bool,
        code: u16,
        reason: &'static str,
    ) {
        self.close_where(
            |peer| peer.credential.as_ref().is_some_and(&matches),
            code,
            reason,
        );
    }

    /// The logins of the controller sockets here.
    pub fn logins(&self) -> Vec<String> {
        self.distinct(|peer| Some(peer.credential.as_ref()?.family_id.clone()))
    }

    /// The digests of the access tokens the controller sockets here said hello with.
    pub fn tokens(&self) -> Vec<String> {
        self.distinct(|peer| Some(peer.credential.as_ref()?.token_digest.clone()))
    }

    /// Closes every socket (the node is stopping).
    pub fn close_all(&self, code: u16, reason: &'static str) {
        self.close_where(|_| true, code, reason);
    }

    fn close_where(&self, matches: impl Fn(&Peer) -> bool, code: u16, reason: &'static str) {
        for room in self.rooms().values() {
            for peer in room.peers.iter().filter(|peer| matches(peer)) {
                peer.close(code, reason);
            }
        }
    }

    /// The distinct values of `key` over the sockets here, sorted.
    fn distinct(&self, key: impl Fn(&Peer) -> Option<String>) -> Vec<String> {
        let rooms = self.rooms();
        let mut values: Vec<String> = rooms
            .values()
            .flat_map(|room| room.peers.iter().filter_map(|peer| key(peer)))
            .collect();
        values.sort_unstable();
        values.dedup();
        values
    }

    /// The boards with sockets here and the highest offset each was handed.
    pub fn boards(&self) -> Vec<(String, i64)> {
        self.rooms()
            .iter()
            .map(|(board, room)| (board.clone(), room.delivered))
            .collect()
    }

    /// The pairings of the controller sockets here.
    pub fn pairings(&self) -> Vec<String> {
        self.distinct(|peer| peer.pairing_id.clone())
    }

    /// Tells every socket of `board_id` to read the log for what it may have missed.
    pub fn catch_up(&self, board_id: &str) {
        if let Some(room) = self.rooms().get(board_id) {
            for peer in &room.peers {
                peer.mark_behind();
            }
        }
    }

    /// How many sockets of each role this node has for `board_id`.
    pub fn presence(&self, board_id: &str) -> LocalPresence {
        self.rooms()
            .get(board_id)
            .map(|room| LocalPresence {
                boards: room.peers.iter().filter(|p| p.role == Role::Board).count(),
                controllers: room
                    .peers
                    .iter()
                    .filter(|p| p.role == Role::Controller)
                    .count(),
            })
            .unwrap_or_default()
    }

    /// The number of open sockets (for `/metrics`).
    pub fn sockets(&self) -> usize {
        self.rooms().values().map(|room| room.peers.len()).sum()
    }

    fn rooms(&self) -> MutexGuard<'_, HashMap<String, Room>> {
        lock(&self.rooms)
    }
}

impl Drop for Hub {
    fn drop(&mut self) {
        self.pointers_pending.notify_one();
    }
}

fn send_to_boards(room: &Room, text: &Utf8Bytes) {
    for peer in room.peers.iter().filter(|p| p.role == Role::Board) {
        peer.send_droppable(text);
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // The hub holds plain data; a panicked holder left nothing half-done that matters.
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::board::Action;

    fn event(board: &str, seq: i64) -> LoggedEvent {
        LoggedEvent {
            board_id: board.into(),
            seq,
            command_id: format!("command-{seq}"),
            action: Action::Blank { on: true },
            by: "teacher".into(),
            at: 0,
        }
    }

    fn seq_of(outgoing: Outgoing) -> i64 {
        match outgoing {
            Outgoing::Event { seq, .. } => seq,
            Outgoing::Frame(text) => panic!("not an event: {text}"),
        }
    }

    #[tokio::test]
    async fn a_socket_that_does_not_keep_up_is_told_to_read_the_log() {
        let hub = Hub::start();
        let (member, mut outbox) = hub.join("b", Role::Board, None, None);
        let (_other, _) = hub.join("other", Role::Board, None, None);
        let events: Vec<_> = (1..=100).map(|seq| event("b", seq)).collect();
        hub.deliver(&events);
        // The queue holds what fits and no more; the rest is left in the log.
        let mut queued = Vec::new();
        while let Ok(outgoing) = outbox.try_recv() {
            queued.push(seq_of(outgoing));
        }
        assert_eq!(queued, (1..=OUTBOX_CAPACITY as i64).collect::<Vec<_>>());
        assert!(member.peer().take_behind());
        assert!(!member.peer().take_behind());
        assert_eq!(hub.boards().len(), 2);
        drop(member);
        assert_eq!(hub.boards().len(), 1);
    }

    #[tokio::test]
    async fn droppable_frames_leave_room_for_events() {
        let hub = Hub::start();
        let (member, mut outbox) = hub.join("b", Role::Board, None, None);
        for _ in 0..OUTBOX_CAPACITY {
            hub.tell("b", None, &Utf8Bytes::from_static("{}"));
        }
        hub.deliver(&[event("b", 1)]);
        let mut frames = 0;
        let mut events = 0;
        while let Ok(outgoing) = outbox.try_recv() {
            match outgoing {
                Outgoing::Frame(_) => frames += 1,
                Outgoing::Event { .. } => events += 1,
            }
        }
        assert_eq!(frames, OUTBOX_CAPACITY / 2);
        assert_eq!(events, 1);
        assert!(!member.peer().take_behind());
    }

    #[tokio::test]
    async fn pointers_are_held_back_to_60_per_second_and_the_latest_wins() {
        let hub = Hub::start();
        let (_board, mut on_board) = hub.join("b", Role::Board, None, None);
        let (_controller, mut on_controller) = hub.join("b", Role::Controller, None, None);
        let start = Instant::now();
        for x in ["1", "2", "3"] {
            hub.pointer("b", Utf8Bytes::from(x.to_string()), start);
        }
        let first = on_board.try_recv().unwrap();
        assert!(matches!(first, Outgoing::Frame(text) if text.as_str() == "1"));
        assert!(on_board.try_recv().is_err());
        assert!(hub.flush_pointers(start + POINTER_INTERVAL / 2));
        assert!(on_board.try_recv().is_err());
        assert!(!hub.flush_pointers(start + POINTER_INTERVAL));
        let latest = on_board.try_recv().unwrap();
        assert!(matches!(latest, Outgoing::Frame(text) if text.as_str() == "3"));
        assert!(
            on_controller.try_recv().is_err(),
            "pointers are for the board only"
        );
    }

    #[tokio::test]
    async fn closing_a_pairing_reaches_only_its_controllers() {
        let hub = Hub::start();
        let (board, _) = hub.join("b", Role::Board, None, None);
        let credential = |family: &str, token: &str| {
            Some(Credential {
                family_id: family.into(),
                token_digest: token.into(),
            })
        };
        let (mine, _) = hub.join(
            "b",
            Role::Controller,
            Some("p1".into()),
            credential("f1", "t1"),
        );
        let (other, _) = hub.join(
            "b",
            Role::Controller,
            Some("p2".into()),
            credential("f2", "t2"),
        );
        let (third, _) = hub.join(
            "b",
            Role::Controller,
            Some("p2".into()),
            credential("f2", "t3"),
        );
        hub.close_pairing("p1", 4003, "pairing revoked");
        assert_eq!(mine.peer().take_close(), Some((4003, "pairing revoked")));
        assert_eq!(other.peer().take_close(), None);
        assert_eq!(board.peer().take_close(), None);
        assert_eq!(hub.pairings(), vec!["p1".to_string(), "p2".to_string()]);
        assert_eq!(hub.logins(), vec!["f1".to_string(), "f2".to_string()]);
        assert_eq!(hub.tokens(), ["t1", "t2", "t3"].map(String::from).to_vec());
        hub.close_token("t3", 4001, "token revoked");
        assert_eq!(third.peer().take_close(), Some((4001, "token revoked")));
        assert_eq!(other.peer().take_close(), None);
        hub.close_login("f2", 4001, "login ended");
        assert_eq!(other.peer().take_close(), Some((4001, "login ended")));
        assert_eq!(mine.peer().take_close(), None);
    }
}
