//! Pulling blobs this node lacks from peers that have them: in the background for everything
//! the cluster knows of, and on demand for one blob a client is waiting for.
//!
//! Peers that fail are skipped for a while (exponential backoff with jitter, up to a minute),
//! so a dead node costs one failed connection per backoff period, not one per blob.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex, MutexGuard},
    time::{Duration, Instant},
};

use backon::{BackoffBuilder, ExponentialBackoff, ExponentialBuilder};
use bytes::Bytes;
use futures_util::{stream, stream::FuturesUnordered, StreamExt};

use crate::{
    blob_store::BlobWriter, peer::Download, BlobStore, Digest, Peer, Stored, SyncError, SyncResult,
};

const LONGEST_BACKOFF: Duration = Duration::from_secs(60);
/// How long a failed peer is skipped: 1 s after its first failure, doubling up to a minute,
/// with jitter so nodes that lost the same peer do not all come back to it at once.
const PEER_BACKOFF: ExponentialBuilder = ExponentialBuilder::new()
    .with_min_delay(Duration::from_secs(1))
    .with_max_delay(LONGEST_BACKOFF)
    .without_max_times()
    .with_jitter();

/// A blob the cluster knows of, with its size as recorded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Wanted {
    pub digest: Digest,
    pub len: u64,
}

/// What one reconciliation pass found and did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Report {
    /// Blobs fetched in this pass.
    pub fetched: usize,
    /// Blobs still missing afterwards (no reachable peer had them, or their copies failed).
    pub missing: usize,
    /// Bytes of the blobs still missing.
    pub bytes_behind: u64,
}

/// Fetches blobs from peers into the local store; cheap to clone.
#[derive(Clone)]
pub struct Reconciler {
    store: BlobStore,
    concurrency: usize,
    backoff: Arc<Mutex<HashMap<String, Backoff>>>,
}

#[derive(Debug)]
struct Backoff {
    delays: ExponentialBackoff,
    retry_at: Instant,
}

impl Reconciler {
    /// At most `concurrency` transfers run at once in a pass.
    pub fn new(store: BlobStore, concurrency: usize) -> Self {
        Self {
            store,
            concurrency: concurrency.max(1),
            backoff: Arc::default(),
        }
    }

    /// Fetches every wanted blob that is not here. `peers_for` orders the peers to ask for
    /// one blob (say, the node it was uploaded to first); it is called before the returned
    /// future first runs and not kept, so it may borrow freely.
    pub fn reconcile<F>(
        &self,
        wanted: &[Wanted],
        peers_for: F,
    ) -> impl std::future::Future<Output = Report> + Send + 'static
    where
        F: Fn(&Wanted) -> Vec<Arc<dyn Peer>>,
    {
        let missing: Vec<(Wanted, Vec<Arc<dyn Peer>>)> = wanted
            .iter()
            .filter(|w| !self.store.contains(&w.digest))
            .map(|w| (*w, peers_for(w)))
            .collect();
        let wanted = wanted.to_vec();
        let this = self.clone();
        async move { this.fetch_missing(&wanted, missing).await }
    }

    async fn fetch_missing(
        &self,
        wanted: &[Wanted],
        missing: Vec<(Wanted, Vec<Arc<dyn Peer>>)>,
    ) -> Report {
        let mut pending = missing.into_iter();
        let mut running = FuturesUnordered::new();
        let mut fetched = 0;
        loop {
            while running.len() < self.concurrency {
                let Some((wanted, peers)) = pending.next() else {
                    break;
                };
                running.push(self.clone().fetch_logged(wanted, peers));
            }
            match running.next().await {
                Some(done) => fetched += usize::from(done),
                None => break,
            }
        }
        let still_missing: Vec<&Wanted> = wanted
            .iter()
            .filter(|w| !self.store.contains(&w.digest))
            .collect();
        Report {
            fetched,
            missing: still_missing.len(),
            bytes_behind: still_missing.iter().map(|w| w.len).sum(),
        }
    }

    /// [`fetch`](Self::fetch) owning its arguments, so passes can run many at once,
    /// reporting only whether it worked.
    async fn fetch_logged(self, wanted: Wanted, peers: Vec<Arc<dyn Peer>>) -> bool {
        match self.fetch(&wanted, &peers).await {
            Ok(_) => true,
            Err(error) => {
                tracing::debug!(blob = %wanted.digest, %error, "blob not fetched");
                false
            }
        }
    }

    /// Stores one blob from the first peer that has a good copy.
    pub async fn fetch(&self, wanted: &Wanted, peers: &[Arc<dyn Peer>]) -> SyncResult<Stored> {
        for peer in self.ready(peers) {
            let download = match self.ask(peer.as_ref(), &wanted.digest).await {
                Some(download) => download,
                None => continue,
            };
            match self
                .store
                .ingest(download.body, Some(wanted.len), Some(wanted.digest))
                .await
            {
                Ok(stored) => return Ok(stored),
                Err(SyncError::Io(error)) => return Err(SyncError::Io(error)),
                Err(error) => {
                    tracing::warn!(peer = peer.name(), blob = %wanted.digest, %error, "bad transfer from peer");
                    self.failed(peer.name());
                }
            }
        }
        Err(SyncError::NotFound)
    }

    /// The blob's bytes from the first peer that has it, stored locally as they pass. The
    /// last chunk is held back until the whole blob hashed to its name, so a reader never
    /// receives all of a corrupt copy: it sees the transfer fail instead.
    pub async fn stream(&self, digest: &Digest, peers: &[Arc<dyn Peer>]) -> SyncResult<Download> {
        for peer in self.ready(peers) {
            if let Some(download) = self.ask(peer.as_ref(), digest).await {
                return Ok(Download {
                    len: download.len,
                    body: tee(*digest, download, self.store.writer()),
                });
            }
        }
        Err(SyncError::NotFound)
    }

    /// Asks one peer, recording whether it answered.
    async fn ask(&self, peer: &dyn Peer, digest: &Digest) -> Option<Download> {
        match peer.fetch(digest).await {
            Ok(download) => {
                self.succeeded(peer.name());
                download
            }
            Err(error) => {
                tracing::warn!(peer = peer.name(), %error, "peer unreachable");
                self.failed(peer.name());
                None
            }
        }
    }

    /// The peers not backing off, in the given order.
    fn ready<'a>(&self, peers: &'a [Arc<dyn Peer>]) -> Vec<&'a Arc<dyn Peer>> {
        let now = Instant::now();
        let backoff = self.backoff();
        peers
            .iter()
            .filter(|peer| backoff.get(peer.name()).is_none_or(|b| b.retry_at <= now))
            .collect()
    }

    fn succeeded(&self, peer: &str) {
        self.backoff().remove(peer);
    }

    fn failed(&self, peer: &str) {
        let mut backoff = self.backoff();
        let entry = backoff.entry(peer.to_string()).or_insert_with(|| Backoff {
            delays: PEER_BACKOFF.build(),
            retry_at: Instant::now(),
        });
        let delay = entry.delays.next().unwrap_or(LONGEST_BACKOFF);
        entry.retry_at = Instant::now() + delay;
    }

    fn backoff(&self) -> MutexGuard<'_, HashMap<String, Backoff>> {
        self.backoff.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// Passes a download through while writing it to the store; see [`Reconciler::stream`].
fn tee(
    digest: Digest,
    download: Download,
    writer: BlobWriter,
) -> futures_util::stream::BoxStream<'static, SyncResult<Bytes>> {
    struct Tee {
        upstream: futures_util::stream::BoxStream<'static, SyncResult<Bytes>>,
        writer: Option<BlobWriter>,
        held: Option<Bytes>,
    }
    let state = Tee {
        upstream: download.body,
        writer: Some(writer),
        held: None,
    };
    stream::unfold(state, move |mut tee| async move {
        loop {
            let writer = tee.writer.as_mut()?;
            match tee.upstream.next().await {
                Some(Ok(chunk)) => {
                    if let Err(error) = writer.write(chunk.clone()).await {
                        tee.writer = None;
                        return Some((Err(error), tee));
                    }
                    if let Some(previous) = tee.held.replace(chunk) {
                        return Some((Ok(previous), tee));
                    }
                }
                Some(Err(error)) => {
                    tee.writer = None;
                    return Some((Err(error), tee));
                }
                None => {
                    let writer = tee.writer.take()?;
                    return match writer.finish(Some(digest)).await {
                        Ok(_) => tee.held.take().map(|last| (Ok(last), tee)),
                        Err(error) => Some((Err(error), tee)),
                    };
                }
            }
        }
    })
    .boxed()
}
