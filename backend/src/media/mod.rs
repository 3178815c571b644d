//! Uploaded media on this node: the rules of a teacher's uploads, the blob store, signed media
//! URLs, the peers that hold what this node lacks, the other nodes' news of their uploads, and
//! the background loop that keeps the copies complete.

mod kinds;
mod news;
mod peers;
mod sync_loop;
mod uploads;
mod urls;

pub use kinds::{essence, MediaKind, SNIFF_LEN};
pub use news::BlobNews;
pub use sync_loop::{is_alive, spawn_sync_loop, NodeIdentity, HEARTBEAT_INTERVAL};
pub use uploads::{clean_filename, NewUpload, Stored, UploadError, Uploads};
pub use urls::MediaUrl;

use std::{path::Path, sync::Arc};

use anyhow::Context;
use boardcast_sync::{
    Blob, BlobStore, ClusterKey, Digest, Download, Reconciler, SyncError, SyncResult,
};

use self::peers::Peers;
use crate::{
    clock::Clock,
    config::{MediaSettings, Settings},
    store::{NodeRow, Store, StoreResult},
};

/// This node's media: cheap to clone.
#[derive(Clone)]
pub struct Media {
    inner: Arc<Inner>,
}

struct Inner {
    blobs: BlobStore,
    reconciler: Reconciler,
    key: ClusterKey,
    peers: Peers,
    news: BlobNews,
    settings: MediaSettings,
    store: Store,
    clock: Clock,
}

impl Media {
    /// Opens the blob store under `data_dir/blobs`.
    pub async fn open(
        settings: &Settings,
        key: ClusterKey,
        store: Store,
        clock: Clock,
    ) -> anyhow::Result<Self> {
        let blobs = BlobStore::open(settings.data_dir.join("blobs"))
            .await
            .context("cannot open the blob store")?;
        let reconciler = Reconciler::new(blobs.clone(), settings.media.sync_concurrency);
        let peers = Peers::new(settings, key.clone())?;
        Ok(Self {
            inner: Arc::new(Inner {
                blobs,
                reconciler,
                key,
                peers,
                news: BlobNews::default(),
                settings: settings.media.clone(),
                store,
                clock,
            }),
        })
    }

    pub fn blobs(&self) -> &BlobStore {
        &self.inner.blobs
    }

    pub fn key(&self) -> &ClusterKey {
        &self.inner.key
    }

    /// Where the cluster's news of blobs arrives for this node's sync loop.
    pub fn news(&self) -> &BlobNews {
        &self.inner.news
    }

    pub fn settings(&self) -> &MediaSettings {
        &self.inner.settings
    }

    /// The node's clock: heartbeats, the peers' health and signed URLs go by it.
    pub fn clock(&self) -> &Clock {
        &self.inner.clock
    }

    /// A signed URL for the blob, as a path (`/media/...`): every node honours it, so a
    /// client resolves it against whichever node it talks to and keeps working when that
    /// node fails over.
    pub fn url(&self, sha256: &str, now_secs: u64) -> String {
        let signed = MediaUrl::sign(
            &self.inner.key,
            sha256,
            self.inner.settings.url_lifetime,
            now_secs,
        );
        signed.path()
    }

    /// Whether `accepts` holds for the public URL of any other live or configured node.
    pub fn any_peer_url(&self, accepts: impl Fn(&str) -> bool) -> bool {
        self.inner.peers.any_url(accepts)
    }

    /// The local verified copy, if this node has a good one.
    pub async fn local(&self, digest: &Digest) -> SyncResult<Option<Blob>> {
        self.inner.blobs.open_blob(digest).await
    }

    /// The blob's bytes from a peer that has it, stored here as they pass (on-demand fetch).
    /// When no known peer has it, the registry is read again first: the blob may be on a
    /// node that joined since the last heartbeat.
    pub async fn fetch_from_peers(&self, digest: &Digest) -> SyncResult<Download> {
        let peers = self.inner.peers.ordered_for(None);
        match self.inner.reconciler.stream(digest, &peers).await {
            Err(SyncError::NotFound) => {
                self.refresh_peers().await;
                let peers = self.inner.peers.ordered_for(None);
                self.inner.reconciler.stream(digest, &peers).await
            }
            result => result,
        }
    }

    /// The cluster's nodes as the registry has them (see [`is_alive`] for which are up).
    pub async fn nodes(&self) -> StoreResult<Vec<NodeRow>> {
        self.inner.store.list_nodes().await
    }

    /// Takes the live nodes of the registry as peers.
    pub async fn refresh_peers(&self) {
        match self.inner.store.list_nodes().await {
            Ok(nodes) => {
                let now = self.inner.clock.now_millis();
                let live: Vec<_> = nodes.into_iter().filter(|n| is_alive(n, now)).collect();
                self.inner.peers.refresh(&live);
            }
            Err(error) => tracing::warn!(%error, "cannot list the cluster's nodes"),
        }
    }
}

/// The key that signs media URLs and internal calls. A node on its own SQLite database may
/// run without `cluster_secret`: it then keeps a random one in `data_dir`, created on first
/// start, so its URLs survive restarts. Nodes sharing PostgreSQL must be given the secret
/// (the settings refuse to start without one).
pub fn cluster_key(settings: &Settings) -> anyhow::Result<ClusterKey> {
    let configured = settings.cluster_secret.expose();
    if !configured.is_empty() {
        return Ok(ClusterKey::new(configured));
    }
    let path = settings.data_dir.join("cluster_secret");
    Ok(ClusterKey::new(&local_secret(&path)?))
}

fn local_secret(path: &Path) -> anyhow::Result<String> {
    if let Ok(secret) = std::fs::read_to_string(path) {
        if !secret.trim().is_empty() {
            return Ok(secret.trim().to_string());
        }
    }
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    }
    let secret = hex::encode(rand::random::<[u8; 32]>());
    write_private(path, &secret).with_context(|| format!("cannot write {}", path.display()))?;
    tracing::info!(path = %path.display(), "generated a cluster secret for this single node");
    Ok(secret)
}

/// Writes a file only its owner can read.
fn write_private(path: &Path, text: &str) -> std::io::Result<()> {
    use std::{io::Write, os::unix::fs::OpenOptionsExt};
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)?;
    file.write_all(text.as_bytes())?;
    file.sync_all()
}
