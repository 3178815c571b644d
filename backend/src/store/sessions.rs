//! Web sessions (tower-sessions) in the shared database, so a reloaded page can get a new
//! access token from any node. They go through the same pool and query layer as everything
//! else: a new session is one statement, and on SQLite no second pool competes for the
//! single writer.

use async_trait::async_trait;
use sqlx::AnyConnection;
use time::OffsetDateTime;
use tower_sessions::{
    session::{Id, Record},
    session_store::{self, Error},
    SessionStore,
};

use super::{
    batch::placeholders, login_writes::LoginWrite, millis, now_millis, Store, StoreResult,
};

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
    /// gets a new one instead of overwriting someone else's session. Concurrent logins share
    /// one statement (see `batch`).
    async fn create(&self, record: &mut Record) -> session_store::Result<()> {
        let (data, expires_at) = encode(record)?;
        loop {
            let session = NewSession {
                id: record.id.to_string(),
                data: data.clone(),
                expires_at,
            };
            let inserted = self
                .store
                .batches
                .login_writes
                .call(LoginWrite::Session(session))
                .await
                .map_err(|e| Error::Backend(e.to_string()))?;
            if inserted {
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

/// A session to insert unless its id is taken.
pub(super) struct NewSession {
    id: String,
    data: String,
    expires_at: i64,
}

/// One statement inserting a batch of new sessions; says for each whether it went in.
pub(super) async fn insert_sessions(
    connection: &mut AnyConnection,
    sessions: &[&NewSession],
) -> Result<Vec<bool>, sqlx::Error> {
    let rows: Vec<String> = (0..sessions.len())
        .map(|i| format!("({})", placeholders(3 * i + 1, 3)))
        .collect();
    let sql = format!(
        "insert into web_sessions (id, data, expires_at) values {} \
         on conflict (id) do nothing returning id",
        rows.join(", ")
    );
    let mut query = sqlx::query_as::<_, (String,)>(&sql);
    for session in sessions {
        query = query
            .bind(&session.id)
            .bind(&session.data)
            .bind(session.expires_at);
    }
    let mut inserted = query.fetch_all(connection).await?;
    // An id twice in one batch went in once: only the first of the two may claim it.
    Ok(sessions
        .iter()
        .map(
            |session| match inserted.iter().position(|(id,)| id == &session.id) {
                Some(found) => {
                    inserted.swap_remove(found);
                    true
                }
                None => false,
            },
        )
        .collect())
}

/// The stored form of a record: its data as JSON and its expiry in milliseconds.
fn encode(record: &Record) -> session_store::Result<(String, i64)> {
    let data = serde_json::to_string(&record.data).map_err(|e| Error::Encode(e.to_string()))?;
    Ok((data, millis(record.expiry_date.into())))
}

fn backend(error: sqlx::Error) -> Error {
    Error::Backend(error.to_string())
}
