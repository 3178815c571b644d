//! What a login writes, its tokens and its web session, batched together: a batch that holds
//! both kinds commits them in one transaction, so a rush of logins costs one commit (on
//! SQLite one fsync) per batch instead of one per kind.

use sqlx::{AnyConnection, Connection};

use super::{batch::HeldConnection, sessions::NewSession, tokens::NewFamily, StoreResult};

/// One login's write.
pub(super) enum LoginWrite {
    Family(NewFamily),
    Session(NewSession),
}

/// Runs a batch of writes; each gets `true` if it went in (a family always does, a session
/// unless its id was taken).
pub(super) async fn write_batch(
    held: HeldConnection,
    writes: Vec<LoginWrite>,
) -> StoreResult<Vec<bool>> {
    let mut families = Vec::new();
    let mut sessions = Vec::new();
    for write in writes.iter() {
        match write {
            LoginWrite::Family(family) => families.push(family),
            LoginWrite::Session(session) => sessions.push(session),
        }
    }
    let mut lease = held.lease().await?;
    let written = write_all(lease.connection()?, &families, &sessions).await;
    let mut sessions_inserted = written.map_err(|e| lease.failed(e))?.into_iter();
    Ok(writes
        .iter()
        .map(|write| match write {
            LoginWrite::Family(_) => true,
            LoginWrite::Session(_) => sessions_inserted.next().unwrap_or(false),
        })
        .collect())
}

async fn write_all(
    connection: &mut AnyConnection,
    families: &[&NewFamily],
    sessions: &[&NewSession],
) -> Result<Vec<bool>, sqlx::Error> {
    match (families.is_empty(), sessions.is_empty()) {
        (false, true) => {
            super::tokens::insert_families(connection, families).await?;
            Ok(Vec::new())
        }
        (true, _) => super::sessions::insert_sessions(connection, sessions).await,
        (false, false) => {
            let mut tx = connection.begin().await?;
            super::tokens::insert_families(&mut tx, families).await?;
            let inserted = super::sessions::insert_sessions(&mut tx, sessions).await?;
            tx.commit().await?;
            Ok(inserted)
        }
    }
}
