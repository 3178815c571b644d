//! Web sessions (tower-sessions) in the shared database, so a reloaded page can get a new
//! access token from any node. They go through the same pool and query layer as everything
//! else, so on SQLite no second pool competes for the single writer. A login writes its
//! session together with its tokens (see `login_writes`): the record's shape is defined here,
//! next to the store that reads it back.
//!
//! The cookie's value is a bearer credential, so the table keeps only its SHA-256 (see
//! [`stored_id`]): a leaked database or backup holds no usable session.

use std::collections::HashMap;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use sqlx::{any::AnyRow, AnyConnection, Row};
use time::OffsetDateTime;
use tower_sessions::{
    session::{Id, Record},
    session_store::{self, Error},
    SessionStore,
};

use super::{
    batch::{placeholders, AnyQuery},
    login_writes::SessionStart,
    Store, StoreError, StoreResult,
};
use crate::clock::{unix_millis, Clock};

/// Where a web session keeps its login.
pub const LOGIN_KEY: &str = "login";

/// The part of a login a web session remembers: its token family, never a token.
#[derive(Debug, Serialize, Deserialize)]
pub struct WebLogin {
    pub family_id: String,
}

/// A web session for a login to start: its id (fresh, never the one the browser sent, so
/// a planted cookie is useless), when it ends, and the session the browser held before,
/// which the login ends.
#[derive(Debug, Clone)]
pub struct LoginSession {
    pub id: Id,
    pub expires_at: i64,
    pub replaces: Option<Id>,
}

impl LoginSession {
    /// The rows that start this session for the login of `family_id`.
    pub(super) fn start(&self, family_id: &str) -> StoreResult<SessionStart> {
        let login = WebLogin {
            family_id: family_id.to_string(),
        };
        let data = serde_json::to_string(&HashMap::from([(LOGIN_KEY, login)]))
            .map_err(|e| StoreError::Other(e.to_string()))?;
        Ok(SessionStart {
            record: NewSession {
                id: stored_id(&self.id),
                data,
                expires_at: self.expires_at,
            },
            replaces: self.replaces.as_ref().map(stored_id),
        })
    }
}

/// The session store of a node; see the module docs.
#[derive(Clone)]
pub struct WebSessions {
    store: Store,
    /// Decides which sessions have expired.
    clock: Clock,
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
    pub fn web_sessions(&self, clock: Clock) -> WebSessions {
        WebSessions {
            store: self.clone(),
            clock,
        }
    }

    /// Starts a web session for the live login of `family_id` (a web client's refresh
    /// grant); says whether it went in (see [`NewLogin`](super::NewLogin) for why it may not).
    pub async fn start_web_session(
        &self,
        family_id: &str,
        session: &LoginSession,
    ) -> StoreResult<bool> {
        let start = session.start(family_id)?;
        let mut tx = self.begin_write().await?;
        if let Some(replaced) = &start.replaces {
            delete_sessions(&mut tx, &[replaced]).await?;
        }
        let inserted = insert_sessions(&mut tx, &[&start.record]).await?;
        tx.commit().await?;
        Ok(inserted == [true])
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
    /// Inserts only if the id is free: a taken id (as unlikely as guessing 128 random bits)
    /// gets a new one instead of overwriting someone else's session. Logins start their
    /// sessions without this (see [`LoginSession`]); it is here for the trait's sake.
    async fn create(&self, record: &mut Record) -> session_store::Result<()> {
        let (data, expires_at) = encode(record)?;
        loop {
            let inserted = sqlx::query(
                "insert into web_sessions (id, data, expires_at) values ($1, $2, $3) \
                 on conflict (id) do nothing",
            )
            .bind(stored_id(&record.id))
            .bind(&data)
            .bind(expires_at)
            .execute(&self.store.pool)
            .await
            .map_err(backend)?
            .rows_affected();
            if inserted == 1 {
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
        .bind(stored_id(&record.id))
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
        .bind(stored_id(id))
        .bind(self.clock.now_millis())
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
            .bind(stored_id(id))
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

/// Parameters each new session binds (see [`bind_session`]).
const SESSION_PARAMETERS: usize = 3;

/// One statement inserting a batch of new sessions; says for each whether it went in.
pub(super) async fn insert_sessions(
    connection: &mut AnyConnection,
    sessions: &[&NewSession],
) -> Result<Vec<bool>, sqlx::Error> {
    let sql = insert_sessions_sql(1, sessions.len());
    let mut query = sqlx::query(&sql);
    for session in sessions {
        query = bind_session(query, session);
    }
    let inserted = query.fetch_all(connection).await?;
    which_went_in(sessions, &inserted)
}

/// An insert of `count` sessions, numbering its parameters from `$first`, that skips taken
/// ids and returns those it inserted.
pub(super) fn insert_sessions_sql(first: usize, count: usize) -> String {
    let rows: Vec<String> = (0..count)
        .map(|i| {
            format!(
                "({})",
                placeholders(first + SESSION_PARAMETERS * i, SESSION_PARAMETERS)
            )
        })
        .collect();
    format!(
        "insert into web_sessions (id, data, expires_at) values {} \
         on conflict (id) do nothing returning id",
        rows.join(", ")
    )
}

pub(super) fn bind_session<'q>(query: AnyQuery<'q>, session: &'q NewSession) -> AnyQuery<'q> {
    query
        .bind(&session.id)
        .bind(&session.data)
        .bind(session.expires_at)
}

/// For each session of a batch, whether its id is among the `inserted` rows (an `id`
/// column). An id twice in one batch went in once: only the first of the two may claim it.
pub(super) fn which_went_in(
    sessions: &[&NewSession],
    inserted: &[AnyRow],
) -> Result<Vec<bool>, sqlx::Error> {
    let mut inserted = inserted
        .iter()
        .map(|row| row.try_get::<String, _>(0))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(sessions
        .iter()
        .map(
            |session| match inserted.iter().position(|id| id == &session.id) {
                Some(found) => {
                    inserted.swap_remove(found);
                    true
                }
                None => false,
            },
        )
        .collect())
}

/// Ends the sessions of a batch that their browsers replaced with a new login.
pub(super) async fn delete_sessions(
    connection: &mut AnyConnection,
    ids: &[&str],
) -> Result<(), sqlx::Error> {
    let sql = format!(
        "delete from web_sessions where id in ({})",
        placeholders(1, ids.len())
    );
    let mut query = sqlx::query(&sql);
    for id in ids {
        query = query.bind(*id);
    }
    query.execute(connection).await?;
    Ok(())
}

/// What the table keeps of a session id: its SHA-256, hex encoded. Session ids are 128
/// random bits, so a plain hash cannot be reversed by guessing.
fn stored_id(id: &Id) -> String {
    hex::encode(Sha256::digest(id.to_string().as_bytes()))
}

/// The stored form of a record: its data as JSON and its expiry in milliseconds.
fn encode(record: &Record) -> session_store::Result<(String, i64)> {
    let data = serde_json::to_string(&record.data).map_err(|e| Error::Encode(e.to_string()))?;
    Ok((data, unix_millis(record.expiry_date.into())))
}

fn backend(error: sqlx::Error) -> Error {
    Error::Backend(error.to_string())
}
