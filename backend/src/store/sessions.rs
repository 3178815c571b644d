//! Web sessions (tower-sessions) in the shared database, so a reloaded page can get a new
//! access token from any node. They go through the same pool and query layer as everything
//! else: a new session is one statement, and on SQLite no second pool competes for the
//! single writer.

use async_trait::async_trait;
use time::OffsetDateTime;
use tower_sessions::{
    session::{Id, Record},
    session_store::{self, Error},
    SessionStore,
};

use super::{millis, now_millis, Store, StoreResult};

/// The session store of a node; see the module docs.
#[derive(Clone)]
pub struct WebSessions {
    store: Store,
}

impl std::fmt::Debug for WebSessions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebSessions")
            .field("engine", &self.store.engine())
            .finish()
    }
}

impl Store {
    /// The web sessions kept in this store.
    pub fn web_sessions(&self) -> WebSessions {
        WebSessions {
            store: self.clone(),
        }
    }

    /// Deletes sessions whose expiry has passed; returns how many.
    pub async fn purge_expired_sessions(&self, now: i64) -> StoreResult<u64> {
        Ok(
            sqlx::query("delete from web_sessions where expires_at <= $1")
                .bind(now)
                .execute(&self.pool)
                .await?
                .rows_affected(),
        )
    }
}

#[async_trait]
impl SessionStore for WebSessions {
    /// Inserts only if the id is free; a taken id (as unlikely as guessing 128 random bits)
    /// gets a new one instead of overwriting someone else's session.
    async fn create(&self, record: &mut Record) -> session_store::Result<()> {
        let (data, expires_at) = encode(record)?;
        loop {
            let inserted = sqlx::query(
                "insert into web_sessions (id, data, expires_at) values ($1, $2, $3) \
                 on conflict (id) do nothing",
            )
            .bind(record.id.to_string())
            .bind(&data)
            .bind(expires_at)
            .execute(&self.store.pool)
            .await
            .map_err(backend)?;
            if inserted.rows_affected() == 1 {
                return Ok(());
            }
            record.id = Id::default();
        }
    }

    async fn save(&self, record: &Record) -> session_store::Result<()> {
        let (data, expires_at) = encode(record)?;
        sqlx::query(
            "insert into web_sessions (id, data, expires_at) values ($1, $2, $3) \
             on conflict (id) do update set data = excluded.data, expires_at = excluded.expires_at",
        )
        .bind(record.id.to_string())
        .bind(data)
        .bind(expires_at)
        .execute(&self.store.pool)
        .await
        .map_err(backend)?;
        Ok(())
    }

    async fn load(&self, id: &Id) -> session_store::Result<Option<Record>> {
        let row: Option<(String, i64)> = sqlx::query_as(
            "select data, expires_at from web_sessions where id = $1 and expires_at > $2",
        )
        .bind(id.to_string())
        .bind(now_millis())
        .fetch_optional(&self.store.pool)
        .await
        .map_err(backend)?;
        let Some((data, expires_at)) = row else {
            return Ok(None);
        };
        let expiry_date =
            OffsetDateTime::from_unix_timestamp_nanos(i128::from(expires_at) * 1_000_000)
                .map_err(|e| Error::Decode(e.to_string()))?;
        Ok(Some(Record {
            id: *id,
            data: serde_json::from_str(&data).map_err(|e| Error::Decode(e.to_string()))?,
            expiry_date,
        }))
    }

    async fn delete(&self, id: &Id) -> session_store::Result<()> {
        sqlx::query("delete from web_sessions where id = $1")
            .bind(id.to_string())
            .execute(&self.store.pool)
            .await
            .map_err(backend)?;
        Ok(())
    }
}

/// The stored form of a record: its data as JSON and its expiry in milliseconds.
fn encode(record: &Record) -> session_store::Result<(String, i64)> {
    let data = serde_json::to_string(&record.data).map_err(|e| Error::Encode(e.to_string()))?;
    Ok((data, millis(record.expiry_date.into())))
}

fn backend(error: sqlx::Error) -> Error {
    Error::Backend(error.to_string())
}
