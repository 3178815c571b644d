//! Who is this person and what may they do: the answer to a login, from the school's LDAP
//! directory or, when none is configured, from the builtin user table.

mod builtin;
mod ldap;

pub use builtin::BuiltinDirectory;
pub use ldap::LdapDirectory;

pub use crate::domain::people::{Identity, Roles};

use async_trait::async_trait;

/// Why a login could not be checked. `InvalidCredentials` becomes `invalid_grant`;
/// `Unreachable` becomes a fast `503 temporarily_unavailable` so the client can retry.
#[derive(Debug, thiserror::Error)]
pub enum DirectoryError {
    #[error("unknown user or wrong password")]
    InvalidCredentials,
    #[error("directory unreachable: {0}")]
    Unreachable(String),
    #[error("directory failure: {0}")]
    Other(String),
}

/// The health of a directory, for `/metrics`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BreakerState {
    Closed,
    Open,
    HalfOpen,
}

/// Checks passwords and tells roles. Implementations must refuse empty passwords themselves
/// too, bound every call by a timeout, and never log the password.
#[async_trait]
pub trait Directory: Send + Sync {
    async fn authenticate(
        &self,
        username: &str,
        password: &str,
    ) -> Result<Identity, DirectoryError>;

    /// The account `username` as the directory knows it now, without a password: how a
    /// refresh learns that a teacher was removed or lost a role. `InvalidCredentials` when
    /// there is no such account.
    async fn lookup(&self, username: &str) -> Result<Identity, DirectoryError>;

    /// The circuit breaker's state, or `Closed` for directories that need none.
    fn breaker_state(&self) -> BreakerState {
        BreakerState::Closed
    }
}
