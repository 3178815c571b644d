//! `/oauth/token` (RFC 6749 password and refresh grants) and `/oauth/revoke` (RFC 7009).
//! Thin: parse the form, call [`Authenticator`], render RFC 6749 §5 bodies.

use std::{collections::HashMap, net::IpAddr};

use axum::{
    body::Bytes,
    extract::{rejection::BytesRejection, State},
    http::{header, HeaderMap, HeaderValue, StatusCode},
    response::{IntoResponse, Response},
    routing::post,
    Json, Router,
};
use base64::Engine as _;
use serde_json::json;

use super::{
    extract::ClientAddress,
    session::{may_set_session_cookie, SessionCookie},
};
use crate::{
    auth::{Authenticator, ClientCredentials, GrantError, IssuedTokens, PasswordGrant},
    clock::Clock,
    state::AppState,
};

/// The public client of the SPA; its logins also get a session cookie.
const WEB_CLIENT: &str = "web";

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/oauth/token", post(token))
        .route("/oauth/revoke", post(revoke))
}

async fn token(
    State(state): State<AppState>,
    ClientAddress(client_address): ClientAddress,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let used_basic = headers.contains_key(header::AUTHORIZATION);
    // Login CSRF: another site must not log the browser into an account of its choosing.
    let cookie = may_set_session_cookie(&state.origins, &headers).then_some(&state.session_cookie);
    match grant(
        &state.auth,
        cookie,
        client_address,
        &headers,
        body,
        state.clock.now_millis(),
    )
    .await
    {
        Ok(issued) => {
            let login_ends_in = issued.login_ends_in;
            let set_cookie = issued
                .session
                .zip(cookie)
                .and_then(|(id, cookie)| cookie.set_cookie(id, login_ends_in));
            let mut response = token_response(issued);
            if let Some(set_cookie) = set_cookie {
                response
                    .headers_mut()
                    .insert(header::SET_COOKIE, set_cookie);
            }
            response
        }
        Err(error) => oauth_error(error, used_basic),
    }
}

/// Runs the grant the form asks for. The web client's grants also start its session (when
/// `cookie` is given), in the same commit as the tokens of a login.
async fn grant(
    auth: &Authenticator,
    cookie: Option<&SessionCookie>,
    client_address: IpAddr,
    headers: &HeaderMap,
    body: Result<Bytes, BytesRejection>,
    now: i64,
) -> Result<IssuedTokens, GrantError> {
    let form = parse_form(headers, body)?;
    let client = client_credentials(headers, &form)?;
    let session = cookie
        .filter(|_| client.client_id == WEB_CLIENT)
        .map(|cookie| cookie.start(headers, now));
    let field = |name: &str| form.get(name).map(String::as_str);
    match field("grant_type") {
        Some("password") => {
            let grant = PasswordGrant {
                username: field("username")
                    .ok_or_else(|| GrantError::InvalidRequest("username is missing".into()))?,
                password: field("password")
                    .ok_or_else(|| GrantError::InvalidRequest("password is missing".into()))?,
                scope: field("scope"),
                address: client_address,
                session,
            };
            auth.password_grant(client, grant, now).await
        }
        Some("refresh_token") => {
            let refresh = field("refresh_token")
                .ok_or_else(|| GrantError::InvalidRequest("refresh_token is missing".into()))?;
            auth.refresh_grant(client, refresh, field("scope"), session.as_ref(), now)
                .await
        }
        Some(_) => Err(GrantError::Unsupported),
        None => Err(GrantError::InvalidRequest("grant_type is missing".into())),
    }
}

/// Reads an `application/x-www-form-urlencoded` body; a repeated parameter is an error
/// (RFC 6749 §3.2).
fn parse_form(
    headers: &HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<HashMap<String, String>, GrantError> {
    let is_form = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|v| {
            v.trim()
                .eq_ignore_ascii_case("application/x-www-form-urlencoded")
        });
    if !is_form {
        return Err(GrantError::InvalidRequest(
            "the body must be application/x-www-form-urlencoded".into(),
        ));
    }
    let body = body.map_err(|rejection| {
        if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
            GrantError::TooLarge
        } else {
            GrantError::InvalidRequest("the body could not be read".into())
        }
    })?;
    let mut form = HashMap::new();
    for (name, value) in form_urlencoded::parse(&body) {
        if form.insert(name.to_string(), value.into_owned()).is_some() {
            return Err(GrantError::InvalidRequest(format!(
                "`{name}` is given more than once"
            )));
        }
    }
    Ok(form)
}

/// Client credentials from HTTP Basic or the body, never both (RFC 6749 §2.3.1).
fn client_credentials(
    headers: &HeaderMap,
    form: &HashMap<String, String>,
) -> Result<ClientCredentials, GrantError> {
    let basic = headers
        .get(header::AUTHORIZATION)
        .map(|value| parse_basic(value).ok_or(GrantError::InvalidClient))
        .transpose()?;
    match basic {
        Some(credentials) => {
            if form.contains_key("client_secret") {
                return Err(GrantError::InvalidRequest(
                    "use one client authentication method, not two".into(),
                ));
            }
            if form
                .get("client_id")
                .is_some_and(|id| *id != credentials.client_id)
            {
                return Err(GrantError::InvalidClient);
            }
            Ok(credentials)
        }
        None => {
            let client_id = form
                .get("client_id")
                .filter(|id| !id.is_empty())
                .ok_or_else(|| GrantError::InvalidRequest("client_id is missing".into()))?;
            Ok(ClientCredentials {
                client_id: client_id.clone(),
                secret: form.get("client_secret").cloned(),
            })
        }
    }
}

fn parse_basic(value: &HeaderValue) -> Option<ClientCredentials> {
    let (scheme, encoded) = value.to_str().ok()?.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .ok()?;
    let decoded = String::from_utf8(decoded).ok()?;
    let (id, secret) = decoded.split_once(':')?;
    // Both parts are form-urlencoded before Base64 (RFC 6749 §2.3.1).
    let unescape = |text: &str| {
        form_urlencoded::parse(format!("v={text}").as_bytes())
            .next()
            .map(|(_, value)| value.into_owned())
    };
    Some(ClientCredentials {
        client_id: unescape(id)?,
        secret: Some(unescape(secret)?),
    })
}

fn token_response(issued: IssuedTokens) -> Response {
    let body = json!({
        "access_token": issued.access_token,
        "token_type": "Bearer",
        "expires_in": issued.expires_in.as_secs(),
        "refresh_token": issued.refresh_token,
        "scope": issued.scope,
    });
    (StatusCode::OK, no_store(), Json(body)).into_response()
}

/// RFC 6749 §5.1: token responses must not be cached.
fn no_store() -> [(header::HeaderName, HeaderValue); 2] {
    [
        (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
        (header::PRAGMA, HeaderValue::from_static("no-cache")),
    ]
}

fn oauth_error(error: GrantError, used_basic: bool) -> Response {
    let (status, code) = match &error {
        GrantError::InvalidRequest(_) => (StatusCode::BAD_REQUEST, "invalid_request"),
        GrantError::TooLarge => (StatusCode::PAYLOAD_TOO_LARGE, "invalid_request"),
        GrantError::InvalidClient => (StatusCode::UNAUTHORIZED, "invalid_client"),
        GrantError::InvalidGrant(_) => (StatusCode::BAD_REQUEST, "invalid_grant"),
        GrantError::InvalidScope => (StatusCode::BAD_REQUEST, "invalid_scope"),
        GrantError::Unsupported => (StatusCode::BAD_REQUEST, "unsupported_grant_type"),
        GrantError::Throttled(_) => (StatusCode::TOO_MANY_REQUESTS, "slow_down"),
        GrantError::Unavailable(_) => (StatusCode::SERVICE_UNAVAILABLE, "temporarily_unavailable"),
        GrantError::Internal(reason) => {
            tracing::error!(%reason, "token request failed");
            (StatusCode::INTERNAL_SERVER_ERROR, "server_error")
        }
    };
    let description = match &error {
        GrantError::Internal(_) => "internal error".to_string(),
        other => other.to_string(),
    };
    let mut response = (
        status,
        no_store(),
        Json(json!({ "error": code, "error_description": description })),
    )
        .into_response();
    let headers = response.headers_mut();
    match error {
        GrantError::Throttled(wait) => {
            headers.insert(
                header::RETRY_AFTER,
                HeaderValue::from(wait.as_secs().max(1)),
            );
        }
        GrantError::InvalidClient if used_basic => {
            headers.insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Basic realm=\"boardcast\""),
            );
        }
        _ => {}
    }
    response
}

/// RFC 7009: the client proves who it is as for a grant (a confidential client with its
/// secret, else 401 `invalid_client`), then 200 whether or not the token existed or was the
/// client's, so it reveals nothing; only the client's own tokens are revoked.
async fn revoke(
    State(auth): State<Authenticator>,
    State(clock): State<Clock>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let used_basic = headers.contains_key(header::AUTHORIZATION);
    match revoke_token(&auth, &headers, body, clock.now_millis()).await {
        Ok(()) => (StatusCode::OK, no_store()).into_response(),
        Err(error) => oauth_error(error, used_basic),
    }
}

async fn revoke_token(
    auth: &Authenticator,
    headers: &HeaderMap,
    body: Result<Bytes, BytesRejection>,
    now: i64,
) -> Result<(), GrantError> {
    let form = parse_form(headers, body)?;
    let credentials = client_credentials(headers, &form)?;
    let Some(token) = form.get("token").filter(|t| !t.is_empty()) else {
        return Err(GrantError::InvalidRequest("token is missing".into()));
    };
    let client = auth
        .registrar
        .authenticate(&credentials.client_id, credentials.secret)
        .await?;
    auth.tokens.revoke(token, &client.client_id, now).await?;
    Ok(())
}
