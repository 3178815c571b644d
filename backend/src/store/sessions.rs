//! Web sessions in the shared database, through tower-sessions' sqlx stores, so a reloaded
//! page can get a new access token from any node. The table comes from our migrations (the
//! stores' own `migrate` would race when several nodes start at once).

use std::time::Duration;

use async_trait::async_trait;
use tower_sessions::{
    session::{Id, Record},
    session_store::{self, ExpiredDeletion},
    SessionStore,
};
use tower_sessions_sqlx_store::{
    sqlx::{postgres::PgPoolOptions, sqlite::SqlitePoolOptions},
    PostgresStore, SqliteStore,
};

use super::{Engine, StoreError, StoreResult};
use crate::config::DatabaseUrl;

/// Table name shared by both engines (see migrations/*/0002_sessions.sql).
const TABLE: &str = "tower_sessions";

/// The session store of the node's engine.
#[derive(Debug, Clone)]
pub enum SessionBackend {
    Sqlite(SqliteStore),
    Postgres(PostgresStore),
}

impl SessionBackend {
    /// Opens a small pool of its own: the sqlx stores need a typed pool, the rest of the
    /// store speaks through the `Any` driver.
    pub async fn connect(url: &DatabaseUrl, engine: Engine) -> StoreResult<Self> {
        let bad_name = |e: String| StoreError::Other(format!("session table: {e}"));
        Ok(match engine {
            Engine::Sqlite => {
                let options = url
                    .expose()
                    .parse::<sqlx::sqlite::SqliteConnectOptions>()?
                    .journal_mode(sqlx::sqlite::SqliteJournalMode::Wal)
                    .busy_timeout(Duration::from_secs(5));
                let pool = SqlitePoolOptions::new()
                    .max_connections(2)
                    .connect_with(options)
                    .await?;
                Self::Sqlite(
                    SqliteStore::new(pool)
                        .with_table_name(TABLE)
                        .map_err(bad_name)?,
                )
            }
            Engine::Postgres => {
                let pool = PgPoolOptions::new()
                    .max_connections(4)
                    .acquire_timeout(Duration::from_secs(3))
                    .connect(url.expose())
                    .await?;
                Self::Postgres(
                    PostgresStore::new(pool)
                        .with_schema_name("public")
                        .map_err(bad_name)?
                        .with_table_name(TABLE)
                        .map_err(bad_name)?,
                )
            }
        })
    }
}

#[async_trait]
impl SessionStore for SessionBackend {
    async fn create(&self, record: &mut Record) -> session_store::Result<()> {
        match self {
            Self::Sqlite(store) => store.create(record).await,
            Self::Postgres(store) => store.create(record).await,
        }
    }

    async fn save(&self, record: &Record) -> session_store::Result<()> {
        match self {
            Self::Sqlite(store) => store.save(record).await,
            Self::Postgres(store) => store.save(record).await,
        }
    }

    async fn load(&self, id: &Id) -> session_store::Result<Option<Record>> {
        match self {
            Self::Sqlite(store) => store.load(id).await,
            Self::Postgres(store) => store.load(id).await,
        }
    }

    async fn delete(&self, id: &Id) -> session_store::Result<()> {
        match self {
            Self::Sqlite(store) => store.delete(id).await,
            Self::Postgres(store) => store.delete(id).await,
        }
    }
}

#[async_trait]
impl ExpiredDeletion for SessionBackend {
    async fn delete_expired(&self) -> session_store::Result<()> {
        match self {
            Self::Sqlite(store) => store.delete_expired().await,
            Self::Postgres(store) => store.delete_expired().await,
        }
    }
}
