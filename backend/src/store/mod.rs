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
mod counter_batch;
mod database_url;
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

use std::{sync::Arc, time::Duration};

use sqlx::{
    any::{AnyConnectOptions, AnyPoolOptions},
    AnyPool, ConnectOptions, Executor,
};

use self::{
    batch::{Batcher, HeldConnection},
    primary::Primary,
};

/// Why a store call failed. `NotFound` → 404, `Conflict` → 409, `Unavailable` → fast 503,
/// `Other` → 500 with details only in the log.
#[derive(Debug, Clone, thiserror::Error)]
pub enum StoreError {
    #[error("not found")]
    NotFound,
    #[error("conflicts with existing data ({constraint})")]
    Conflict { constraint: String },
    #[error("database unavailable: {0}")]
    Unavailable(String),
    #[error("database error: {0}")]
    Other(String),
}

impl From<sqlx::Error> for StoreError {
    fn from(error: sqlx::Error) -> Self {
        match &error {
            sqlx::Error::RowNotFound => Self::NotFound,
            sqlx::Error::Database(db) if db.is_unique_violation() => Self::Conflict {
                constraint: constraint_name(db.constraint(), db.message()),
            },
            // PostgreSQL cancelled a statement that ran past its `statement_timeout`.
            sqlx::Error::Database(db) if db.code().as_deref() == Some(QUERY_CANCELED) => {
                Self::Unavailable(error.to_string())
            }
            // A server shutting down or restarting, or a standby (a demoted primary): the
            // node is moving to the new primary, and the client retries.
            sqlx::Error::Database(db)
                if db.code().as_deref().is_some_and(|code| {
                    code.starts_with("08") || code.starts_with("57P") || code == READ_ONLY
                }) =>
            {
                Self::Unavailable(error.to_string())
            }
            sqlx::Error::Io(_)
            | sqlx::Error::PoolTimedOut
            | sqlx::Error::PoolClosed
            | sqlx::Error::Tls(_) => Self::Unavailable(error.to_string()),
            _ => Self::Other(error.to_string()),
        }
    }
}

/// PostgreSQL's SQLSTATE for a statement cancelled (by `statement_timeout`, among others).
const QUERY_CANCELED: &str = "57014";
/// PostgreSQL's SQLSTATE for a write refused because the server is a standby.
const READ_ONLY: &str = "25006";

impl StoreError {
    /// The database did not answer within `deadline`: a fast 503 the client retries.
    pub fn stalled(deadline: Duration) -> Self {
        Self::Unavailable(format!("the database did not answer within {deadline:?}"))
    }
}

/// The violated constraint's name, the same on both engines. PostgreSQL names it; SQLite only
/// says "UNIQUE constraint failed: users.username", which by our naming rule
/// (`<table>_<column>_key`, see migrations/README.md) is `users_username_key`.
fn constraint_name(named: Option<&str>, message: &str) -> String {
    if let Some(name) = named {
        return name.to_string();
    }
    message
        .rsplit_once("failed: ")
        .map(|(_, columns)| format!("{}_key", columns.replace(['.', ','], "_").replace(' ', "")))
        .unwrap_or_else(|| "unique".to_string())
}

pub type StoreResult<T> = Result<T, StoreError>;

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

    fn migrator(&self) -> &'static sqlx::migrate::Migrator {
        static SQLITE: sqlx::migrate::Migrator = sqlx::migrate!("../migrations/sqlite");
        static POSTGRES: sqlx::migrate::Migrator = sqlx::migrate!("../migrations/postgres");
        match self.engine {
            Engine::Sqlite => &SQLITE,
            Engine::Postgres => &POSTGRES,
        }
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

/// With `primary`, connections opened before the primary was lost are dropped when next
/// taken, and a new connection that reaches a standby is refused (a fast 503).
fn pool_options(
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

fn is_in_memory(url: &str) -> bool {
    url.contains(":memory:") || url.contains("mode=memory")
}

/// Creates the SQLite file's directory (0700) and the file itself (0600) when missing, so
/// tokens, sessions and lessons are readable by the node's user only, whatever the umask.
/// Existing directories and files keep the permissions their operator gave them.
fn create_sqlite_file(url: &str) -> StoreResult<()> {
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

/// A duration in the stored unit, saturating instead of overflowing.
pub fn duration_millis(duration: Duration) -> i64 {
    i64::try_from(duration.as_millis()).unwrap_or(i64::MAX)
}
