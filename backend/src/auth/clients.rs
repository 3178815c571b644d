//! The OAuth2 client registrar: which clients exist and whether a client proved who it is.
//!
//! Client records are oxide-auth `EncodedClient`s checked by its `RegisteredClient` with its
//! Argon2 password policy, so a public client must not send a secret and a confidential one
//! must send the right one. Records live in the database, so every node knows every client;
//! each node reuses a record it read for `auth.token_cache_window`, so a removed client stops
//! working on every node within that window, as a revoked token does.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex, PoisonError},
    time::{Duration, Instant},
};

use oxide_auth::primitives::{
    registrar::{
        Argon2, Client, ClientType, EncodedClient, ExactUrl, RegisteredClient, RegisteredUrl,
    },
    scope::Scope,
};

use crate::store::{ClientRow, Store, StoreError};

/// Clients use the password grant only, so no redirect is ever followed; oxide-auth still
/// wants one per client record.
const NO_REDIRECT: &str = "urn:ietf:wg:oauth:2.0:oob";

/// Why a client was refused. `Unknown` and `BadSecret` both answer `401 invalid_client`.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("unknown client or wrong client credentials")]
    Refused,
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("client check failed: {0}")]
    Other(String),
}

/// Looks clients up in the store and checks their credentials.
#[derive(Clone)]
pub struct Registrar {
    store: Store,
    cache_window: Duration,
    cache: Arc<Mutex<HashMap<String, (ClientRow, Instant)>>>,
}

/// A client that proved its identity, with the scope it may ask for.
#[derive(Debug, Clone)]
pub struct AuthenticatedClient {
    pub client_id: String,
    pub scope: Scope,
}

impl Registrar {
    /// Client records read from `store` are reused for `cache_window`.
    pub fn new(store: Store, cache_window: Duration) -> Self {
        Self {
            store,
            cache_window,
            cache: Arc::default(),
        }
    }

    /// Checks a client's credentials (secret `None` for public clients).
    pub async fn authenticate(
        &self,
        client_id: &str,
        secret: Option<String>,
    ) -> Result<AuthenticatedClient, ClientError> {
        let row = self.find(client_id).await?;
        let scope: Scope = row
            .scope
            .parse()
            .map_err(|_| ClientError::Other(format!("client {client_id} has a bad scope")))?;
        let encoded = encoded_client(&row, scope.clone())?;
        let check = move || {
            let policy = Argon2::default();
            RegisteredClient::new(&encoded, &policy)
                .check_authentication(secret.as_deref().map(str::as_bytes))
        };
        // Only a confidential client's secret costs an Argon2 check worth a blocking thread.
        let checked = if row.secret_hash.is_some() {
            tokio::task::spawn_blocking(check)
                .await
                .map_err(|e| ClientError::Other(e.to_string()))?
        } else {
            check()
        };
        checked.map_err(|_| ClientError::Refused)?;
        Ok(AuthenticatedClient {
            client_id: row.client_id,
            scope,
        })
    }

    /// The client's record, from this node's cache while it is younger than the window.
    /// Unknown ids are not cached, so made-up ids cannot fill the cache.
    async fn find(&self, client_id: &str) -> Result<ClientRow, ClientError> {
        // No client is registered with one, and PostgreSQL refuses a NUL outright.
        if !crate::text::is_clean_line(client_id) {
            return Err(ClientError::Refused);
        }
        let now = Instant::now();
        if let Some((row, read_at)) = self.lock_cache().get(client_id) {
            if now.duration_since(*read_at) < self.cache_window {
                return Ok(row.clone());
            }
        }
        let row = self
            .store
            .find_client(client_id)
            .await?
            .ok_or(ClientError::Refused)?;
        self.lock_cache()
            .insert(client_id.to_string(), (row.clone(), now));
        Ok(row)
    }

    fn lock_cache(&self) -> std::sync::MutexGuard<'_, HashMap<String, (ClientRow, Instant)>> {
        self.cache.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Builds the stored form of a new client: with a secret it is confidential and the secret
    /// is kept only as an Argon2 hash.
    pub async fn new_client_row(
        client_id: &str,
        secret: Option<String>,
        scope: &Scope,
        now: i64,
    ) -> Result<ClientRow, ClientError> {
        let redirect = no_redirect()?;
        let client_id_owned = client_id.to_string();
        let scope_owned = scope.clone();
        let encoded = tokio::task::spawn_blocking(move || {
            let client = match secret {
                Some(secret) => {
                    Client::confidential(&client_id_owned, redirect, scope_owned, secret.as_bytes())
                }
                None => Client::public(&client_id_owned, redirect, scope_owned),
            };
            client.encode(&Argon2::default())
        })
        .await
        .map_err(|e| ClientError::Other(e.to_string()))?;
        let secret_hash = match encoded.encoded_client {
            ClientType::Public => None,
            ClientType::Confidential { passdata } => {
                Some(String::from_utf8(passdata).map_err(|e| ClientError::Other(e.to_string()))?)
            }
        };
        Ok(ClientRow {
            client_id: client_id.to_string(),
            secret_hash,
            scope: scope.to_string(),
            created_at: now,
        })
    }
}

fn encoded_client(row: &ClientRow, scope: Scope) -> Result<EncodedClient, ClientError> {
    Ok(EncodedClient {
        client_id: row.client_id.clone(),
        redirect_uri: no_redirect()?,
        additional_redirect_uris: Vec::new(),
        default_scope: scope,
        encoded_client: match &row.secret_hash {
            Some(hash) => ClientType::Confidential {
                passdata: hash.as_bytes().to_vec(),
            },
            None => ClientType::Public,
        },
    })
}

fn no_redirect() -> Result<RegisteredUrl, ClientError> {
    ExactUrl::new(NO_REDIRECT.to_string())
        .map(RegisteredUrl::Exact)
        .map_err(|e| ClientError::Other(e.to_string()))
}
