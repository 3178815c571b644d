//! The OAuth2 client registrar: which clients exist and whether a client proved who it is.
//!
//! Client records are oxide-auth `EncodedClient`s checked by its `RegisteredClient` with its
//! Argon2 password policy, so a public client must not send a secret and a confidential one
//! must send the right one. Records live in the database, so every node knows every client.

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
}

/// A client that proved its identity, with the scope it may ask for.
#[derive(Debug, Clone)]
pub struct AuthenticatedClient {
    pub client_id: String,
    pub scope: Scope,
}

impl Registrar {
    pub fn new(store: Store) -> Self {
        Self { store }
    }

    /// Checks a client's credentials (secret `None` for public clients).
    pub async fn authenticate(
        &self,
        client_id: &str,
        secret: Option<String>,
    ) -> Result<AuthenticatedClient, ClientError> {
        let row = self
            .store
            .find_client(client_id)
            .await?
            .ok_or(ClientError::Refused)?;
        let scope: Scope = row
            .scope
            .parse()
            .map_err(|_| ClientError::Other(format!("client {client_id} has a bad scope")))?;
        let encoded = encoded_client(&row, scope.clone())?;
        tokio::task::spawn_blocking(move || {
            let policy = Argon2::default();
            RegisteredClient::new(&encoded, &policy)
                .check_authentication(secret.as_deref().map(str::as_bytes))
        })
        .await
        .map_err(|e| ClientError::Other(e.to_string()))?
        .map_err(|_| ClientError::Refused)?;
        Ok(AuthenticatedClient {
            client_id: row.client_id,
            scope,
        })
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
