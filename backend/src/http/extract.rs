//! Who is calling: the bearer-token extractor every protected handler takes.

use axum::{extract::FromRequestParts, http::request::Parts};

use super::error::ApiError;
use crate::{auth::Authenticator, directory::Roles, store::millis, store::TokenPrincipal};

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
        let now = millis(std::time::SystemTime::now());
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
