//! Pulling blobs from peers, with peers that are plain maps in memory.
// Fixtures are test code too: a panic there is a failed test with a location.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::{
    collections::HashMap,
    sync::{
        atomic::{AtomicUsize, Ordering},
        Arc,
    },
};

use async_trait::async_trait;
use boardcast_sync::{
    BlobStore, Digest, Download, Peer, Reconciler, Report, SyncError, SyncResult, Wanted,
};
use bytes::Bytes;
use futures_util::{stream, StreamExt, TryStreamExt};

/// A peer holding some blobs; `broken` makes every call fail, `lying` serves wrong bytes.
#[derive(Default)]
struct MemoryPeer {
    name: String,
    blobs: HashMap<Digest, Vec<u8>>,
    broken: bool,
    calls: AtomicUsize,
}

impl MemoryPeer {
    fn holding(name: &str, blobs: &[&[u8]]) -> Arc<Self> {
        Arc::new(Self {
            name: name.into(),
            blobs: blobs.iter().map(|b| (Digest::of(b), b.to_vec())).collect(),
            ..Default::default()
        })
    }

    fn lying(name: &str, claims: &[u8], serves: &[u8]) -> Arc<Self> {
        Arc::new(Self {
            name: name.into(),
            blobs: HashMap::from([(Digest::of(claims), serves.to_vec())]),
            ..Default::default()
        })
    }

    fn broken(name: &str) -> Arc<Self> {
        Arc::new(Self {
            name: name.into(),
            broken: true,
            ..Default::default()
        })
    }
}

#[async_trait]
impl Peer for MemoryPeer {
    fn name(&self) -> &str {
        &self.name
    }

    async fn fetch(&self, digest: &Digest) -> SyncResult<Option<Download>> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        if self.broken {
            return Err(SyncError::Peer {
                peer: self.name.clone(),
                reason: "connection refused".into(),
            });
        }
        Ok(self.blobs.get(digest).map(|bytes| {
            let chunks: Vec<SyncResult<Bytes>> = bytes
                .chunks(3)
                .map(|c| Ok(Bytes::copy_from_slice(c)))
                .collect();
            Download {
                len: Some(bytes.len() as u64),
                body: stream::iter(chunks).boxed(),
            }
        }))
    }
}

fn wanted(bytes: &[u8]) -> Wanted {
    Wanted {
        digest: Digest::of(bytes),
        len: bytes.len() as u64,
    }
}

async fn empty_node() -> (tempfile::TempDir, BlobStore, Reconciler) {
    let dir = tempfile::tempdir().unwrap();
    let store = BlobStore::open(dir.path()).await.unwrap();
    let reconciler = Reconciler::new(store.clone(), 4);
    (dir, store, reconciler)
}

#[tokio::test]
async fn a_pass_fetches_every_missing_blob_from_whoever_has_it() {
    let (_dir, store, reconciler) = empty_node().await;
    let a = MemoryPeer::holding("a", &[b"one", b"two"]);
    let b = MemoryPeer::holding("b", &[b"three"]);
    let peers: Vec<Arc<dyn Peer>> = vec![a, b];
    let all = [wanted(b"one"), wanted(b"two"), wanted(b"three")];

    let report = reconciler.reconcile(&all, |_| peers.clone()).await;

    assert_eq!(
        report,
        Report {
            fetched: 3,
            missing: 0,
            bytes_behind: 0
        }
    );
    for w in &all {
        assert!(store.contains(&w.digest));
    }
    // A second pass has nothing to do.
    assert_eq!(
        reconciler.reconcile(&all, |_| peers.clone()).await.fetched,
        0
    );
}

#[tokio::test]
async fn what_no_peer_has_is_reported_behind() {
    let (_dir, _store, reconciler) = empty_node().await;
    let peers: Vec<Arc<dyn Peer>> = vec![MemoryPeer::holding("a", &[b"one"])];
    let report = reconciler
        .reconcile(&[wanted(b"one"), wanted(b"lost!")], |_| peers.clone())
        .await;
    assert_eq!(
        report,
        Report {
            fetched: 1,
            missing: 1,
            bytes_behind: 5
        }
    );
}

#[tokio::test]
async fn a_peer_serving_wrong_bytes_is_passed_over_for_an_honest_one() {
    let (_dir, store, reconciler) = empty_node().await;
    let liar = MemoryPeer::lying("liar", b"slide", b"slidX");
    let honest = MemoryPeer::holding("honest", &[b"slide"]);
    let peers: Vec<Arc<dyn Peer>> = vec![liar, honest];
    let stored = reconciler.fetch(&wanted(b"slide"), &peers).await.unwrap();
    assert_eq!(stored.digest, Digest::of(b"slide"));
    let path = store.open_blob(&stored.digest).await.unwrap().unwrap().path;
    assert_eq!(std::fs::read(path).unwrap(), b"slide");
}

#[tokio::test]
async fn a_dead_peer_is_not_asked_again_until_its_backoff_ends() {
    let (_dir, _store, reconciler) = empty_node().await;
    let dead = MemoryPeer::broken("dead");
    let alive = MemoryPeer::holding("alive", &[b"a", b"b", b"c"]);
    let peers: Vec<Arc<dyn Peer>> = vec![dead.clone(), alive];
    let report = reconciler
        .reconcile(&[wanted(b"a"), wanted(b"b"), wanted(b"c")], |_| {
            peers.clone()
        })
        .await;
    assert_eq!(report.fetched, 3);
    // Four transfers may start together; no more than those ask the dead peer.
    assert!(dead.calls.load(Ordering::SeqCst) <= 3);
    let before = dead.calls.load(Ordering::SeqCst);
    let _ = reconciler.fetch(&wanted(b"x"), &peers).await;
    assert_eq!(
        dead.calls.load(Ordering::SeqCst),
        before,
        "still backing off"
    );
}

#[tokio::test]
async fn an_on_demand_stream_delivers_the_bytes_and_stores_them() {
    let (_dir, store, reconciler) = empty_node().await;
    let peers: Vec<Arc<dyn Peer>> = vec![MemoryPeer::holding("a", &[b"a video frame"])];
    let digest = Digest::of(b"a video frame");
    let download = reconciler.stream(&digest, &peers).await.unwrap();
    assert_eq!(download.len, Some(13));
    let received: Vec<Bytes> = download.body.try_collect().await.unwrap();
    assert_eq!(received.concat(), b"a video frame");
    assert!(store.contains(&digest));
}

#[tokio::test]
async fn an_on_demand_stream_of_a_corrupt_copy_fails_before_its_end() {
    let (_dir, store, reconciler) = empty_node().await;
    let peers: Vec<Arc<dyn Peer>> = vec![MemoryPeer::lying(
        "liar",
        b"a video frame",
        b"a video fram3",
    )];
    let digest = Digest::of(b"a video frame");
    let mut body = reconciler.stream(&digest, &peers).await.unwrap().body;
    let mut received = Vec::new();
    let mut failed = false;
    while let Some(chunk) = body.next().await {
        match chunk {
            Ok(bytes) => received.extend_from_slice(&bytes),
            Err(error) => {
                assert!(
                    matches!(error, SyncError::DigestMismatch { .. }),
                    "{error:?}"
                );
                failed = true;
            }
        }
    }
    assert!(failed);
    assert!(received.len() < 13, "the whole corrupt copy was delivered");
    assert!(!store.contains(&digest));
}

#[tokio::test]
async fn nobody_having_the_blob_is_not_found() {
    let (_dir, _store, reconciler) = empty_node().await;
    let peers: Vec<Arc<dyn Peer>> = vec![MemoryPeer::holding("a", &[])];
    let result = reconciler.stream(&Digest::of(b"?"), &peers).await;
    assert!(matches!(result, Err(SyncError::NotFound)));
}
