//! `Idempotency-Key` on every write under `/api` (docs/api.md): a repeat by the same user or board
//! (any of its tokens) within a day, on any node, gets the first answer and changes nothing;
//! the same key with another request gets 409. So a client that timed out on one node can
//! retry on another without doubling a lesson or a pairing.
//!
//! Answers are kept in the shared database, sealed (XChaCha20-Poly1305) under a key derived
//! from the client's Idempotency-Key, which is stored only as a hash: an answer carrying a
//! credential (a new board's secret) is unreadable to anyone who reads the database.
//! Uploads stream and keep their key on their own row (see `uploads`), so they are left out.

use axum::{
    body::{to_bytes, Body, Bytes},
    extract::{FromRequestParts, Request, State},
    http::{header, request::Parts, HeaderMap, HeaderName, HeaderValue, Method, StatusCode},
    middleware::Next,
    response::{IntoResponse, Response},
};
use base64::{engine::general_purpose::STANDARD, Engine as _};
use chacha20poly1305::{
    aead::{Aead, KeyInit},
    XChaCha20Poly1305, XNonce,
};
use rand::RngCore;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::{
    error::ApiError,
    extract::{CurrentBoard, CurrentUser},
};
use crate::{
    state::AppState,
    store::{Claim, KeyClaim},
};

/// Idempotency-Keys are 1 to this many visible ASCII characters (UUIDs in practice).
pub const MAX_KEY_CHARS: usize = 255;

/// How long an answer is kept for retries.
const KEPT_FOR_MILLIS: i64 = 24 * 3600 * 1000;

/// How long a first request may run before a retry takes its claim over (its node died).
const LEASE_MILLIS: i64 = 30 * 1000;

/// Request bodies are read whole to be hashed; none of the routes here takes more.
const MAX_BODY_BYTES: usize = super::LESSON_BODY_LIMIT;

const REPLAYED: HeaderName = HeaderName::from_static("idempotent-replayed");

/// The `Idempotency-Key` of a request, if it sent one; 400 for a malformed one.
pub fn key(headers: &HeaderMap) -> Result<Option<&str>, ApiError> {
    let Some(value) = headers.get("idempotency-key") else {
        return Ok(None);
    };
    value
        .to_str()
        .ok()
        .filter(|key| {
            !key.is_empty()
                && key.len() <= MAX_KEY_CHARS
                && key.bytes().all(|b| b.is_ascii_graphic())
        })
        .map(Some)
        .ok_or_else(|| ApiError::BadRequest {
            code: "invalid_request",
            message: format!(
                "Idempotency-Key must be 1 to {MAX_KEY_CHARS} visible ASCII characters"
            ),
        })
}

/// The middleware: runs a keyed write once and answers its retries from the database.
pub async fn idempotent(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let is_write = matches!(
        *request.method(),
        Method::POST | Method::PUT | Method::DELETE | Method::PATCH
    );
    let path = request.uri().path();
    if !is_write || !path.starts_with("/api/") || path.starts_with("/api/uploads") {
        return next.run(request).await;
    }
    run_once(&state, request, next)
        .await
        .unwrap_or_else(IntoResponse::into_response)
}

async fn run_once(state: &AppState, request: Request, next: Next) -> Result<Response, ApiError> {
    let (mut parts, body) = request.into_parts();
    let Some(key) = key(&parts.headers)?.map(str::to_owned) else {
        return Ok(next.run(Request::from_parts(parts, body)).await);
    };
    let Some(caller) = caller(&mut parts, state).await? else {
        // Refused credentials: the handler answers 401, and nothing is written to repeat.
        return Ok(next.run(Request::from_parts(parts, body)).await);
    };
    let body = to_bytes(body, MAX_BODY_BYTES)
        .await
        .map_err(|_| ApiError::PayloadTooLarge)?;
    let sealed = Sealed::for_key(&caller, &key);
    let request_hash = request_hash(&parts, &body);
    let now = state.clock.now_millis();
    let claim = state
        .store
        .claim_idempotency_key(KeyClaim {
            id: &sealed.id,
            request_hash: &request_hash,
            now,
            locked_until: now + LEASE_MILLIS,
            expires_at: now + KEPT_FOR_MILLIS,
        })
        .await?;
    match claim {
        Claim::Mine => {}
        Claim::Answered(answer) => return sealed.open(&answer),
        Claim::Mismatch => {
            return Err(ApiError::Conflict(
                "this Idempotency-Key was already used for a different request".into(),
            ))
        }
        Claim::Running => return Err(ApiError::InProgress),
    }
    let response = next.run(Request::from_parts(parts, Body::from(body))).await;
    let (parts, body) = response.into_parts();
    let body = to_bytes(body, usize::MAX)
        .await
        .map_err(|e| ApiError::Internal(format!("unreadable answer: {e}")))?;
    let kept = if decided(parts.status) {
        let answer = sealed.seal(&parts.status, &parts.headers, &body)?;
        state
            .store
            .record_idempotent_answer(&sealed.id, &answer)
            .await
    } else {
        state.store.release_idempotency_key(&sealed.id).await
    };
    if let Err(error) = kept {
        // The write itself is done; only a later retry would run it again.
        tracing::warn!(%error, "the answer to a keyed write was not kept");
    }
    Ok(Response::from_parts(parts, Body::from(body)))
}

/// Who is asking, so that a key is only ever one caller's: the user behind a bearer token,
/// the board behind its credentials, or no one. `None` when the credentials are refused.
/// What is found is left in the request, so the handler does not check it again.
async fn caller(parts: &mut Parts, state: &AppState) -> Result<Option<String>, ApiError> {
    let Some(scheme) = parts
        .headers
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.split(' ').next())
        .map(str::to_ascii_lowercase)
    else {
        return Ok(Some("anonymous".into()));
    };
    let found = if scheme == "board" {
        CurrentBoard::from_request_parts(parts, state)
            .await
            .map(|CurrentBoard(board)| {
                let caller = format!("board:{}", board.id);
                parts.extensions.insert(CurrentBoard(board));
                caller
            })
    } else {
        CurrentUser::from_request_parts(parts, state)
            .await
            .map(|user| {
                let caller = format!("user:{}", user.principal.user_id);
                parts.extensions.insert(user);
                caller
            })
    };
    match found {
        Ok(caller) => Ok(Some(caller)),
        Err(ApiError::Unauthorized) => Ok(None),
        Err(other) => Err(other),
    }
}

/// Whether an answer is the write's decision, to be repeated. Server errors decided nothing;
/// 401 and 429 are about the caller's token or pace, and a retry after fixing those must run.
fn decided(status: StatusCode) -> bool {
    !status.is_server_error()
        && status != StatusCode::UNAUTHORIZED
        && status != StatusCode::TOO_MANY_REQUESTS
}

/// Tells a true retry (same method, path and body) from another request reusing the key.
fn request_hash(parts: &Parts, body: &Bytes) -> String {
    let target = parts
        .uri
        .path_and_query()
        .map_or("", |target| target.as_str());
    let mut hash = Sha256::new();
    hash.update(parts.method.as_str());
    hash.update([0]);
    hash.update(target);
    hash.update([0]);
    hash.update(body);
    hex::encode(hash.finalize())
}

/// An answer as kept: status, headers and body.
#[derive(Serialize, Deserialize)]
struct Answer {
    status: u16,
    headers: Vec<(String, String)>,
    body: String,
}

/// The row id and the sealing key of one caller's Idempotency-Key.
struct Sealed {
    id: String,
    key: [u8; 32],
}

impl Sealed {
    fn for_key(caller: &str, key: &str) -> Self {
        let derive = |purpose: &str| -> [u8; 32] {
            let mut hash = Sha256::new();
            hash.update(purpose);
            hash.update([0]);
            hash.update(caller);
            hash.update([0]);
            hash.update(key);
            hash.finalize().into()
        };
        Self {
            id: hex::encode(derive("boardcast idempotency id")),
            key: derive("boardcast idempotency seal"),
        }
    }

    fn cipher(&self) -> XChaCha20Poly1305 {
        XChaCha20Poly1305::new(&self.key.into())
    }

    fn seal(
        &self,
        status: &StatusCode,
        headers: &HeaderMap,
        body: &Bytes,
    ) -> Result<String, ApiError> {
        let answer = Answer {
            status: status.as_u16(),
            headers: headers
                .iter()
                .filter_map(|(name, value)| {
                    Some((name.as_str().to_owned(), value.to_str().ok()?.to_owned()))
                })
                .collect(),
            body: STANDARD.encode(body),
        };
        let plain = serde_json::to_vec(&answer).map_err(internal)?;
        let mut nonce = [0u8; 24];
        rand::rngs::OsRng.fill_bytes(&mut nonce);
        let mut sealed = nonce.to_vec();
        sealed.extend(
            self.cipher()
                .encrypt(XNonce::from_slice(&nonce), plain.as_slice())
                .map_err(internal)?,
        );
        Ok(STANDARD.encode(sealed))
    }

    fn open(&self, sealed: &str) -> Result<Response, ApiError> {
        let sealed = STANDARD.decode(sealed).map_err(internal)?;
        if sealed.len() < 24 {
            return Err(internal("a kept answer is too short"));
        }
        let (nonce, ciphertext) = sealed.split_at(24);
        let plain = self
            .cipher()
            .decrypt(XNonce::from_slice(nonce), ciphertext)
            .map_err(internal)?;
        let answer: Answer = serde_json::from_slice(&plain).map_err(internal)?;
        let mut response =
            Response::new(Body::from(STANDARD.decode(answer.body).map_err(internal)?));
        *response.status_mut() = StatusCode::from_u16(answer.status).map_err(internal)?;
        for (name, value) in answer.headers {
            if let (Ok(name), Ok(value)) =
                (HeaderName::try_from(name), HeaderValue::try_from(value))
            {
                response.headers_mut().append(name, value);
            }
        }
        response
            .headers_mut()
            .insert(REPLAYED, HeaderValue::from_static("true"));
        Ok(response)
    }
}

fn internal(error: impl std::fmt::Display) -> ApiError {
    ApiError::Internal(format!("idempotency: {error}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sealed_answer_opens_only_with_its_own_key() {
        let mine = Sealed::for_key("user:ann", "k1");
        let mut headers = HeaderMap::new();
        headers.insert(header::ETAG, HeaderValue::from_static("\"2\""));
        let sealed = mine
            .seal(
                &StatusCode::CREATED,
                &headers,
                &Bytes::from_static(b"{\"secret\":1}"),
            )
            .unwrap();
        assert!(!sealed.contains("secret"));
        let response = mine.open(&sealed).unwrap();
        assert_eq!(response.status(), StatusCode::CREATED);
        assert_eq!(response.headers()[header::ETAG], "\"2\"");
        assert_eq!(response.headers()[REPLAYED], "true");

        let someone_else = Sealed::for_key("user:bob", "k1");
        assert_ne!(someone_else.id, mine.id);
        assert!(someone_else.open(&sealed).is_err());
    }

    #[test]
    fn only_decisions_are_repeated() {
        assert!(decided(StatusCode::CREATED));
        assert!(decided(StatusCode::CONFLICT));
        assert!(decided(StatusCode::NOT_FOUND));
        assert!(!decided(StatusCode::UNAUTHORIZED));
        assert!(!decided(StatusCode::TOO_MANY_REQUESTS));
        assert!(!decided(StatusCode::SERVICE_UNAVAILABLE));
    }
}
