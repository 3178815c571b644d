//! The connection a batcher's statements run on, and the lease a batch holds on it while its
//! statement is at the database: kept between batches on PostgreSQL, dropped the moment it
//! fails, stalls or was opened before the primary was lost.

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use sqlx::{pool::PoolConnection, Any, AnyConnection, AnyPool, Executor};
use tokio::sync::{Mutex, OwnedMutexGuard};

use super::{primary::Primary, StoreError, StoreResult};

/// The connection one batcher's statements run on. On PostgreSQL it is kept between
/// batches: a connection returned to the pool costs a round trip (the pool checks it), and a
/// kept one has the batcher's statements prepared already. SQLite's single connection is
/// shared by everyone, so there it goes back to the pool after each batch.
///
/// A kept connection carries a server-side `statement_timeout` (the batch deadline), so the
/// server, too, gives up on a statement nobody waits for. It goes back to the pool only when
/// the node stops: once it fails or stalls it is closed, and the pool opens a replacement;
/// so is one taken before the primary was lost (see `primary`).
#[derive(Clone)]
pub struct HeldConnection {
    pool: AnyPool,
    keep: bool,
    /// Set on a kept connection when it is opened.
    statement_timeout: Option<Duration>,
    primary: Option<Arc<Primary>>,
    held: Arc<Mutex<Option<Taken>>>,
}

/// A kept connection and when it was taken from the pool.
struct Taken {
    connection: PoolConnection<Any>,
    at: Instant,
}

impl HeldConnection {
    /// A connection taken from `pool` for each batch.
    pub fn per_batch(pool: AnyPool) -> Self {
        Self {
            pool,
            keep: false,
            statement_timeout: None,
            primary: None,
            held: Arc::default(),
        }
    }

    /// A connection kept between batches; with `statement_timeout` (PostgreSQL only: SQLite
    /// has none) the server cancels its statements after that long. With `primary`, one
    /// taken before the primary was lost is closed instead of used.
    pub fn kept(
        pool: AnyPool,
        statement_timeout: Option<Duration>,
        primary: Option<Arc<Primary>>,
    ) -> Self {
        Self {
            pool,
            keep: true,
            statement_timeout,
            primary,
            held: Arc::default(),
        }
    }

    /// Gives a kept connection back to the pool (before the pool closes, which waits for
    /// every connection to come back).
    pub async fn release(&self) {
        self.held.lock().await.take();
    }

    /// Closes the kept connection, which may be stuck in the middle of a reply.
    pub async fn discard(&self) {
        if let Some(taken) = self.held.lock().await.take() {
            drop(taken.connection.detach());
        }
    }

    /// The connection for one batch, opened or taken from the pool when none is held.
    pub async fn lease(&self) -> StoreResult<Lease> {
        let mut slot = Arc::clone(&self.held).lock_owned().await;
        let stale = match (&self.primary, slot.as_ref()) {
            (Some(primary), Some(taken)) => primary.is_stale(taken.at),
            _ => false,
        };
        if stale {
            if let Some(taken) = slot.take() {
                drop(taken.connection.detach());
            }
        }
        if slot.is_none() {
            let mut connection = self.pool.acquire().await?;
            if let Some(timeout) = self.statement_timeout {
                let set = format!("set statement_timeout = {}", timeout.as_millis());
                if let Err(error) = connection.execute(set.as_str()).await {
                    drop(connection.detach());
                    return Err(error.into());
                }
            }
            *slot = Some(Taken {
                connection,
                at: Instant::now(),
            });
        }
        Ok(Lease {
            slot,
            keep: self.keep,
        })
    }

    /// A round trip on this connection within `deadline`, for readiness: it answers only
    /// when the batcher's next statement would.
    pub async fn probe(&self, deadline: Duration) -> StoreResult<()> {
        let probe = async {
            let mut lease = self.lease().await?;
            let connection = lease.connection()?;
            match connection.execute("select 1").await {
                Ok(_) => Ok(()),
                Err(error) => Err(lease.failed(error)),
            }
        };
        match tokio::time::timeout(deadline, probe).await {
            Ok(answered) => answered,
            Err(_) => {
                self.discard().await;
                Err(StoreError::stalled(deadline))
            }
        }
    }
}

/// A connection in use by one batch; see [`HeldConnection`].
pub struct Lease {
    slot: OwnedMutexGuard<Option<Taken>>,
    keep: bool,
}

impl Lease {
    pub fn connection(&mut self) -> StoreResult<&mut AnyConnection> {
        self.slot
            .as_mut()
            .map(|taken| &mut *taken.connection)
            .ok_or_else(|| StoreError::Other("a lease without a connection".into()))
    }

    /// Converts a failed statement's error; a connection that broke is closed.
    pub fn failed(&mut self, error: sqlx::Error) -> StoreError {
        if !matches!(error, sqlx::Error::Database(_) | sqlx::Error::RowNotFound) {
            if let Some(taken) = self.slot.take() {
                drop(taken.connection.detach());
            }
        }
        error.into()
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        if !self.keep {
            self.slot.take();
        }
    }
}
