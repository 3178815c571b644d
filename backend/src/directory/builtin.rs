//! The embedded default directory: accounts in the boardcast database with Argon2 hashes,
//! managed by `boardcast user ...`. For schools without LDAP, and for trying boardcast out.

use async_trait::async_trait;

use super::{Directory, DirectoryError, Identity, Roles};
use crate::{
    auth::password::verify_password,
    store::{Store, StoreError, UserRow},
};

/// Checks passwords against the `users` table.
pub struct BuiltinDirectory {
    store: Store,
}

impl BuiltinDirectory {
    pub fn new(store: Store) -> Self {
        Self { store }
    }
}

#[async_trait]
impl Directory for BuiltinDirectory {
    async fn authenticate(
        &self,
        username: &str,
        password: &str,
    ) -> Result<Identity, DirectoryError> {
        if password.is_empty() {
            return Err(DirectoryError::InvalidCredentials);
        }
        let user = self.store.find_user(username).await.map_err(|e| match e {
            StoreError::Unavailable(reason) => DirectoryError::Unreachable(reason),
            other => DirectoryError::Other(other.to_string()),
        })?;
        let stored_hash = user.as_ref().and_then(|u| u.password_hash.clone());
        // Verify even for unknown users, so timing does not reveal which names exist.
        if !verify_password(password.to_string(), stored_hash).await {
            return Err(DirectoryError::InvalidCredentials);
        }
        let user = user.ok_or(DirectoryError::InvalidCredentials)?;
        Ok(identity_of(user))
    }

    async fn lookup(&self, username: &str) -> Result<Identity, DirectoryError> {
        let user = self.store.find_user(username).await.map_err(|e| match e {
            StoreError::Unavailable(reason) => DirectoryError::Unreachable(reason),
            other => DirectoryError::Other(other.to_string()),
        })?;
        // A directory user (LDAP before the switch to builtin) has no password here: gone.
        user.filter(|user| user.password_hash.is_some())
            .map(identity_of)
            .ok_or(DirectoryError::InvalidCredentials)
    }
}

fn identity_of(user: UserRow) -> Identity {
    Identity {
        username: user.username,
        display_name: user.display_name,
        roles: Roles::parse(&user.roles),
    }
}
