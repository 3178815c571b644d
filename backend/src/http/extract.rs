//! Who is calling: the bearer-token extractor every protected handler takes.

use std::net::{IpAddr, SocketAddr};

use axum::{
    extract::{ConnectInfo, FromRequestParts},
    http::request::Parts,
};

use super::error::ApiError;
use crate::{
    auth::Authenticator,
    directory::Roles,
    state::AppState,
    store::{now_millis, TokenPrincipal},
};

/// The person behind a valid access token.
#[derive(Debug, Clone)]
pub struct CurrentUser {
    pub principal: TokenPrincipal,
    pub roles: Roles,
}

impl<S> FromRequestParts<S> for CurrentUser
where
    S: Send + Sync,
    Authenticator: axum::extract::FromRef<S>,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let auth = <Authenticator as axum::extract::FromRef<S>>::from_ref(state);
        let token = bearer_token(parts).ok_or(ApiError::Unauthorized)?;
        let now = now_millis();
        let principal = auth.tokens.authenticate(token, now).await?.ok_or_else(|| {
            tracing::debug!("bearer token refused: unknown, expired or revoked");
            ApiError::Unauthorized
        })?;
        tracing::Span::current().record("user.id", principal.user_id.as_str());
        let roles = Roles::parse(&principal.roles);
        Ok(Self { principal, roles })
    }
}

fn bearer_token(parts: &Parts) -> Option<&str> {
    let value = parts
        .headers
        .get(axum::http::header::AUTHORIZATION)?
        .to_str()
        .ok()?;
    let (scheme, token) = value.split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

/// The address of the client: the TCP peer, or, when the peer is one of
/// `web.trusted_proxies`, the last address in `X-Forwarded-For` that is not a trusted proxy
/// (the one the outermost trusted proxy saw). Untrusted peers cannot spoof it.
#[derive(Debug, Clone, Copy)]
pub struct ClientAddress(pub IpAddr);

impl FromRequestParts<AppState> for ClientAddress {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let peer = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|ConnectInfo(address)| address.ip())
            .ok_or_else(|| ApiError::Internal("no peer address".into()))?;
        let trusted = &state.settings.web.trusted_proxies;
        if !trusted.contains(&peer) {
            return Ok(Self(peer));
        }
        let forwarded = parts
            .headers
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|value| value.to_str().ok())
            .flat_map(|value| value.split(','))
            .filter_map(|hop| hop.trim().parse::<IpAddr>().ok())
            .collect::<Vec<_>>();
        let client = forwarded
            .into_iter()
            .rev()
            .find(|hop| !trusted.contains(hop))
            .unwrap_or(peer);
        Ok(Self(client))
    }
}
