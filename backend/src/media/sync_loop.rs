//! The background work of a node's media: a heartbeat in the node registry every few seconds
//! (with how far its blob sync is behind); a pass that fetches the blobs uploads refer to but
//! this node lacks, then deletes blobs nothing refers to any more once their grace period is
//! over, at start, every `media.sync_interval` and whenever the node may have missed news;
//! and the fetching of blobs other nodes announce as their uploads complete. The three run
//! side by side: a pass that copies gigabytes for minutes must not silence the heartbeat, or
//! the other nodes would take this one for dead, nor hold up a blob a class is waiting for.

use std::{
    collections::{HashMap, HashSet},
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use boardcast_sync::{Digest, GarbageCollector, Report, Wanted};
use tokio::{sync::Notify, task::JoinHandle};

use super::{news::Announced, Media};
use crate::{
    metrics::{BlobStatus, Metrics},
    store::{duration_millis, NodeRow, Store},
};

/// How often a node refreshes its registry row.
pub const HEARTBEAT_INTERVAL: Duration = Duration::from_secs(5);

/// A node whose row is older than this is not used as a peer (nor listed as healthy).
const HEALTHY_WITHIN: Duration = Duration::from_secs(15);

/// Whether the node beat recently enough, at `now`, to count as alive: used as a peer, listed
/// as healthy, offered to browsers. The one place that says which nodes are up.
pub fn is_alive(node: &NodeRow, now: i64) -> bool {
    node.last_seen_at >= now.saturating_sub(duration_millis(HEALTHY_WITHIN))
}

/// What the loop needs to know about this node.
pub struct NodeIdentity {
    pub node_id: String,
    pub public_url: String,
    pub started_at: i64,
}

/// Starts the loop; it runs until the task is aborted.
pub fn spawn_sync_loop(
    media: Media,
    store: Store,
    metrics: Metrics,
    node: NodeIdentity,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        let status = Arc::new(Mutex::new(SyncStatus::default()));
        let changed = Arc::new(Notify::new());
        let mut beats = Beats {
            media: media.clone(),
            store: store.clone(),
            node,
            status: status.clone(),
            last_beat_at: None,
            twin_reported: false,
        };
        let notices = Notices {
            media: media.clone(),
        };
        let mut passes = Passes {
            media,
            store,
            metrics,
            gc: GarbageCollector::default(),
            status,
        };
        // Register and learn the peers before the first pass, so a node that starts behind
        // catches up at once instead of one interval later.
        beats.beat().await;
        tokio::join!(beats.run(&changed), passes.run(&changed), notices.run());
    })
}

/// Where this node's sync stands, as its heartbeat reports it.
#[derive(Debug, Clone, Copy, Default)]
struct SyncStatus {
    report: Option<Report>,
    last_sync_at: Option<i64>,
}

/// The heartbeat side of the loop.
struct Beats {
    media: Media,
    store: Store,
    node: NodeIdentity,
    status: Arc<Mutex<SyncStatus>>,
    /// What this node last wrote into its registry row, to notice another node writing it.
    last_beat_at: Option<i64>,
    twin_reported: bool,
}

/// The copying side of the loop.
struct Passes {
    media: Media,
    store: Store,
    metrics: Metrics,
    gc: GarbageCollector,
    status: Arc<Mutex<SyncStatus>>,
}

/// The side of the loop that fetches the blobs other nodes announce.
struct Notices {
    media: Media,
}

impl Beats {
    /// Beats every [`HEARTBEAT_INTERVAL`], and at once when a pass changed the status, so
    /// `boardcast status` and the other nodes see the news now.
    async fn run(&mut self, changed: &Notify) {
        let mut ticks = tokio::time::interval(HEARTBEAT_INTERVAL);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        ticks.tick().await;
        loop {
            tokio::select! {
                _ = ticks.tick() => {}
                () = changed.notified() => {}
            }
            self.beat().await;
        }
    }

    /// Refreshes this node's registry row and learns the live peers.
    async fn beat(&mut self) {
        let now = self.media.clock().now_millis();
        let status = *self.status.lock().unwrap_or_else(|p| p.into_inner());
        let report = status.report.unwrap_or_default();
        let row = NodeRow {
            node_id: self.node.node_id.clone(),
            public_url: self.node.public_url.clone(),
            started_at: self.node.started_at,
            last_seen_at: now,
            blobs_missing: i64::try_from(report.missing).unwrap_or(i64::MAX),
            bytes_behind: i64::try_from(report.bytes_behind).unwrap_or(i64::MAX),
            last_sync_at: status.last_sync_at,
        };
        self.check_for_twin().await;
        if let Err(error) = self.store.heartbeat(&row).await {
            tracing::warn!(%error, "heartbeat not recorded");
            return;
        }
        self.last_beat_at = Some(now);
        self.media.refresh_peers().await;
    }

    /// Two nodes configured with the same `node_id` would overwrite each other's registry
    /// row and be taken for one peer: say so loudly (once) so an operator fixes it.
    async fn check_for_twin(&mut self) {
        let Some(last_beat_at) = self.last_beat_at.filter(|_| !self.twin_reported) else {
            return;
        };
        if let Ok(Some(row)) = self.store.find_node(&self.node.node_id).await {
            if row.last_seen_at != last_beat_at && row.started_at != self.node.started_at {
                tracing::error!(
                    node_id = self.node.node_id,
                    other = row.public_url,
                    "another node runs with this node_id: give every node its own"
                );
                self.twin_reported = true;
            }
        }
    }
}

impl Passes {
    /// A pass at once, then every `media.sync_interval`, and whenever one is requested (see
    /// [`BlobNews::catch_up`](super::BlobNews::catch_up)); a requested pass restarts the
    /// interval.
    async fn run(&mut self, changed: &Notify) {
        let news = self.media.news().clone();
        let mut ticks = tokio::time::interval(self.media.settings().sync_interval);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = ticks.tick() => {}
                () = news.pass_requested() => ticks.reset(),
            }
            news.pass_started();
            self.metrics.record_sync_pass();
            if self.sync_pass().await {
                changed.notify_one();
            }
        }
    }

    /// Fetches what is missing, then collects garbage; `true` when the outcome differs from
    /// the last pass's.
    async fn sync_pass(&mut self) -> bool {
        let catalog = match self.store.blob_catalog().await {
            Ok(catalog) => catalog,
            Err(error) => {
                tracing::warn!(%error, "blob sync skipped: cannot read the uploads");
                return false;
            }
        };
        let mut wanted = Vec::with_capacity(catalog.len());
        let mut stored_by: HashMap<Digest, String> = HashMap::with_capacity(catalog.len());
        for entry in catalog {
            let Ok(digest) = entry.sha256.parse::<Digest>() else {
                tracing::warn!(sha256 = entry.sha256, "upload row with a malformed digest");
                continue;
            };
            wanted.push(Wanted {
                digest,
                len: u64::try_from(entry.size).unwrap_or(0),
            });
            stored_by.insert(digest, entry.stored_by);
        }
        let peers = &self.media.inner.peers;
        let report = self
            .media
            .inner
            .reconciler
            .reconcile(&wanted, |w| {
                peers.ordered_for(stored_by.get(&w.digest).map(String::as_str))
            })
            .await;
        if report.fetched > 0 || report.missing > 0 {
            tracing::info!(
                fetched = report.fetched,
                missing = report.missing,
                bytes_behind = report.bytes_behind,
                "blob sync pass"
            );
        }
        let referenced: HashSet<Digest> = wanted.iter().map(|w| w.digest).collect();
        let blobs = self.media.blobs();
        let grace = self.media.settings().gc_grace;
        if let Err(error) = self
            .gc
            .collect(blobs, &referenced, grace, Instant::now())
            .await
        {
            tracing::warn!(%error, "blob garbage collection failed");
        }
        let now = self.media.clock().now_millis();
        let changed = {
            let mut status = self.status.lock().unwrap_or_else(|p| p.into_inner());
            let changed = status.report != Some(report);
            *status = SyncStatus {
                report: Some(report),
                last_sync_at: Some(now),
            };
            changed
        };
        let stored = blobs.list();
        self.metrics.set_blob_status(BlobStatus {
            stored: stored.len(),
            stored_bytes: stored.iter().map(|s| s.len).sum(),
            missing: report.missing,
            bytes_behind: report.bytes_behind,
            quarantined: blobs.quarantined(),
            last_sync_at_millis: now,
        });
        changed
    }
}

impl Notices {
    /// Fetches announced blobs as they come, those announced meanwhile in the next batch.
    async fn run(&self) {
        loop {
            let announced = self.media.news().blobs().await;
            self.fetch(&announced).await;
        }
    }

    /// Fetches the blobs from the nodes that announced them first, then from any peer. One
    /// not fetched (no peer reachable) waits for the next pass.
    async fn fetch(&self, announced: &[Announced]) {
        let inner = &self.media.inner;
        if announced.iter().any(|a| !inner.peers.knows(&a.origin)) {
            // The node that stored it joined since this node last read the registry.
            self.media.refresh_peers().await;
        }
        let wanted: Vec<Wanted> = announced.iter().map(|a| a.wanted).collect();
        let origins: HashMap<Digest, &str> = announced
            .iter()
            .map(|a| (a.wanted.digest, a.origin.as_str()))
            .collect();
        let report = inner
            .reconciler
            .reconcile(&wanted, |w| {
                inner.peers.ordered_for(origins.get(&w.digest).copied())
            })
            .await;
        if report.missing > 0 {
            tracing::info!(
                fetched = report.fetched,
                missing = report.missing,
                "announced blobs not all fetched: the next pass tries again"
            );
        } else {
            tracing::debug!(fetched = report.fetched, "announced blobs fetched");
        }
    }
}
