//! The store's one error type: what a caller can act on (not found, a named constraint, the
//! database unreachable or stalled) apart from what it cannot, so the HTTP layer answers 404,
//! 409, a fast 503 or a bare 500 from one `match`.

use std::time::Duration;

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
