//! News of blobs from the other nodes, waiting for this node's sync loop: "I stored this
//! upload" (fetch that blob now, from me first) and "you may have missed news" (run a full
//! pass now). Blobs announced in a burst are fetched together in the next batch, so a burst
//! never costs a pass per upload. The queue is bounded: an announcement that finds it full is
//! dropped and a pass requested instead, which finds that blob and any other.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex, MutexGuard, PoisonError},
};

use boardcast_sync::{Digest, Wanted};
use tokio::sync::Notify;

/// Blobs that may wait to be fetched; a node that falls further behind runs a pass instead.
const QUEUE_LIMIT: usize = 1024;

/// A blob another node stored, and that node's id (its `stored_by`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Announced {
    pub wanted: Wanted,
    pub origin: String,
}

/// The news waiting for the sync loop; cheap to clone, every clone sees the same queue.
#[derive(Clone, Default)]
pub struct BlobNews {
    shared: Arc<Shared>,
}

#[derive(Default)]
struct Shared {
    waiting: Mutex<Waiting>,
    blobs_queued: Notify,
    pass_requested: Notify,
}

#[derive(Default)]
struct Waiting {
    blobs: HashMap<Digest, Announced>,
    pass: bool,
}

impl BlobNews {
    /// Another node stored `wanted` (its row is committed): fetch it soon.
    pub fn announced(&self, wanted: Wanted, origin: &str) {
        let mut waiting = self.waiting();
        if !waiting.blobs.contains_key(&wanted.digest) && waiting.blobs.len() >= QUEUE_LIMIT {
            waiting.pass = true;
            drop(waiting);
            tracing::info!("too many blobs announced at once: running a full pass instead");
            self.shared.pass_requested.notify_one();
            return;
        }
        let origin = origin.to_string();
        waiting
            .blobs
            .insert(wanted.digest, Announced { wanted, origin });
        drop(waiting);
        self.shared.blobs_queued.notify_one();
    }

    /// This node may have missed announcements (it just started listening, or listens
    /// again): the next pass should run now rather than at its interval.
    pub fn catch_up(&self) {
        self.waiting().pass = true;
        self.shared.pass_requested.notify_one();
    }

    /// Waits for announced blobs and takes all that are waiting.
    pub async fn blobs(&self) -> Vec<Announced> {
        loop {
            let queued = self.shared.blobs_queued.notified();
            let taken = std::mem::take(&mut self.waiting().blobs);
            if !taken.is_empty() {
                return taken.into_values().collect();
            }
            queued.await;
        }
    }

    /// Resolves once a pass is requested and not yet started.
    pub async fn pass_requested(&self) {
        loop {
            let requested = self.shared.pass_requested.notified();
            if self.waiting().pass {
                return;
            }
            requested.await;
        }
    }

    /// A pass starts: it answers every request made so far.
    pub fn pass_started(&self) {
        self.waiting().pass = false;
    }

    fn waiting(&self) -> MutexGuard<'_, Waiting> {
        self.shared
            .waiting
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn wanted(n: usize) -> Wanted {
        Wanted {
            digest: Digest::of(&n.to_be_bytes()),
            len: n as u64,
        }
    }

    async fn within<T>(future: impl std::future::Future<Output = T>) -> Option<T> {
        tokio::time::timeout(Duration::from_millis(50), future)
            .await
            .ok()
    }

    #[tokio::test]
    async fn a_burst_comes_out_as_one_batch_without_repeats() {
        let news = BlobNews::default();
        for n in 0..50 {
            news.announced(wanted(n), "a");
        }
        news.announced(wanted(7), "b");

        let mut batch = within(news.blobs()).await.unwrap();
        batch.sort_by_key(|a| a.wanted.len);
        assert_eq!(batch.len(), 50);
        assert_eq!(batch[7].wanted, wanted(7));
        assert_eq!(batch[7].origin, "b");
        assert!(within(news.blobs()).await.is_none(), "nothing more waits");
        assert!(within(news.pass_requested()).await.is_none(), "no pass");
    }

    #[tokio::test]
    async fn a_full_queue_asks_for_one_pass_instead() {
        let news = BlobNews::default();
        for n in 0..QUEUE_LIMIT + 10 {
            news.announced(wanted(n), "a");
        }

        assert!(within(news.pass_requested()).await.is_some());
        assert_eq!(within(news.blobs()).await.unwrap().len(), QUEUE_LIMIT);
        news.pass_started();
        assert!(within(news.pass_requested()).await.is_none(), "one pass");
    }

    #[tokio::test]
    async fn requests_before_a_pass_starts_are_answered_by_it() {
        let news = BlobNews::default();
        news.catch_up();
        news.catch_up();
        assert!(within(news.pass_requested()).await.is_some());
        news.pass_started();
        assert!(within(news.pass_requested()).await.is_none());

        news.catch_up();
        assert!(within(news.pass_requested()).await.is_some(), "asked again");
    }
}
