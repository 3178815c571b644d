//! Opening the store's connection pools: per-engine pool settings (SQLite's single writer,
//! PostgreSQL's statement timeout and standby refusal), and the SQLite file created on the
//! embedded default's first start.

use std::{sync::Arc, time::Duration};

use sqlx::{any::AnyPoolOptions, Executor};

use super::{
    primary::{self, Primary},
    Engine, StoreError, StoreResult,
};

/// With `primary`, connections opened before the primary was lost are dropped when next
/// taken, and a new connection that reaches a standby is refused (a fast 503).
pub(super) fn pool_options(
    engine: Engine,
    max_connections: u32,
    primary: Option<Arc<Primary>>,
) -> AnyPoolOptions {
    let fresh = primary.clone();
    AnyPoolOptions::new()
        .max_connections(max_connections)
        .acquire_timeout(Duration::from_secs(3))
        // No ping before each use: it doubled the round trips of every query. A connection
        // found broken fails its query with an I/O error (a fast 503 the client retries
        // elsewhere) and is dropped from the pool.
        .test_before_acquire(false)
        .before_acquire(move |_conn, meta| {
            let opened = std::time::Instant::now().checked_sub(meta.age);
            let stale = match (&fresh, opened) {
                (Some(primary), Some(opened)) => primary.is_stale(opened),
                _ => false,
            };
            Box::pin(async move { Ok(!stale) })
        })
        .after_connect(move |conn, _meta| {
            let primary = primary.clone();
            Box::pin(async move {
                if primary.is_some() {
                    primary::refuse_standby(conn).await?;
                }
                if engine == Engine::Sqlite {
                    // Statement journals (a multi-row insert inside a transaction keeps one)
                    // stay in memory: spilled to a temporary file, each login batch paid for
                    // creating, writing and deleting it.
                    conn.execute(
                        "pragma journal_mode = wal; pragma busy_timeout = 5000; \
                         pragma foreign_keys = on; pragma temp_store = memory;",
                    )
                    .await?;
                }
                Ok(())
            })
        })
}

pub(super) fn is_in_memory(url: &str) -> bool {
    url.contains(":memory:") || url.contains("mode=memory")
}

/// Creates the SQLite file's directory (0700) and the file itself (0600) when missing, so
/// tokens, sessions and lessons are readable by the node's user only, whatever the umask.
/// Existing directories and files keep the permissions their operator gave them.
pub(super) fn create_sqlite_file(url: &str) -> StoreResult<()> {
    use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
    let path = url
        .trim_start_matches("sqlite://")
        .trim_start_matches("sqlite:")
        .split('?')
        .next()
        .unwrap_or_default();
    if path.is_empty() || is_in_memory(url) {
        return Ok(());
    }
    let path = std::path::Path::new(path);
    let cannot =
        |e: std::io::Error| StoreError::Other(format!("cannot create {}: {e}", path.display()));
    if let Some(parent) = path
        .parent()
        .filter(|parent| !parent.as_os_str().is_empty())
    {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(parent)
            .map_err(cannot)?;
    }
    match std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
    {
        Err(error) if error.kind() != std::io::ErrorKind::AlreadyExists => Err(cannot(error)),
        _ => Ok(()),
    }
}
