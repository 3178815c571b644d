//! Logins and tokens: the OAuth2 password and refresh grants on top of oxide-auth's
//! primitives (client registrar, scopes), the school directory, and the shared store.

mod clients;
pub mod password;
mod throttle;
pub mod tokens;

pub use clients::{AuthenticatedClient, ClientError, Registrar};
pub use throttle::{address_key, LoginThrottle};
pub use tokens::{IssuedTokens, TokenService};

use std::{net::IpAddr, sync::Arc, time::Duration};

use oxide_auth::primitives::scope::Scope;

use self::throttle::LoginAttempt;
use crate::{
    directory::{Directory, DirectoryError},
    metrics::{LoginOutcome, Metrics},
    store::{duration_millis, LoginSession, RefreshOwner, Store, StoreError},
};

/// Why a grant was refused, in RFC 6749 §5.2 terms plus the two operational answers
/// (429 throttled, 503 directory or database down).
#[derive(Debug, thiserror::Error)]
pub enum GrantError {
    #[error("{0}")]
    InvalidRequest(String),
    #[error("the request body is too large")]
    TooLarge,
    #[error("client authentication failed")]
    InvalidClient,
    #[error("{0}")]
    InvalidGrant(String),
    #[error("the requested scope exceeds what this client may have")]
    InvalidScope,
    #[error("only the password and refresh_token grants are supported")]
    Unsupported,
    #[error("too many failed logins")]
    Throttled(Duration),
    #[error("{0}")]
    Unavailable(String),
    #[error("{0}")]
    Internal(String),
}

impl From<StoreError> for GrantError {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::Unavailable(reason) => Self::Unavailable(reason),
            other => Self::Internal(other.to_string()),
        }
    }
}

impl From<ClientError> for GrantError {
    fn from(error: ClientError) -> Self {
        match error {
            ClientError::Refused => Self::InvalidClient,
            ClientError::Store(store) => store.into(),
            ClientError::Other(reason) => Self::Internal(reason),
        }
    }
}

/// Client credentials as presented (body or HTTP Basic).
#[derive(Debug, Clone)]
pub struct ClientCredentials {
    pub client_id: String,
    pub secret: Option<String>,
}

/// A password grant as asked for (RFC 6749 §4.3), and where it came from.
pub struct PasswordGrant<'a> {
    pub username: &'a str,
    pub password: &'a str,
    pub scope: Option<&'a str>,
    pub address: IpAddr,
    /// The web session to start with the login (the `web` client's cookie), if any.
    pub session: Option<LoginSession>,
}

/// Everything a node needs to turn credentials into tokens.
#[derive(Clone)]
pub struct Authenticator {
    pub store: Store,
    pub directory: Arc<dyn Directory>,
    pub registrar: Registrar,
    pub tokens: TokenService,
    pub throttle: LoginThrottle,
    pub metrics: Metrics,
    /// How long a refresh may go on from the stored identity while the directory is down.
    pub directory_grace: Duration,
}

impl Authenticator {
    /// The resource-owner password grant (RFC 6749 §4.3).
    #[tracing::instrument(
        skip_all,
        fields(client.id = %client.client_id, user.name = %logged_name(grant.username))
    )]
    pub async fn password_grant(
        &self,
        client: ClientCredentials,
        grant: PasswordGrant<'_>,
        now: i64,
    ) -> Result<IssuedTokens, GrantError> {
        let PasswordGrant {
            username,
            password,
            scope,
            address,
            session,
        } = grant;
        let client = self
            .registrar
            .authenticate(&client.client_id, client.secret)
            .await?;
        let scope = negotiate_scope(&client, scope)?;
        if username.is_empty() {
            return Err(GrantError::InvalidRequest("username is empty".into()));
        }
        if username.len() > MAX_USERNAME_BYTES {
            return Err(GrantError::InvalidRequest(format!(
                "username is longer than {MAX_USERNAME_BYTES} bytes"
            )));
        }
        if !crate::text::is_clean_line(username) {
            return Err(GrantError::InvalidRequest(
                "username: no control characters".into(),
            ));
        }
        if password.is_empty() {
            // An empty password would be an anonymous LDAP bind: never ask the directory.
            return Err(GrantError::InvalidGrant("the password is empty".into()));
        }
        let (reserved, stored_user) = tokio::join!(
            self.throttle.reserve(username, address, now),
            self.store.find_user(username)
        );
        let attempt = match reserved? {
            Ok(attempt) => attempt,
            Err(throttled) => {
                tracing::info!(retry_after = ?throttled.retry_after, "login throttled");
                self.metrics.record_login(LoginOutcome::throttled);
                return Err(GrantError::Throttled(throttled.retry_after));
            }
        };
        let stored_user = match stored_user {
            Ok(stored_user) => stored_user,
            Err(error) => {
                self.throttle.refund(attempt).await?;
                return Err(error.into());
            }
        };
        let started = std::time::Instant::now();
        let checked = self.directory.authenticate(username, password).await;
        self.metrics.record_directory_call(started.elapsed());
        let identity = match checked {
            Ok(identity) => identity,
            Err(DirectoryError::InvalidCredentials) => {
                // The attempt keeps its reserved slots: this is the failure they counted.
                tracing::info!("login refused: wrong username or password");
                self.metrics.record_login(LoginOutcome::invalid_credentials);
                return Err(GrantError::InvalidGrant(
                    "wrong username or password".into(),
                ));
            }
            Err(DirectoryError::Unreachable(reason)) => {
                // Not the person's failure: the attempt counts against nobody.
                self.throttle.refund(attempt).await?;
                tracing::warn!(%reason, "login impossible: directory unreachable");
                self.metrics
                    .record_login(LoginOutcome::directory_unavailable);
                return Err(GrantError::Unavailable(
                    "the school directory cannot be reached; try again shortly".into(),
                ));
            }
            Err(DirectoryError::Other(reason)) => {
                self.throttle.refund(attempt).await?;
                self.metrics.record_login(LoginOutcome::error);
                return Err(GrantError::Internal(reason));
            }
        };
        if identity.roles.is_empty() {
            self.release(attempt).await;
            tracing::info!("login refused: neither teacher nor admin");
            self.metrics.record_login(LoginOutcome::no_role);
            return Err(GrantError::InvalidGrant(
                "this account is neither a teacher nor an admin".into(),
            ));
        }
        // The budget is given back while the login is written: a login waits for one
        // database round, not two in a row.
        let (_, issued) = tokio::join!(self.release(attempt), async {
            let user = self
                .store
                .record_identity(&identity, stored_user, now)
                .await?;
            let issued = self
                .tokens
                .issue(
                    &user.id,
                    &client.client_id,
                    &scope.to_string(),
                    session.as_ref(),
                    now,
                )
                .await?;
            Ok::<_, GrantError>((user, issued))
        });
        let (user, issued) = issued?;
        tracing::info!(user.id = %user.id, "login succeeded");
        self.metrics.record_login(LoginOutcome::success);
        Ok(issued)
    }

    /// The right password was given: the username's failures are forgotten and the address's
    /// slot given back. Should that fail, the slot stays spent, which errs on the safe side
    /// and is no reason to refuse the teacher.
    async fn release(&self, attempt: LoginAttempt) {
        if let Err(error) = self.throttle.succeeded(attempt).await {
            tracing::warn!(%error, "a successful login's attempt was not given back");
        }
    }

    /// The refresh grant (RFC 6749 §6) with rotation.
    #[tracing::instrument(skip_all, fields(client.id = %client.client_id))]
    pub async fn refresh_grant(
        &self,
        client: ClientCredentials,
        refresh_token: &str,
        scope: Option<&str>,
        session: Option<&LoginSession>,
        now: i64,
    ) -> Result<IssuedTokens, GrantError> {
        let client = self
            .registrar
            .authenticate(&client.client_id, client.secret)
            .await?;
        if refresh_token.is_empty() {
            return Err(GrantError::InvalidRequest(
                "refresh_token is missing".into(),
            ));
        }
        // Checked before rotating, so a refused request does not spend the token. Every
        // login of a client gets at most the client's scope, so this bounds the family's.
        negotiate_scope(&client, scope)?;
        let checked_at = match self
            .tokens
            .refresh_owner(refresh_token, &client.client_id)
            .await?
        {
            Some(owner) => {
                self.recheck_directory(&owner, refresh_token, &client.client_id, now)
                    .await?
            }
            // Unknown: the rotation below refuses it.
            None => None,
        };
        self.tokens
            .refresh(refresh_token, &client.client_id, session, checked_at, now)
            .await?
            .ok_or_else(|| GrantError::InvalidGrant("the refresh token is not valid".into()))
    }

    /// Asks the directory whether the login's account still exists with a role, so a teacher
    /// removed from it loses access within an access token's lifetime. Removed or without a
    /// role: the login is revoked. A changed role (admin lost) is stored and counts at once.
    /// Directory unreachable: the login goes on from the stored identity within
    /// `directory_grace` of the last confirmation, else 503 (the token is not spent). Returns
    /// when the account was confirmed, `None` when the directory could not be asked.
    async fn recheck_directory(
        &self,
        owner: &RefreshOwner,
        refresh_token: &str,
        client_id: &str,
        now: i64,
    ) -> Result<Option<i64>, GrantError> {
        let started = std::time::Instant::now();
        let answer = self.directory.lookup(&owner.username).await;
        self.metrics.record_directory_call(started.elapsed());
        match answer {
            Ok(identity) if !identity.roles.is_empty() => {
                self.store.record_identity(&identity, None, now).await?;
                Ok(Some(now))
            }
            Ok(_) | Err(DirectoryError::InvalidCredentials) => {
                tracing::info!("refresh refused: the account left the directory or its roles");
                self.tokens.revoke(refresh_token, client_id, now).await?;
                Err(GrantError::InvalidGrant(
                    "this account may no longer log in".into(),
                ))
            }
            Err(DirectoryError::Unreachable(reason)) => {
                let unconfirmed_for = now.saturating_sub(owner.directory_checked_at);
                if unconfirmed_for <= duration_millis(self.directory_grace) {
                    tracing::warn!(%reason, "refresh from the stored identity: directory unreachable");
                    Ok(None)
                } else {
                    tracing::warn!(%reason, "refresh impossible: directory unreachable past the grace");
                    Err(GrantError::Unavailable(
                        "the school directory cannot be reached; try again shortly".into(),
                    ))
                }
            }
            Err(DirectoryError::Other(reason)) => Err(GrantError::Internal(reason)),
        }
    }
}

/// Usernames longer than this are refused before anything is asked or counted: no
/// directory holds such names, and a long one must not fill logs or counter keys.
const MAX_USERNAME_BYTES: usize = 256;

/// A username as it may appear in logs: whole when short, else a prefix (a refused 300-byte
/// name is not worth logging whole).
fn logged_name(username: &str) -> &str {
    const SHOWN: usize = 64;
    if username.len() <= SHOWN {
        return username;
    }
    let end = (0..=SHOWN)
        .rev()
        .find(|&i| username.is_char_boundary(i))
        .unwrap_or(0);
    &username[..end]
}

/// The scope of a new login: what was asked for if the client may have it, else its default.
fn negotiate_scope(
    client: &AuthenticatedClient,
    requested: Option<&str>,
) -> Result<Scope, GrantError> {
    match requested {
        None | Some("") => Ok(client.scope.clone()),
        Some(text) => {
            let requested: Scope = text.parse().map_err(|_| GrantError::InvalidScope)?;
            if client.scope.priviledged_to(&requested) {
                Ok(requested)
            } else {
                Err(GrantError::InvalidScope)
            }
        }
    }
}
