//! The web client's session cookie: set by a successful password grant for `client_id=web`,
//! it lets a reloaded page get a fresh access token (`POST /api/session/token`) without the
//! password, and `DELETE /api/session` logs out. The session holds only the login's token
//! family id, never a token.
//!
//! Cookies ride along on cross-site requests, so both endpoints demand an `Origin` the node
//! trusts (`web.allowed_origins` or its own `public_url`): another site cannot use them.

use axum::{
    extract::State,
    http::{header, HeaderMap, StatusCode},
    response::{IntoResponse, Response},
    routing::{delete, post},
    Json, Router,
};
use serde::{Deserialize, Serialize};
use serde_json::json;
use tower_sessions::Session;

use super::error::ApiError;
use crate::{config::Settings, state::AppState, store::now_millis};

/// Where the login is kept in the session.
const LOGIN_KEY: &str = "login";

/// The part of a login a session remembers.
#[derive(Debug, Serialize, Deserialize)]
pub struct WebLogin {
    pub family_id: String,
}

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/session/token", post(create_session_token))
        .route("/api/session", delete(delete_session))
}

/// Starts a session for a fresh web login. A request that came with a session cookie gets a
/// new id, so a planted cookie is useless; one without gets a fresh id anyway.
pub async fn remember_login(session: &Session, family_id: String) -> Result<(), ApiError> {
    if session.id().is_some() {
        session.cycle_id().await.map_err(session_failed)?;
    }
    session
        .insert(LOGIN_KEY, WebLogin { family_id })
        .await
        .map_err(session_failed)
}

async fn create_session_token(
    State(state): State<AppState>,
    headers: HeaderMap,
    session: Session,
) -> Result<Response, ApiError> {
    check_origin(&state.settings, &headers)?;
    let login: WebLogin = session
        .get(LOGIN_KEY)
        .await
        .map_err(session_failed)?
        .ok_or(ApiError::Unauthorized)?;
    let now = now_millis();
    let Some((access_token, expires_in)) = state
        .auth
        .tokens
        .issue_access(&login.family_id, now)
        .await?
    else {
        // The login was revoked (logout elsewhere, password change, refresh-token reuse).
        session.flush().await.map_err(session_failed)?;
        return Err(ApiError::Unauthorized);
    };
    let body = json!({ "access_token": access_token, "expires_in": expires_in.as_secs() });
    Ok(([(header::CACHE_CONTROL, "no-store")], Json(body)).into_response())
}

async fn delete_session(
    State(state): State<AppState>,
    headers: HeaderMap,
    session: Session,
) -> Result<StatusCode, ApiError> {
    check_origin(&state.settings, &headers)?;
    if let Some(login) = session
        .get::<WebLogin>(LOGIN_KEY)
        .await
        .map_err(session_failed)?
    {
        let now = now_millis();
        state
            .auth
            .tokens
            .revoke_family(&login.family_id, now)
            .await?;
    }
    session.flush().await.map_err(session_failed)?;
    Ok(StatusCode::NO_CONTENT)
}

fn check_origin(settings: &Settings, headers: &HeaderMap) -> Result<(), ApiError> {
    let origin = headers
        .get(header::ORIGIN)
        .and_then(|v| v.to_str().ok())
        .ok_or_else(|| ApiError::Forbidden("this request needs an Origin header".into()))?;
    let own = settings.public_url.trim_end_matches('/');
    if origin == own
        || settings
            .web
            .allowed_origins
            .iter()
            .any(|allowed| allowed == origin)
    {
        Ok(())
    } else {
        tracing::info!(%origin, "session request from an untrusted origin refused");
        Err(ApiError::Forbidden(format!(
            "requests from {origin} are not allowed"
        )))
    }
}

fn session_failed(error: tower_sessions::session::Error) -> ApiError {
    match error {
        tower_sessions::session::Error::Store(store) => {
            tracing::warn!(%store, "session store failed");
            ApiError::Unavailable
        }
        other => ApiError::Internal(other.to_string()),
    }
}
