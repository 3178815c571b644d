//! All SQL lives here: one query layer over SQLite (embedded default) and PostgreSQL (clusters).
//!
//! Queries go through sqlx's `Any` driver and use only what both engines share: text ids,
//! integer millisecond times, `$n` parameters, `on conflict` and `returning`. So every rule
//! is written once, and the same test suite runs on both engines.

mod backups;
mod batch;
mod batch_facts;
mod board_append;
mod board_log;
mod boards;
mod clients;
mod connect;
mod counter_batch;
mod database_url;
mod error;
mod held_connection;
mod hosts;
mod idempotency;
mod lessons;
mod load;
mod login_failures;
mod login_writes;
mod nodes;
mod primary;
mod revocations;
mod sessions;
mod snapshot;
mod tokens;
mod uploads;
mod users;

pub use backups::BackupRecord;
pub use board_log::{
    notification_payloads, parse_notification, Appended, BoardSnapshot, LoggedEvent, NewCommand,
    EVENTS_CHANNEL,
};
pub use boards::{BoardRow, PairingRow};
pub use clients::ClientRow;
pub use database_url::DatabaseUrl;
pub use error::{StoreError, StoreResult};
pub use idempotency::{Claim, KeyClaim};
pub use lessons::{LessonRow, LessonUpdate};
pub use load::Loader;
pub use login_failures::{Budget, Slot};
pub use nodes::NodeRow;
pub use revocations::RevokedToken;
pub use sessions::{LoginSession, WebLogin, WebSessions, LOGIN_KEY};
pub use snapshot::{Column, ColumnType, Snapshot, Table, Value, BACKED_UP, LEFT_OUT};
pub use tokens::{LoginSpan, NewLogin, NewTokenPair, RefreshOwner, RotateOutcome, TokenPrincipal};
pub use uploads::{CatalogEntry, UploadRow};
pub use users::{NewUser, UserRow};

use std::{
    sync::{Arc, OnceLock},
    time::Duration,
};

use sqlx::{any::AnyConnectOptions, migrate::Migrator, AnyPool, ConnectOptions};

use self::{
    batch::Batcher,
    connect::{create_sqlite_file, is_in_memory, pool_options},
    held_connection::HeldConnection,
    primary::Primary,
};

/// Which engine a store talks to; a few statements (pragmas) differ.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Engine {
    Sqlite,
    Postgres,
}

/// How long a batch of statements may wait for the database unless the node says otherwise.
pub const DEFAULT_STATEMENT_TIMEOUT: Duration = Duration::from_secs(5);

/// How a SQLite transaction that writes begins (see [`Store::begin_write`]).
const SQLITE_BEGIN_WRITE: &str = "begin immediate";

/// The database of a node: cheap to clone, shared by every request.
#[derive(Clone)]
pub struct Store {
    pool: AnyPool,
    engine: Engine,
    batches: Arc<Batches>,
}

/// The statements every login runs, each behind its own batcher (see `batch`).
struct Batches {
    users: Batcher<String, Option<UserRow>>,
    login_writes: Batcher<login_writes::LoginWrite, bool>,
    appends: Batcher<NewCommand, Appended>,
    counters: Batcher<counter_batch::CounterOp, counter_batch::CounterAnswer>,
    connections: [HeldConnection; 4],
    readers: Option<AnyPool>,
    /// How long a batch, or a readiness probe, may wait for the database.
    deadline: Duration,
    /// On PostgreSQL: which host is the primary, and the task that follows it.
    primary: Option<(Arc<Primary>, tokio::task::AbortHandle)>,
}

impl Drop for Batches {
    fn drop(&mut self) {
        if let Some((_, watch)) = &self.primary {
            watch.abort();
        }
    }
}

impl Batches {
    /// Connections of the SQLite read pool: one per read batcher, one for other reads.
    const READERS: u32 = 2;

    /// Board commands appended per transaction at most: at a busy hour one commit serves many
    /// classrooms.
    const MAX_APPENDS: usize = 64;

    /// Read batchers use `readers` when given; on PostgreSQL every batcher keeps a connection.
    /// Every batch gets `deadline` (see [`Batcher::spawn`]).
    fn spawn(
        pool: &AnyPool,
        readers: Option<&AnyPool>,
        engine: Engine,
        deadline: Duration,
        primary: Option<Arc<Primary>>,
    ) -> Self {
        let writer = || match engine {
            Engine::Postgres => HeldConnection::kept(pool.clone(), Some(deadline), primary.clone()),
            Engine::Sqlite => HeldConnection::per_batch(pool.clone()),
        };
        let reader = || match readers {
            Some(readers) => HeldConnection::kept(readers.clone(), None, None),
            None => writer(),
        };
        let connections = [reader(), writer(), writer(), writer()];
        let [user_reads, logins, appends, counters] = connections.clone();
        Self {
            users: Batcher::spawn(user_reads, deadline, users::find_users),
            login_writes: Batcher::spawn(logins, deadline, move |held, new| {
                login_writes::write_batch(held, engine, new)
            }),
            appends: Batcher::spawn_sized(
                Self::MAX_APPENDS,
                appends,
                deadline,
                move |held, commands| board_append::append_batch(held, engine, commands),
            ),
            counters: Batcher::spawn(counters, deadline, move |held, ops| {
                counter_batch::run_batch(held, engine, ops)
            }),
            connections,
            readers: readers.cloned(),
            deadline,
            primary: primary.map(|primary| {
                let watch = primary.spawn_watch(pool.clone());
                (primary, watch)
            }),
        }
    }
}

impl Store {
    /// Opens a pool whose batched statements wait at most [`DEFAULT_STATEMENT_TIMEOUT`].
    pub async fn connect(url: &DatabaseUrl) -> StoreResult<Self> {
        Self::connect_with_timeout(url, DEFAULT_STATEMENT_TIMEOUT).await
    }

    /// Opens a pool. SQLite runs in WAL mode with a busy timeout so the node's own tasks
    /// never see "database is locked". The statements every command and login runs (the
    /// batches) fail with `Unavailable` after `statement_timeout`, whatever the network does.
    pub async fn connect_with_timeout(
        url: &DatabaseUrl,
        statement_timeout: Duration,
    ) -> StoreResult<Self> {
        sqlx::any::install_default_drivers();
        let engine = if url.is_sqlite() {
            Engine::Sqlite
        } else {
            Engine::Postgres
        };
        if engine == Engine::Sqlite {
            create_sqlite_file(url.expose())?;
        }
        let primary = match engine {
            Engine::Postgres => Some(Primary::find(url.expose()).await?),
            Engine::Sqlite => None,
        };
        let options = match &primary {
            Some(primary) => primary.connect_options()?,
            None => url
                .expose()
                .parse::<AnyConnectOptions>()
                .map_err(|e| StoreError::Other(format!("bad database_url: {e}")))?
                .log_slow_statements(tracing::log::LevelFilter::Warn, primary::SLOW),
        };
        // SQLite has one writer at a time; a single connection queues writers in the pool
        // instead of in SQLite's sleeping busy handler, and a transaction that reads before it
        // writes can never fail to upgrade its lock.
        let writers = if engine == Engine::Sqlite { 1 } else { 16 };
        let pool = pool_options(engine, writers, primary.clone())
            .connect_with(options.clone())
            .await?;
        // In WAL mode readers never wait for the writer: on SQLite the batched login reads get
        // connections of their own (an in-memory database exists once per connection, so
        // there they share the writer's).
        let readers = match engine {
            Engine::Sqlite if !is_in_memory(url.expose()) => {
                Some(pool_options(engine, Batches::READERS, None).connect_lazy_with(options))
            }
            _ => None,
        };
        let batches = Arc::new(Batches::spawn(
            &pool,
            readers.as_ref(),
            engine,
            statement_timeout,
            primary,
        ));
        Ok(Self {
            pool,
            engine,
            batches,
        })
    }

    /// Applies pending migrations. On PostgreSQL sqlx holds an advisory lock meanwhile, so
    /// nodes starting together against one database do not race.
    pub async fn migrate(&self) -> StoreResult<()> {
        self.migrator()
            .run(&self.pool)
            .await
            .map_err(|e| StoreError::Other(format!("migration failed: {e}")))
    }

    /// This release's migrations. Migrations a newer release applied are let be: during a
    /// rolling upgrade the nodes still on this release must be able to restart on the schema
    /// the new release migrated (expand/contract keeps it usable to them).
    fn migrator(&self) -> &'static Migrator {
        static SQLITE: OnceLock<Migrator> = OnceLock::new();
        static POSTGRES: OnceLock<Migrator> = OnceLock::new();
        let (cell, embedded) = match self.engine {
            Engine::Sqlite => (&SQLITE, sqlx::migrate!("../migrations/sqlite")),
            Engine::Postgres => (&POSTGRES, sqlx::migrate!("../migrations/postgres")),
        };
        cell.get_or_init(|| {
            let mut migrator = embedded;
            migrator.set_ignore_missing(true);
            migrator
        })
    }

    /// A round trip on every connection commands and logins use, and on the pool, each
    /// within the statement deadline: `/readyz` says ready only when they would be served.
    pub async fn ping(&self) -> StoreResult<()> {
        if let Some((primary, _)) = &self.batches.primary {
            primary.check_known()?;
        }
        let deadline = self.batches.deadline;
        let pool = async {
            tokio::time::timeout(deadline, sqlx::query("select 1").execute(&self.pool))
                .await
                .map_err(|_| StoreError::stalled(deadline))??;
            Ok::<_, StoreError>(())
        };
        let held = self
            .batches
            .connections
            .iter()
            .map(|connection| connection.probe(deadline));
        let (pool, held) = tokio::join!(pool, futures_util::future::join_all(held));
        pool?;
        held.into_iter().collect()
    }

    pub fn engine(&self) -> Engine {
        self.engine
    }

    /// How long this node has been without a primary database, while it is (PostgreSQL).
    pub fn database_lost_for(&self) -> Option<Duration> {
        let (primary, _) = self.batches.primary.as_ref()?;
        primary.lost_for()
    }

    /// On PostgreSQL, the current primary's URL, waiting up to `within` for one to be known:
    /// where the node's listener connects (after a failover, to the new primary).
    pub async fn primary_url(&self, within: Duration) -> Option<String> {
        let (primary, _) = self.batches.primary.as_ref()?;
        tokio::time::timeout(within, primary.url()).await.ok()
    }

    /// The pool itself, for what batches and one-off statements do not cover.
    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }

    /// Starts a transaction that writes. On SQLite it takes the write lock at once: a
    /// deferred transaction that read first cannot upgrade once another process (an admin's
    /// `boardcast user add`, a backup recording itself) has written meanwhile, and fails at
    /// once instead of waiting its turn.
    async fn begin_write(&self) -> StoreResult<sqlx::Transaction<'static, sqlx::Any>> {
        Ok(match self.engine {
            Engine::Sqlite => self.pool.begin_with(SQLITE_BEGIN_WRITE).await?,
            Engine::Postgres => self.pool.begin().await?,
        })
    }

    /// Where reads that may run beside a write go: SQLite's readers (WAL), else the pool.
    fn read_pool(&self) -> &AnyPool {
        self.batches.readers.as_ref().unwrap_or(&self.pool)
    }

    /// Closes the pool, waiting for running queries (graceful shutdown).
    pub async fn close(&self) {
        if let Some((_, watch)) = &self.batches.primary {
            watch.abort();
        }
        for held in &self.batches.connections {
            held.release().await;
        }
        if let Some(readers) = &self.batches.readers {
            readers.close().await;
        }
        self.pool.close().await;
    }
}

/// A duration in the stored unit, saturating instead of overflowing.
pub fn duration_millis(duration: Duration) -> i64 {
    i64::try_from(duration.as_millis()).unwrap_or(i64::MAX)
}
