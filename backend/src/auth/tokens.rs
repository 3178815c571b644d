//! The token issuer and resource guard: mints 256-bit random tokens, stores only their
//! SHA-256 digests, and answers "whose token is this?" on every node.
//!
//! Each node keeps a short cache of tokens it has already checked, so a busy controller does
//! not cost a database round trip per request. A token revoked on another node therefore keeps
//! working here for at most `auth.token_cache_window` (5 s by default); revocations made on this
//! node take effect at once.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use rand::RngCore;
use sha2::{Digest, Sha256};
use tokio::sync::broadcast;
use tower_sessions::session::Id;

use crate::{
    config::AuthSettings,
    store::{
        duration_millis, LoginSession, LoginSpan, NewTokenPair, RefreshOwner, RevokedToken,
        RotateOutcome, Store, StoreResult, TokenPrincipal,
    },
};

/// More cached tokens than this and the cache is emptied: memory stays bounded under a flood
/// of distinct tokens, at the cost of a few extra lookups.
const CACHE_CAPACITY: usize = 50_000;

/// A freshly minted pair, in the clear: shown to the client once, never stored.
#[derive(Debug, Clone)]
pub struct IssuedTokens {
    pub access_token: String,
    pub refresh_token: String,
    pub expires_in: Duration,
    pub scope: String,
    /// The web session started with the login, for its cookie.
    pub session: Option<Id>,
    /// How long until the login ends, so its session cookie ends with it.
    pub login_ends_in: Duration,
}

/// Issues, rotates, checks and revokes tokens.
#[derive(Clone)]
pub struct TokenService {
    store: Store,
    access_ttl: Duration,
    refresh_ttl: Duration,
    login_lifetime: Duration,
    cache_window: Duration,
    cache: Arc<Mutex<HashMap<String, (TokenPrincipal, Instant)>>>,
    revocations: broadcast::Sender<Revocation>,
}

/// A revocation made on this node, told to its sockets so that those opened with what was
/// revoked close at once rather than at their next periodic check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Revocation {
    /// One access token, by digest.
    AccessToken(String),
    /// A whole login (token family), by id.
    Login(String),
}

/// Revocations waiting for the realtime side; more in a burst only cost its periodic check.
const REVOCATIONS_QUEUED: usize = 256;

/// A new random token: 32 bytes from the OS CSPRNG, hex encoded.
pub fn mint() -> String {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    hex::encode(bytes)
}

/// What the database keeps of a token.
pub fn digest(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// Time left from `now` until `until` (both in milliseconds), zero when it has passed.
fn millis_until(until: i64, now: i64) -> Duration {
    Duration::from_millis(u64::try_from(until.saturating_sub(now)).unwrap_or(0))
}

impl TokenService {
    /// `login_lifetime` bounds every login from its password check (`limits.login_lifetime`).
    pub fn new(store: Store, settings: &AuthSettings, login_lifetime: Duration) -> Self {
        Self {
            store,
            access_ttl: settings.access_token_ttl,
            refresh_ttl: settings.refresh_token_ttl,
            login_lifetime,
            cache_window: settings.token_cache_window,
            cache: Arc::default(),
            revocations: broadcast::channel(REVOCATIONS_QUEUED).0,
        }
    }

    /// Every revocation made through this service from now on.
    pub fn revocations(&self) -> broadcast::Receiver<Revocation> {
        self.revocations.subscribe()
    }

    fn new_pair(&self, now: i64) -> (String, String, NewTokenPair) {
        let access = mint();
        let refresh = mint();
        let pair = NewTokenPair {
            access_digest: digest(&access),
            access_expires_at: now + duration_millis(self.access_ttl),
            refresh_digest: digest(&refresh),
            refresh_expires_at: now + duration_millis(self.refresh_ttl),
        };
        (access, refresh, pair)
    }

    /// Starts a login (the directory has just checked the password): a new token family for
    /// `user_id` and its first pair, stored with the web session it starts, if any.
    pub async fn issue(
        &self,
        user_id: &str,
        client_id: &str,
        scope: &str,
        session: Option<&LoginSession>,
        now: i64,
    ) -> StoreResult<IssuedTokens> {
        let (access_token, refresh_token, pair) = self.new_pair(now);
        let login_ends_at = now.saturating_add(duration_millis(self.login_lifetime));
        let login = self
            .store
            .create_token_family(
                user_id,
                client_id,
                scope,
                &pair,
                session,
                LoginSpan {
                    ends_at: login_ends_at,
                    directory_checked_at: now,
                },
            )
            .await?;
        Ok(IssuedTokens {
            access_token,
            refresh_token,
            expires_in: millis_until(pair.access_expires_at.min(login_ends_at), now),
            scope: scope.to_string(),
            session: login.session,
            login_ends_in: millis_until(login_ends_at, now),
        })
    }

    /// A new access token for a login that is still live (the web session's way to get one
    /// after a reload), with its lifetime, which the login's end may shorten; `None` once the
    /// login was revoked or has ended.
    pub async fn issue_access(
        &self,
        family_id: &str,
        now: i64,
    ) -> StoreResult<Option<(String, Duration)>> {
        let token = mint();
        let added = self
            .store
            .add_access_token(
                family_id,
                &digest(&token),
                now + duration_millis(self.access_ttl),
                now,
            )
            .await?;
        Ok(added.map(|principal| (token, millis_until(principal.expires_at, now))))
    }

    /// Spends a refresh token for a new pair, and starts the web session given (the `web`
    /// client's cookie follows its newest tokens). `None` when the token is not usable; reuse
    /// of a spent token also revokes its family (the store sees to that).
    /// `checked_at` is when the directory confirmed the account for this refresh (`None` when
    /// it could not be asked).
    pub async fn refresh(
        &self,
        refresh_token: &str,
        client_id: &str,
        session: Option<&LoginSession>,
        checked_at: Option<i64>,
        now: i64,
    ) -> StoreResult<Option<IssuedTokens>> {
        let (access_token, new_refresh, pair) = self.new_pair(now);
        match self
            .store
            .rotate_refresh_token(&digest(refresh_token), client_id, &pair, checked_at, now)
            .await?
        {
            RotateOutcome::Rotated(principal) => {
                // The old refresh token is spent now: failing here would lose the login, so a
                // session that cannot be stored only costs the cookie.
                let session = match session {
                    Some(session) => {
                        let session = LoginSession {
                            expires_at: session.expires_at.min(principal.login_ends_at),
                            ..session.clone()
                        };
                        match self
                            .store
                            .start_web_session(&principal.family_id, &session)
                            .await
                        {
                            Ok(started) => started.then_some(session.id),
                            Err(error) => {
                                tracing::warn!(%error, "refreshed, but no session cookie could be set");
                                None
                            }
                        }
                    }
                    None => None,
                };
                Ok(Some(IssuedTokens {
                    access_token,
                    refresh_token: new_refresh,
                    expires_in: millis_until(principal.expires_at, now),
                    scope: principal.scope,
                    session,
                    login_ends_in: millis_until(principal.login_ends_at, now),
                }))
            }
            RotateOutcome::Reused(family_id) => {
                tracing::warn!("a spent refresh token was presented again: its login is revoked");
                self.forget_login(&family_id);
                Ok(None)
            }
            RotateOutcome::Invalid => Ok(None),
        }
    }

    /// Whose login a refresh token of `client_id` continues, before it is spent.
    pub async fn refresh_owner(
        &self,
        refresh_token: &str,
        client_id: &str,
    ) -> StoreResult<Option<RefreshOwner>> {
        self.store
            .refresh_token_owner(&digest(refresh_token), client_id)
            .await
    }

    /// The principal behind a bearer token, or `None` for unknown, expired or revoked ones.
    pub async fn authenticate(&self, token: &str, now: i64) -> StoreResult<Option<TokenPrincipal>> {
        let digest = digest(token);
        if let Some(principal) = self.cached(&digest, now) {
            return Ok(Some(principal));
        }
        let principal = self.store.find_access_token(&digest, now).await?;
        if let Some(principal) = &principal {
            self.remember(digest, principal.clone());
        }
        Ok(principal)
    }

    /// Revokes an access or refresh token of `client_id` (RFC 7009); unknown tokens and
    /// other clients' tokens are left alone. Only what was revoked leaves this node's cache,
    /// so one logout does not cost every other teacher a database lookup.
    pub async fn revoke(
        &self,
        token: &str,
        client_id: &str,
        now: i64,
    ) -> StoreResult<Option<RevokedToken>> {
        let digest = digest(token);
        let revoked = self.store.revoke_token(&digest, client_id, now).await?;
        match &revoked {
            Some(RevokedToken::Access) => {
                self.forget_token(&digest);
                self.announce(Revocation::AccessToken(digest));
            }
            Some(RevokedToken::Login(family_id)) => {
                self.forget_login(family_id);
                self.announce(Revocation::Login(family_id.clone()));
            }
            None => {}
        }
        Ok(revoked)
    }

    /// Revokes a whole login, e.g. when the web client logs out.
    pub async fn revoke_family(&self, family_id: &str, now: i64) -> StoreResult<()> {
        self.store.revoke_token_family(family_id, now).await?;
        self.forget_login(family_id);
        self.announce(Revocation::Login(family_id.to_string()));
        Ok(())
    }

    /// Tells the realtime side, when it listens (a node without sockets yet has no one).
    fn announce(&self, revocation: Revocation) {
        let _no_listener_yet = self.revocations.send(revocation);
    }

    fn cached(&self, digest: &str, now: i64) -> Option<TokenPrincipal> {
        let cache = self.cache.lock().ok()?;
        let (principal, cached_at) = cache.get(digest)?;
        (cached_at.elapsed() < self.cache_window && principal.expires_at > now)
            .then(|| principal.clone())
    }

    fn remember(&self, digest: String, principal: TokenPrincipal) {
        if self.cache_window.is_zero() {
            return;
        }
        if let Ok(mut cache) = self.cache.lock() {
            if cache.len() >= CACHE_CAPACITY {
                let window = self.cache_window;
                cache.retain(|_, (_, cached_at)| cached_at.elapsed() < window);
                if cache.len() >= CACHE_CAPACITY {
                    cache.clear();
                }
            }
            cache.insert(digest, (principal, Instant::now()));
        }
    }

    /// Drops the cached answer for one access token: its revocation here takes effect at once.
    fn forget_token(&self, digest: &str) {
        if let Ok(mut cache) = self.cache.lock() {
            cache.remove(digest);
        }
    }

    /// Drops the cached answers for every token of one login: its revocation here takes
    /// effect at once, and other logins' tokens stay cached.
    fn forget_login(&self, family_id: &str) {
        if let Ok(mut cache) = self.cache.lock() {
            cache.retain(|_, (principal, _)| principal.family_id != family_id);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn minted_tokens_are_256_bit_and_distinct() {
        let a = mint();
        let b = mint();
        assert_eq!(a.len(), 64);
        assert_ne!(a, b);
    }

    #[test]
    fn digests_are_sha256_hex() {
        assert_eq!(
            digest("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
