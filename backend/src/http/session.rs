//! The web client's session cookie: set by a successful grant for `client_id=web`,
//! it lets a reloaded page get a fresh access token (`POST /api/session/token`) without the
//! password, and `DELETE /api/session` logs out. The session holds only the login's token
//! family id, never a token.
//!
//! Cookies ride along on cross-site requests, so both endpoints demand an `Origin` the node
//! trusts (`web.allowed_origins` or a node of the cluster): another site cannot use them.

use axum::{
    extract::State,
    http::{header, HeaderMap, HeaderValue, StatusCode},
    response::{IntoResponse, Response},
    routing::{delete, post},
    Json, Router,
};
use serde_json::json;
use tower_sessions::{
    cookie::{Cookie, SameSite},
    session::Id,
    Expiry, Session, SessionManagerLayer,
};

use super::{error::ApiError, origins::TrustedOrigins};
use crate::{
    config::Settings,
    state::AppState,
    store::{duration_millis, LoginSession, WebLogin, WebSessions, LOGIN_KEY},
};

const COOKIE_NAME: &str = "boardcast_session";

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/session/token", post(create_session_token))
        .route("/api/session", delete(delete_session))
}

/// The session cookie's attributes, defined once for the session layer (which reads the
/// cookie and removes it at logout) and for the grants that set it: HttpOnly, `Secure` when
/// the node is reached over HTTPS, on `web.cookie_domain` when set (SPA and API on sibling
/// subdomains). A session lasts as long as its login's refresh token, and never past the
/// login's absolute end (`limits.login_lifetime`).
pub struct SessionCookie {
    secure: bool,
    domain: Option<String>,
    lifetime: std::time::Duration,
}

impl SessionCookie {
    pub fn new(settings: &Settings) -> Self {
        Self {
            secure: settings.public_url.starts_with("https://"),
            domain: Some(settings.web.cookie_domain.clone()).filter(|domain| !domain.is_empty()),
            lifetime: settings
                .auth
                .refresh_token_ttl
                .min(settings.limits.login_lifetime),
        }
    }

    fn max_age(&self) -> time::Duration {
        cookie_age(self.lifetime)
    }

    /// The layer that gives the session endpoints their [`Session`].
    pub fn layer(&self, sessions: WebSessions) -> SessionManagerLayer<WebSessions> {
        let layer = SessionManagerLayer::new(sessions)
            .with_name(COOKIE_NAME)
            .with_http_only(true)
            .with_same_site(SameSite::Lax)
            .with_secure(self.secure)
            .with_path("/")
            .with_expiry(Expiry::OnInactivity(self.max_age()));
        match &self.domain {
            None => layer,
            Some(domain) => layer.with_domain(domain.clone()),
        }
    }

    /// The session a grant made with these request headers starts: always a fresh id, so a
    /// planted cookie is useless, and it ends the session the browser presented, if any.
    pub fn start(&self, headers: &HeaderMap, now: i64) -> LoginSession {
        LoginSession {
            id: Id::default(),
            expires_at: now + duration_millis(self.lifetime),
            replaces: presented_session(headers),
        }
    }

    /// The `Set-Cookie` value that gives the browser session `id`, kept no longer than the
    /// `login_ends_in` its login has left.
    pub fn set_cookie(&self, id: Id, login_ends_in: std::time::Duration) -> Option<HeaderValue> {
        let mut cookie = Cookie::build((COOKIE_NAME, id.to_string()))
            .http_only(true)
            .same_site(SameSite::Lax)
            .secure(self.secure)
            .path("/")
            .max_age(cookie_age(self.lifetime.min(login_ends_in)));
        if let Some(domain) = &self.domain {
            cookie = cookie.domain(domain.clone());
        }
        HeaderValue::from_str(&cookie.build().to_string()).ok()
    }
}

fn cookie_age(lifetime: std::time::Duration) -> time::Duration {
    time::Duration::try_from(lifetime).unwrap_or(time::Duration::days(30))
}

/// The session id in a request's cookie, if it carries a well-formed one.
fn presented_session(headers: &HeaderMap) -> Option<Id> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(Cookie::split_parse)
        .filter_map(Result::ok)
        .find(|cookie| cookie.name() == COOKIE_NAME)
        .and_then(|cookie| cookie.value().parse().ok())
}

async fn create_session_token(
    State(state): State<AppState>,
    headers: HeaderMap,
    session: Session,
) -> Result<Response, ApiError> {
    check_origin(&state, &headers)?;
    let login: WebLogin = session
        .get(LOGIN_KEY)
        .await
        .map_err(session_failed)?
        .ok_or(ApiError::Unauthorized)?;
    let now = state.clock.now_millis();
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
    check_origin(&state, &headers)?;
    if let Some(login) = session
        .get::<WebLogin>(LOGIN_KEY)
        .await
        .map_err(session_failed)?
    {
        let now = state.clock.now_millis();
        state
            .auth
            .tokens
            .revoke_family(&login.family_id, now)
            .await?;
    }
    session.flush().await.map_err(session_failed)?;
    Ok(StatusCode::NO_CONTENT)
}

/// Whether a token response may set the session cookie: only for a page the node trusts
/// (`web.allowed_origins` or a node of the cluster), so another site cannot log the browser
/// into an account of its choosing (login CSRF); that site still gets the tokens it asked for,
/// which do it no harm. No `Origin` at all is not a browser's cross-site request (browsers send
/// one with every cross-origin POST): curl and other tools keep their cookie.
pub fn may_set_session_cookie(origins: &TrustedOrigins, headers: &HeaderMap) -> bool {
    match headers.get(header::ORIGIN) {
        None => true,
        Some(origin) => origin.to_str().is_ok_and(|origin| origins.contains(origin)),
    }
}

fn check_origin(state: &AppState, headers: &HeaderMap) -> Result<(), ApiError> {
    let origin = headers
        .get(header::ORIGIN)
        .and_then(|v| v.to_str().ok())
        .ok_or_else(|| ApiError::Forbidden("this request needs an Origin header".into()))?;
    if state.origins.contains(origin) {
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
