//! Backups of a school's data: consistent, incremental, verifiable, and restorable into
//! either engine, so they are also how one SQLite box grows into a PostgreSQL cluster.
//!
//! A backups directory holds:
//!
//! ```text
//! DIR/
//!   .lock                      held by a running backup (exclusive) or restore (shared)
//!   blobs/ab/abcd…             every blob any backup here needs, once, named by SHA-256
//!   20261204T020000Z/          one backup
//!     manifest.json            what the backup holds, with a digest per part
//!     manifest.sha256          the manifest's own digest (`sha256sum -c` reads it)
//!     blobs.jsonl              the blobs it needs: {"sha256","size"} per line
//!     tables/users.jsonl …     one JSON array of values per row
//! ```
//!
//! Table data is engine-neutral (null, integers, text) and secrets are exactly as stored:
//! hashed. A backup becomes visible under its name only once complete.

mod blob_pool;
mod lock;
mod make;
mod manifest;
mod progress;
mod restore;
mod retention;
mod verify;

pub use make::{backup, Summary};
pub use manifest::Manifest;
pub use progress::Progress;
pub use restore::{restore, Restored};
pub use retention::Retention;
pub use verify::{verify, Verified};
