//! What can go wrong with a blob, one error for the whole crate.

use crate::Digest;

#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    /// No node that was asked has the blob.
    #[error("blob not found")]
    NotFound,
    /// The bytes received do not hash to the name they were sent under; nothing was stored.
    #[error("content hashes to {actual}, expected {expected}")]
    DigestMismatch { expected: Digest, actual: Digest },
    /// The content went over the size limit; nothing was stored.
    #[error("content is larger than {limit} bytes")]
    TooLarge { limit: u64 },
    /// The source of the bytes (a client, a peer's response) stopped before the end.
    #[error("transfer interrupted: {0}")]
    Interrupted(String),
    /// A peer could not be reached or answered with an error.
    #[error("peer {peer}: {reason}")]
    Peer { peer: String, reason: String },
    /// The local disk failed.
    #[error("blob store i/o: {0}")]
    Io(#[from] std::io::Error),
}

pub type SyncResult<T> = Result<T, SyncError>;
