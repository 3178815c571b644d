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
        atomic::{AtomicU64, Ordering},
        Arc, Mutex, MutexGuard,
    },
    time::{Duration, Instant},
};

use axum::extract::ws::Utf8Bytes;
use tokio::sync::{mpsc, Notify};

mod roster;

use super::{
    frames::{EventFrame, Role, ServerFrame},
    peer::{lock, Credential, Outgoing, Peer, OUTBOX_CAPACITY},
};
use crate::store::LoggedEvent;

/// Pointer frames go to a board at most this often (60 per second); the latest one wins.
pub const POINTER_INTERVAL: Duration = Duration::from_micros(16_667);

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
        let peer = Arc::new(Peer::new(
            self.next_peer.fetch_add(1, Ordering::Relaxed),
            board_id,
            role,
            pairing_id,
            credential,
            outbox,
        ));
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
            room.peers.retain(|p| !p.is(peer));
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
                peer.ask_for_code();
            }
        }
    }

    /// Tells every socket of `board_id` to read the log for what it may have missed.
    pub fn catch_up(&self, board_id: &str) {
        if let Some(room) = self.rooms().get(board_id) {
            for peer in &room.peers {
                peer.mark_behind();
            }
        }
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
}
