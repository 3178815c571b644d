//! boardcast's media blobs: content-addressed files on each node's local disk, verified on
//! write and on read, and copied between nodes without a shared disk.
//!
//! The crate knows nothing of HTTP servers, users or lessons: the node tells it which blobs
//! exist (from its database) and which peers to ask, and serves `/internal/blobs/{digest}`
//! from [`BlobStore::open_blob`] for its peers' [`HttpPeer`]s.
#![forbid(unsafe_code)]

mod blob_store;
mod cluster_key;
mod digest;
mod error;
mod garbage;
mod peer;
mod reconcile;

pub use blob_store::{object_path, Blob, BlobStore, BlobWriter, Stored};
pub use cluster_key::{ClusterKey, CLUSTER_AUTH_HEADER, INTERNAL_REQUEST_TTL_SECS};
pub use digest::{BadDigest, Digest, Hasher};
pub use error::{SyncError, SyncResult};
pub use garbage::GarbageCollector;
pub use peer::{internal_blob_path, Download, HttpPeer, Peer};
pub use reconcile::{Reconciler, Report, Wanted};
