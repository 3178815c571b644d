//! Other nodes, as sources of blobs. HTTP between real nodes; tests may implement [`Peer`]
//! over anything.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use async_trait::async_trait;
use bytes::Bytes;
use futures_util::{stream::BoxStream, StreamExt, TryStreamExt};

use crate::{cluster_key::CLUSTER_AUTH_HEADER, ClusterKey, Digest, SyncError, SyncResult};

/// A blob's bytes arriving from a peer.
pub struct Download {
    /// The length the peer announced, if it did.
    pub len: Option<u64>,
    pub body: BoxStream<'static, SyncResult<Bytes>>,
}

/// A node that may hold blobs this one lacks.
#[async_trait]
pub trait Peer: Send + Sync {
    /// How the peer is named in logs and backoff bookkeeping (its base URL).
    fn name(&self) -> &str;

    /// The blob's bytes, or `None` when the peer does not have it. The peer verifies its copy
    /// before sending; the receiver verifies again while storing.
    async fn fetch(&self, digest: &Digest) -> SyncResult<Option<Download>>;
}

/// The path under which every node serves its local blobs to its peers.
pub fn internal_blob_path(digest: &Digest) -> String {
    format!("/internal/blobs/{digest}")
}

/// A peer reached over HTTP at its `public_url`, proving the cluster secret on each request.
pub struct HttpPeer {
    base_url: String,
    key: ClusterKey,
    client: reqwest::Client,
}

impl HttpPeer {
    /// `client` is shared by all peers of a node (one connection pool).
    pub fn new(base_url: &str, key: ClusterKey, client: reqwest::Client) -> Self {
        Self {
            base_url: base_url.trim_end_matches('/').to_string(),
            key,
            client,
        }
    }

    /// A client for peers: connecting must be quick (a dead node is skipped, not waited
    /// for), a transfer may take long but must keep moving. `tls` decides which
    /// certificates `https://` peers may present.
    pub fn client(tls: rustls::ClientConfig) -> SyncResult<reqwest::Client> {
        reqwest::Client::builder()
            .use_preconfigured_tls(tls)
            .connect_timeout(Duration::from_secs(2))
            .read_timeout(Duration::from_secs(15))
            .pool_idle_timeout(Duration::from_secs(60))
            .build()
            .map_err(|e| SyncError::Io(std::io::Error::other(e.to_string())))
    }

    fn failed(&self, reason: impl ToString) -> SyncError {
        SyncError::Peer {
            peer: self.base_url.clone(),
            reason: reason.to_string(),
        }
    }
}

#[async_trait]
impl Peer for HttpPeer {
    fn name(&self) -> &str {
        &self.base_url
    }

    #[allow(
        clippy::disallowed_methods,
        reason = "the signature's expiry is checked by another node, against the wall time"
    )]
    async fn fetch(&self, digest: &Digest) -> SyncResult<Option<Download>> {
        let path = internal_blob_path(digest);
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        let response = self
            .client
            .get(format!("{}{path}", self.base_url))
            .header(CLUSTER_AUTH_HEADER, self.key.authorize(&path, now))
            .send()
            .await
            .map_err(|e| self.failed(e))?;
        match response.status() {
            reqwest::StatusCode::OK => {}
            reqwest::StatusCode::NOT_FOUND => return Ok(None),
            status => return Err(self.failed(format!("answered {status}"))),
        }
        let peer = self.base_url.clone();
        Ok(Some(Download {
            len: response.content_length(),
            body: response
                .bytes_stream()
                .map_err(move |e| SyncError::Interrupted(format!("{peer}: {e}")))
                .boxed(),
        }))
    }
}
