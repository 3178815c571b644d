//! What a login writes, batched: its tokens and, for the web client, the record behind its
//! session cookie, which ends the session the browser held before. A login's writes are one
//! entry, so its tokens and its session commit together, and a rush of logins costs one
//! commit per batch: one statement on PostgreSQL, one transaction on SQLite.

use sqlx::{AnyConnection, Connection};

use super::{
    batch::placeholders,
    held_connection::HeldConnection,
    sessions::{self, NewSession},
    tokens::{self, NewFamily},
    Engine, StoreResult, SQLITE_BEGIN_WRITE,
};

/// One login's writes.
pub(super) struct LoginWrite {
    pub family: NewFamily,
    pub session: Option<SessionStart>,
}

/// The web session a login starts.
pub(super) struct SessionStart {
    pub record: NewSession,
    /// The session the browser held before, ended by this login.
    pub replaces: Option<String>,
}

/// Runs a batch of writes; each gets `true` if its session went in (not when it had none,
/// nor when the session's id was taken).
pub(super) async fn write_batch(
    held: HeldConnection,
    engine: Engine,
    writes: Vec<LoginWrite>,
) -> StoreResult<Vec<bool>> {
    let batch = Batch {
        families: writes.iter().map(|write| &write.family).collect(),
        sessions: starts(&writes).map(|start| &start.record).collect(),
        replaced: starts(&writes)
            .filter_map(|start| start.replaces.as_deref())
            .collect(),
    };
    let mut lease = held.lease().await?;
    let connection = lease.connection()?;
    let written = match engine {
        _ if batch.sessions.is_empty() => tokens::insert_families(connection, &batch.families)
            .await
            .map(|()| Vec::new()),
        Engine::Postgres => batch.write_in_one_statement(connection).await,
        Engine::Sqlite => batch.write_in_one_transaction(connection).await,
    };
    let mut inserted = written.map_err(|e| lease.failed(e))?.into_iter();
    Ok(writes
        .iter()
        .map(|write| write.session.is_some() && inserted.next().unwrap_or(false))
        .collect())
}

fn starts(writes: &[LoginWrite]) -> impl Iterator<Item = &SessionStart> {
    writes.iter().filter_map(|write| write.session.as_ref())
}

/// The rows of one batch; it starts at least one session (tokens alone are one insert).
struct Batch<'a> {
    families: Vec<&'a NewFamily>,
    sessions: Vec<&'a NewSession>,
    replaced: Vec<&'a str>,
}

impl Batch<'_> {
    /// PostgreSQL runs every part as a data-modifying `with` query of one statement: one
    /// round trip, and atomic without a transaction.
    async fn write_in_one_statement(
        &self,
        connection: &mut AnyConnection,
    ) -> Result<Vec<bool>, sqlx::Error> {
        let mut parts = vec![format!(
            "families as ({})",
            tokens::insert_families_sql(1, self.families.len())
        )];
        let mut next = 1 + tokens::FAMILY_PARAMETERS * self.families.len();
        if !self.replaced.is_empty() {
            parts.push(format!(
                "replaced as (delete from web_sessions where id in ({}))",
                placeholders(next, self.replaced.len())
            ));
            next += self.replaced.len();
        }
        let insert = sessions::insert_sessions_sql(next, self.sessions.len());
        let sql = format!(
            "with {}, started as ({insert}) select id from started",
            parts.join(", ")
        );
        let mut query = sqlx::query(&sql);
        for family in &self.families {
            query = tokens::bind_family(query, family);
        }
        for id in &self.replaced {
            query = query.bind(*id);
        }
        for session in &self.sessions {
            query = sessions::bind_session(query, session);
        }
        let inserted = query.fetch_all(connection).await?;
        sessions::which_went_in(&self.sessions, &inserted)
    }

    /// SQLite has no data-modifying `with`: one statement per part, in one transaction.
    async fn write_in_one_transaction(
        &self,
        connection: &mut AnyConnection,
    ) -> Result<Vec<bool>, sqlx::Error> {
        let mut tx = connection.begin_with(SQLITE_BEGIN_WRITE).await?;
        tokens::insert_families(&mut tx, &self.families).await?;
        if !self.replaced.is_empty() {
            sessions::delete_sessions(&mut tx, &self.replaced).await?;
        }
        let inserted = sessions::insert_sessions(&mut tx, &self.sessions).await?;
        tx.commit().await?;
        Ok(inserted)
    }
}
