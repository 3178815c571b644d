//! Who is connected to a board across the cluster. Each node announces its own counts for a
//! board when they change and again every [`ANNOUNCE_EVERY`]; the others keep the latest
//! count per node and forget it after [`FORGET_AFTER`], so a node that died stops counting.

use std::{
    collections::HashMap,
    sync::{Mutex, MutexGuard, PoisonError, Weak},
    time::{Duration, Instant},
};

use super::{bus::Signal, hub::LocalPresence, Inner, Realtime};

/// How often a node repeats its counts for the boards it has sockets of.
pub const ANNOUNCE_EVERY: Duration = Duration::from_secs(20);

/// Counts not repeated for this long are forgotten (the node is gone).
pub const FORGET_AFTER: Duration = Duration::from_secs(50);

/// Each node's latest counts for one board, and when they came.
type NodeCounts = HashMap<String, (LocalPresence, Instant)>;

/// Other nodes' counts, per board and node.
#[derive(Default)]
pub struct Presence {
    remote: Mutex<HashMap<String, NodeCounts>>,
}

impl Presence {
    /// Records a node's counts; whether the board's totals may have changed.
    pub fn record(&self, board: &str, node: &str, counts: LocalPresence, now: Instant) -> bool {
        let mut remote = self.remote();
        let nodes = remote.entry(board.to_string()).or_default();
        let before = nodes.insert(node.to_string(), (counts, now));
        if counts == LocalPresence::default() {
            nodes.remove(node);
            if nodes.is_empty() {
                remote.remove(board);
            }
        }
        before.map(|(counts, _)| counts) != Some(counts)
    }

    /// `local` plus what the other nodes count and still repeat.
    pub fn total(&self, board: &str, local: LocalPresence, now: Instant) -> LocalPresence {
        let remote = self.remote();
        let mut total = local;
        for (counts, at) in remote.get(board).into_iter().flat_map(HashMap::values) {
            if now.duration_since(*at) < FORGET_AFTER {
                total.boards += counts.boards;
                total.controllers += counts.controllers;
            }
        }
        total
    }

    /// Forgets silent nodes; the boards whose totals changed.
    fn forget_silent(&self, now: Instant) -> Vec<String> {
        let mut changed = Vec::new();
        self.remote().retain(|board, nodes| {
            let before = nodes.len();
            nodes.retain(|_, (_, at)| now.duration_since(*at) < FORGET_AFTER);
            if nodes.len() != before {
                changed.push(board.clone());
            }
            !nodes.is_empty()
        });
        changed
    }

    fn remote(&self) -> MutexGuard<'_, HashMap<String, NodeCounts>> {
        self.remote.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Repeats this node's counts and forgets silent nodes, while the node runs.
pub fn spawn_refresh(realtime: Weak<Inner>) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut ticks = tokio::time::interval(ANNOUNCE_EVERY);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticks.tick().await;
            let Some(inner) = realtime.upgrade() else {
                return;
            };
            Realtime::from_inner(inner).refresh_presence();
        }
    })
}

impl Realtime {
    /// Announces every board with sockets here and shows changed totals.
    pub(super) fn refresh_presence(&self) {
        let inner = &self.inner;
        for (board, _) in inner.hub.boards() {
            let local = inner.hub.presence(&board);
            inner.bus.publish(Signal::Presence {
                board,
                boards: local.boards,
                controllers: local.controllers,
            });
        }
        for board in inner.presence.forget_silent(Instant::now()) {
            self.show_presence(&board);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn counts(boards: usize, controllers: usize) -> LocalPresence {
        LocalPresence {
            boards,
            controllers,
        }
    }

    #[test]
    fn totals_add_the_nodes_that_still_repeat_their_counts() {
        let presence = Presence::default();
        let start = Instant::now();
        assert!(presence.record("b", "node-a", counts(1, 0), start));
        assert!(presence.record("b", "node-b", counts(0, 2), start));
        assert!(!presence.record("b", "node-b", counts(0, 2), start));
        assert_eq!(presence.total("b", counts(0, 1), start), counts(1, 3));
        let later = start + FORGET_AFTER;
        assert_eq!(presence.total("b", counts(0, 1), later), counts(0, 1));
        assert_eq!(presence.forget_silent(later), vec!["b".to_string()]);
    }

    #[test]
    fn a_node_that_counts_nothing_is_forgotten_at_once() {
        let presence = Presence::default();
        let now = Instant::now();
        presence.record("b", "node-a", counts(1, 1), now);
        assert!(presence.record("b", "node-a", counts(0, 0), now));
        assert_eq!(presence.total("b", counts(0, 0), now), counts(0, 0));
    }
}
