//! Argon2 password hashes for builtin accounts. Hashing is deliberately slow, so it runs on
//! the blocking pool and never stalls the sockets served by the async workers.

use argon2::{
    password_hash::{rand_core::OsRng, PasswordHash, PasswordHasher, PasswordVerifier, SaltString},
    Argon2,
};

/// Hashes `password` into a PHC string (algorithm, parameters and salt included).
pub async fn hash_password(password: String) -> anyhow::Result<String> {
    tokio::task::spawn_blocking(move || {
        let salt = SaltString::generate(&mut OsRng);
        Argon2::default()
            .hash_password(password.as_bytes(), &salt)
            .map(|hash| hash.to_string())
            .map_err(|e| anyhow::anyhow!("cannot hash password: {e}"))
    })
    .await?
}

/// Checks `password` against a stored PHC string. With no stored hash (unknown user) it
/// checks against a throwaway hash, so the answer takes as long either way and response times
/// do not reveal which usernames exist.
pub async fn verify_password(password: String, stored: Option<String>) -> bool {
    tokio::task::spawn_blocking(move || {
        let stored = stored.unwrap_or_else(|| UNKNOWN_USER_HASH.to_string());
        let Ok(hash) = PasswordHash::new(&stored) else {
            return false;
        };
        Argon2::default()
            .verify_password(password.as_bytes(), &hash)
            .is_ok()
    })
    .await
    .unwrap_or(false)
}

/// A valid hash of a random string nobody knows, with the default parameters.
const UNKNOWN_USER_HASH: &str =
    "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0c2FsdA$0F7x8Q1yHk3TRP9CkU5RrXi5zQb2D8XJ7xG2+Fz1kwk";

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_hash_verifies_only_its_own_password() {
        let hash = hash_password("correct horse".into()).await.unwrap();
        assert!(hash.starts_with("$argon2id$"));
        assert!(verify_password("correct horse".into(), Some(hash.clone())).await);
        assert!(!verify_password("wrong horse".into(), Some(hash)).await);
    }

    #[tokio::test]
    async fn unknown_users_never_verify() {
        assert!(!verify_password(String::new(), None).await);
        assert!(!verify_password("anything".into(), None).await);
    }

    #[test]
    fn the_unknown_user_hash_is_well_formed() {
        assert!(PasswordHash::new(UNKNOWN_USER_HASH).is_ok());
    }
}
