//! Who is calling: a person with a bearer token, a teacher, or a board with its secret.

use std::net::{IpAddr, SocketAddr};

use axum::{
    extract::{ConnectInfo, FromRequestParts, Path},
    http::request::Parts,
};

use super::error::ApiError;
use crate::{
    directory::Roles,
    state::AppState,
    store::{BoardRow, TokenPrincipal},
    wire_id,
};

/// The person behind a valid access token.
#[derive(Debug, Clone)]
pub struct CurrentUser {
    pub principal: TokenPrincipal,
    pub roles: Roles,
}

impl FromRequestParts<AppState> for CurrentUser {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        // Already checked for this request (the idempotency layer needs the caller first).
        if let Some(user) = parts.extensions.get::<Self>() {
            return Ok(user.clone());
        }
        let token = bearer_token(parts).ok_or(ApiError::Unauthorized)?;
        let now = state.clock.now_millis();
        let principal = state
            .auth
            .tokens
            .authenticate(token, now)
            .await?
            .ok_or_else(|| {
                tracing::debug!("bearer token refused: unknown, expired or revoked");
                ApiError::Unauthorized
            })?;
        tracing::Span::current().record("user.id", principal.user_id.as_str());
        let roles = Roles::parse(&principal.roles);
        Ok(Self { principal, roles })
    }
}

/// A person with the teacher role; anyone else gets 403.
#[derive(Debug, Clone)]
pub struct Teacher(pub CurrentUser);

impl FromRequestParts<AppState> for Teacher {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let user = CurrentUser::from_request_parts(parts, state).await?;
        if !user.roles.teacher {
            return Err(ApiError::Forbidden("only teachers may do this".into()));
        }
        Ok(Self(user))
    }
}

/// A board proving itself with `Authorization: Board <board_id>:<board_secret>`.
#[derive(Debug, Clone)]
pub struct CurrentBoard(pub BoardRow);

impl FromRequestParts<AppState> for CurrentBoard {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        if let Some(board) = parts.extensions.get::<Self>() {
            return Ok(board.clone());
        }
        let (board_id, secret) = board_credentials(parts).ok_or(ApiError::Unauthorized)?;
        let board = state
            .boards
            .authenticate(board_id, secret, state.clock.now_millis())
            .await?
            .ok_or_else(|| {
                tracing::debug!("board credentials refused");
                ApiError::Unauthorized
            })?;
        tracing::Span::current().record("board.id", board.id.as_str());
        Ok(Self(board))
    }
}

/// Either kind of caller, for endpoints both a teacher and a board may use.
#[derive(Debug, Clone)]
pub enum TeacherOrBoard {
    Teacher(CurrentUser),
    Board(BoardRow),
}

impl FromRequestParts<AppState> for TeacherOrBoard {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        match BoardViewer::from_request_parts(parts, state).await? {
            BoardViewer::Board(board) => Ok(Self::Board(board)),
            BoardViewer::Person(user) if user.roles.teacher => Ok(Self::Teacher(user)),
            BoardViewer::Person(_) => Err(ApiError::Forbidden("only teachers may do this".into())),
        }
    }
}

/// Anyone who may look at a board: the board itself, or a person with a token (whether
/// that person may see this board is the handler's question).
#[derive(Debug, Clone)]
pub enum BoardViewer {
    Board(BoardRow),
    Person(CurrentUser),
}

impl FromRequestParts<AppState> for BoardViewer {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        if board_credentials(parts).is_some() {
            let CurrentBoard(board) = CurrentBoard::from_request_parts(parts, state).await?;
            return Ok(Self::Board(board));
        }
        Ok(Self::Person(
            CurrentUser::from_request_parts(parts, state).await?,
        ))
    }
}

fn board_credentials(parts: &Parts) -> Option<(&str, &str)> {
    let (scheme, credentials) = authorization(parts)?;
    if !scheme.eq_ignore_ascii_case("board") {
        return None;
    }
    credentials
        .split_once(':')
        .filter(|(id, secret)| !id.is_empty() && !secret.is_empty())
}

/// The scheme and the credentials of the `Authorization` header.
fn authorization(parts: &Parts) -> Option<(&str, &str)> {
    let value = parts
        .headers
        .get(axum::http::header::AUTHORIZATION)?
        .to_str()
        .ok()?;
    let (scheme, credentials) = value.split_once(' ')?;
    Some((scheme, credentials.trim()))
}

fn bearer_token(parts: &Parts) -> Option<&str> {
    let (scheme, token) = authorization(parts)?;
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

/// The `{id}` of a path, in its stored form whatever the case it was sent in (see
/// `wire_id`); what is no UUID names nothing, so it is a 404 before any lookup.
#[derive(Debug, Clone)]
pub struct PathId(pub String);

impl<S: Send + Sync> FromRequestParts<S> for PathId {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let Path(sent) = Path::<String>::from_request_parts(parts, state)
            .await
            .map_err(|e| ApiError::NotFound(e.body_text()))?;
        wire_id::canonical(&sent)
            .map(Self)
            .ok_or_else(|| ApiError::NotFound(format!("no such id {sent:?}: ids are UUIDs")))
    }
}
