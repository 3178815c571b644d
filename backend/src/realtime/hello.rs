//! A socket's first frame: `hello` within `[limits] hello_timeout`, with the credentials of a
//! board or of a teacher and one of their pairings. What the socket may do afterwards follows
//! from who it turned out to be.

use std::time::Duration;

use axum::extract::ws::{Message, WebSocket};
use futures_util::{Stream, StreamExt};
use tokio::sync::watch;

use super::{
    frames::{self, ClientFrame, Hello, Role},
    peer::Credential,
    Realtime,
};
use crate::{boards::PairingError, directory::Roles};

/// Close codes (see the close codes in docs/api.md).
pub(super) const BAD_CREDENTIALS: u16 = 4001;
pub(super) const FORBIDDEN: u16 = 4003;
const NO_HELLO: u16 = 4008;
const TOO_BIG: u16 = 1009;
const TRY_AGAIN_LATER: u16 = 1013;
/// The node is stopping: the client reconnects to another one at once.
pub(super) const RESTARTING: (u16, &str) = (1012, "node restarting");

/// Why a socket ends: close it with this code and reason, answer the client's close, or it
/// is gone already.
#[derive(Debug)]
pub(super) enum End {
    Close(u16, &'static str),
    ClosedByClient,
    Gone,
}

/// Who the socket speaks for, once `hello` checked out.
pub(super) struct Greeted {
    pub board_id: String,
    pub role: Role,
    pub user_id: Option<String>,
    /// A controller whose teacher is also an admin (may open any lesson).
    pub is_admin: bool,
    pub pairing_id: Option<String>,
    pub credential: Option<Credential>,
    pub offset: Option<i64>,
}

/// Waits for `hello` and checks the credentials in it. A node that starts stopping meanwhile
/// (`stopping`) closes the socket with 1012 rather than wait.
pub(super) async fn greet(
    socket: &mut WebSocket,
    realtime: &Realtime,
    hello_timeout: Duration,
    stopping: &mut watch::Receiver<bool>,
) -> Result<Greeted, End> {
    let hello = read_hello(socket, hello_timeout, stopping).await?;
    let now = realtime.inner.clock.now_millis();
    match hello.role {
        Role::Board => greet_board(realtime, hello, now).await,
        Role::Controller => greet_controller(realtime, hello, now).await,
    }
}

/// The first frame, which must be a `hello` arriving within `hello_timeout` (pings and pongs
/// before it are let through); 4008 otherwise.
async fn read_hello<S>(
    frames: &mut S,
    hello_timeout: Duration,
    stopping: &mut watch::Receiver<bool>,
) -> Result<Hello, End>
where
    S: Stream<Item = Result<Message, axum::Error>> + Unpin,
{
    let deadline = tokio::time::Instant::now() + hello_timeout;
    loop {
        let message = tokio::select! {
            message = tokio::time::timeout_at(deadline, frames.next()) => message,
            _ = stopping.wait_for(|stopping| *stopping) => {
                return Err(End::Close(RESTARTING.0, RESTARTING.1))
            }
        }
        .map_err(|_| End::Close(NO_HELLO, "no hello in time"))?;
        match message {
            None => return Err(End::Gone),
            Some(Err(error)) => return Err(read_failed(&error)),
            Some(Ok(Message::Text(text))) => match frames::parse(&text) {
                Ok(ClientFrame::Hello(hello)) => return Ok(hello),
                _ => return Err(End::Close(NO_HELLO, "the first frame must be hello")),
            },
            Some(Ok(Message::Close(_))) => return Err(End::ClosedByClient),
            Some(Ok(Message::Binary(_))) => {
                return Err(End::Close(NO_HELLO, "the first frame must be hello"))
            }
            Some(Ok(_)) => {}
        }
    }
}

async fn greet_board(realtime: &Realtime, hello: Hello, now: i64) -> Result<Greeted, End> {
    let (Some(board_id), Some(secret)) = (hello.board_id, hello.board_secret) else {
        return Err(End::Close(
            BAD_CREDENTIALS,
            "board_id and board_secret are needed",
        ));
    };
    let board = realtime
        .inner
        .boards
        .authenticate(&board_id, &secret, now)
        .await
        .map_err(unavailable)?
        .ok_or(End::Close(BAD_CREDENTIALS, "unknown board or wrong secret"))?;
    Ok(Greeted {
        board_id: board.id,
        role: Role::Board,
        user_id: None,
        is_admin: false,
        pairing_id: None,
        credential: None,
        offset: hello.offset,
    })
}

async fn greet_controller(realtime: &Realtime, hello: Hello, now: i64) -> Result<Greeted, End> {
    let (Some(token), Some(pairing_id)) = (hello.access_token, hello.pairing_id) else {
        return Err(End::Close(
            BAD_CREDENTIALS,
            "access_token and pairing_id are needed",
        ));
    };
    let inner = &realtime.inner;
    let principal = inner
        .tokens
        .authenticate(&token, now)
        .await
        .map_err(|e| unavailable(e.into()))?
        .ok_or(End::Close(BAD_CREDENTIALS, "the access token is not valid"))?;
    let roles = Roles::parse(&principal.roles);
    if !roles.teacher {
        return Err(End::Close(FORBIDDEN, "only teachers steer boards"));
    }
    let pairing = inner
        .boards
        .pairing_of(&principal.user_id, &pairing_id)
        .await
        .map_err(unavailable)?
        .ok_or(End::Close(FORBIDDEN, "no such pairing"))?;
    Ok(Greeted {
        board_id: pairing.board_id,
        role: Role::Controller,
        user_id: Some(principal.user_id),
        is_admin: roles.admin,
        pairing_id: Some(pairing.id),
        credential: Some(Credential {
            family_id: principal.family_id,
            token_digest: crate::auth::tokens::digest(&token),
        }),
        offset: hello.offset,
    })
}

pub(super) fn unavailable(error: PairingError) -> End {
    tracing::warn!(%error, "socket refused: the database is not answering");
    End::Close(TRY_AGAIN_LATER, "try again shortly")
}

/// An error reading from the socket: a frame over the limit, or a broken connection.
pub(super) fn read_failed(error: &axum::Error) -> End {
    let text = error.to_string();
    if text.contains("Space limit exceeded") || text.contains("too long") {
        End::Close(TOO_BIG, "frames are at most 64 KiB")
    } else {
        End::Gone
    }
}

#[cfg(test)]
mod tests {
    use futures_util::stream;

    use super::*;

    const HELLO_TIMEOUT: Duration = Duration::from_secs(10);

    #[tokio::test(start_paused = true)]
    async fn a_socket_silent_until_the_hello_timeout_is_closed_with_4008_then() {
        let (_node, mut stopping) = watch::channel(false);
        let mut silent = stream::pending::<Result<Message, axum::Error>>();
        let started = tokio::time::Instant::now();
        let ended = read_hello(&mut silent, HELLO_TIMEOUT, &mut stopping).await;
        assert!(matches!(ended, Err(End::Close(NO_HELLO, _))), "{ended:?}");
        assert_eq!(started.elapsed(), HELLO_TIMEOUT);
    }

    #[tokio::test(start_paused = true)]
    async fn pings_before_hello_do_not_extend_the_deadline() {
        let (_node, mut stopping) = watch::channel(false);
        let pings = stream::iter([Ok(Message::Ping(Default::default()))]).chain(stream::pending());
        let mut pings = Box::pin(pings);
        let started = tokio::time::Instant::now();
        let ended = read_hello(&mut pings, HELLO_TIMEOUT, &mut stopping).await;
        assert!(matches!(ended, Err(End::Close(NO_HELLO, _))), "{ended:?}");
        assert_eq!(started.elapsed(), HELLO_TIMEOUT);
    }

    #[tokio::test(start_paused = true)]
    async fn a_hello_in_time_is_read_and_anything_else_first_is_refused() {
        let (_node, mut stopping) = watch::channel(false);
        let hello = r#"{"type":"hello","role":"board","board_secret":"s",
            "board_id":"0190f5c2-7a4b-7c3d-8e9f-0a1b2c3d4e5f"}"#;
        let mut greeting = stream::iter([Ok(Message::Text(hello.into()))]);
        let read = read_hello(&mut greeting, HELLO_TIMEOUT, &mut stopping).await;
        assert!(
            matches!(
                read,
                Ok(Hello {
                    role: Role::Board,
                    ..
                })
            ),
            "{read:?}"
        );

        let mut rude = stream::iter([Ok(Message::Text(r#"{"type":"ping"}"#.into()))]);
        let read = read_hello(&mut rude, HELLO_TIMEOUT, &mut stopping).await;
        assert!(matches!(read, Err(End::Close(NO_HELLO, _))), "{read:?}");
    }
}
