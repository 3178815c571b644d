//! One websocket, from `hello` to close. Everything a socket does happens in its own task,
//! one frame at a time, so a command is acknowledged only after it is durable and the events
//! a socket sends are always in offset order (see `hub` for how gaps are filled).

mod offsets;

use std::{
    num::NonZeroU32,
    time::{Duration, Instant},
};

use axum::extract::ws::{CloseFrame, Message, Utf8Bytes, WebSocket};
use futures_util::SinkExt;
use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use tokio::{sync::mpsc, time::sleep_until};

use super::{
    frames::{self, ClientFrame, FrameError, Role, ServerFrame},
    hello::{greet, read_failed, unavailable, End, Greeted, FORBIDDEN, RESTARTING},
    hub::Membership,
    peer::Outgoing,
    Realtime,
};
use crate::store::{Appended, NewCommand, StoreError};

/// The node pings a quiet socket this often and counts the peer dead after [`DEAD_AFTER`]
/// without a frame, so a vanished phone frees its socket.
const PING_EVERY: Duration = Duration::from_secs(20);
const DEAD_AFTER: Duration = Duration::from_secs(50);

/// The commands one controller socket may send: `per_second` on average, in bursts of twice
/// that, so a teacher clicking through slides is never slowed while a runaway or hostile
/// client cannot make its node write hundreds of events a second.
pub fn command_rate(per_second: NonZeroU32) -> Quota {
    Quota::per_second(per_second).allow_burst(per_second.saturating_add(per_second.get()))
}

/// Serves one socket until it closes; its `hello` must arrive within `hello_timeout`.
pub async fn serve(mut socket: WebSocket, realtime: Realtime, hello_timeout: Duration) {
    // Held to the end, past the goodbye: a stopping node waits until every socket's is sent.
    let mut stopping = realtime.watch_stopping();
    let greeted = match greet(&mut socket, &realtime, hello_timeout, &mut stopping).await {
        Ok(greeted) => greeted,
        Err(end) => return close(socket, end).await,
    };
    let (membership, outbox) = realtime.hub().join(
        &greeted.board_id,
        greeted.role,
        greeted.pairing_id.clone(),
        greeted.credential.clone(),
    );
    realtime.presence_changed(&greeted.board_id);
    let mut connection = Connection {
        socket,
        realtime: realtime.clone(),
        membership,
        outbox,
        greeted,
        sent: 0,
        last_heard: Instant::now(),
        next_ping: Instant::now() + PING_EVERY,
        next_code: None,
        commands: RateLimiter::direct(realtime.inner.command_rate),
    };
    let end = connection.run().await;
    let Connection {
        socket,
        membership,
        greeted,
        ..
    } = connection;
    drop(membership);
    realtime.presence_changed(&greeted.board_id);
    close(socket, end).await;
}

async fn close(mut socket: WebSocket, end: End) {
    match end {
        End::Close(code, reason) => {
            let frame = CloseFrame {
                code,
                reason: Utf8Bytes::from_static(reason),
            };
            let _ = socket.send(Message::Close(Some(frame))).await;
        }
        // The websocket layer queued the answering close frame when it read the client's
        // (RFC 6455 §5.5.1); flushing sends it, so the client sees a clean close, not 1006.
        End::ClosedByClient => {
            let _ = socket.flush().await;
        }
        End::Gone => {}
    }
}

/// A socket after its `hello`.
struct Connection {
    socket: WebSocket,
    realtime: Realtime,
    membership: Membership,
    outbox: mpsc::Receiver<Outgoing>,
    greeted: Greeted,
    /// The last offset the client has been sent.
    sent: i64,
    last_heard: Instant,
    next_ping: Instant,
    /// When a board waiting to be paired gets its next code.
    next_code: Option<Instant>,
    /// This socket's command budget (see [`command_rate`]).
    commands: DefaultDirectRateLimiter,
}

impl Connection {
    async fn run(&mut self) -> End {
        if let Err(end) = self.start().await {
            return end;
        }
        loop {
            let timer = self.next_ping.min(self.next_code.unwrap_or(self.next_ping));
            let step = tokio::select! {
                incoming = self.socket.recv() => self.received(incoming).await,
                Some(outgoing) = self.outbox.recv() => self.forward(outgoing).await,
                () = self.membership.peer().needs_attention() => self.attend().await,
                () = sleep_until(timer.into()) => self.on_timer().await,
            };
            if let Err(end) = step {
                return end;
            }
        }
    }

    /// `welcome` with what the client missed, and for a board waiting to be paired, a code.
    async fn start(&mut self) -> Result<(), End> {
        // Joined after `Realtime::shutdown` closed every socket it found.
        if self.realtime.is_stopping() {
            return Err(End::Close(RESTARTING.0, RESTARTING.1));
        }
        self.welcome(self.greeted.offset).await?;
        if self.greeted.role == Role::Board && !self.has_pairings().await? {
            self.send_code().await?;
        }
        Ok(())
    }

    async fn received(
        &mut self,
        incoming: Option<Result<Message, axum::Error>>,
    ) -> Result<(), End> {
        let message = match incoming {
            None => return Err(End::Gone),
            Some(Err(error)) => return Err(read_failed(&error)),
            Some(Ok(message)) => message,
        };
        self.last_heard = Instant::now();
        match message {
            Message::Text(text) => self.handle(&text).await,
            Message::Binary(_) => {
                let error = FrameError {
                    code: "invalid_frame",
                    message: "frames are JSON text".into(),
                    id: None,
                };
                self.send_error(&error).await
            }
            Message::Close(_) => Err(End::ClosedByClient),
            Message::Ping(_) | Message::Pong(_) => Ok(()),
        }
    }

    async fn handle(&mut self, text: &str) -> Result<(), End> {
        let frame = match frames::parse(text) {
            Ok(frame) => frame,
            Err(error) => return self.send_error(&error).await,
        };
        let role = self.greeted.role;
        match frame {
            ClientFrame::Ping {} => self.send_text(ServerFrame::Pong {}.encode()).await,
            ClientFrame::Command { id, .. }
                if role == Role::Controller && self.commands.check().is_err() =>
            {
                let error = FrameError {
                    code: "rate_limited",
                    message: "too many commands from this socket; the command was not run".into(),
                    id: Some(id),
                };
                self.send_error(&error).await
            }
            ClientFrame::Command { id, action } if role == Role::Controller => {
                self.command(id, action).await
            }
            ClientFrame::Pointer { x, y, hidden } if role == Role::Controller => {
                let frame = ServerFrame::Pointer { x, y, hidden }.encode();
                self.realtime.pointer(&self.greeted.board_id, frame);
                Ok(())
            }
            ClientFrame::Shown { offset } if role == Role::Board => {
                if offset > self.sent {
                    return self
                        .send_error(&refusal(
                            "invalid_frame",
                            "the board cannot have shown an offset it was not sent",
                        ))
                        .await;
                }
                self.realtime.shown(
                    &self.greeted.board_id,
                    offset,
                    self.realtime.inner.clock.now_millis(),
                );
                Ok(())
            }
            // Renewed before it expires only while the board has no pairing (`on_timer`).
            ClientFrame::RequestCode {} if role == Role::Board => self.send_code().await,
            ClientFrame::Hello(_) => {
                self.send_error(&refusal("already_greeted", "hello was sent already"))
                    .await
            }
            _ => {
                self.send_error(&refusal("forbidden", "this role cannot send that frame"))
                    .await
            }
        }
    }

    async fn command(
        &mut self,
        id: String,
        action: crate::domain::board::Action,
    ) -> Result<(), End> {
        let (Some(user_id), Some(pairing_id)) = (&self.greeted.user_id, &self.greeted.pairing_id)
        else {
            return Err(End::Close(FORBIDDEN, "not a controller"));
        };
        let command = NewCommand {
            board_id: self.greeted.board_id.clone(),
            pairing_id: pairing_id.clone(),
            command_id: id.clone(),
            action,
            by: user_id.clone(),
            by_admin: self.greeted.is_admin,
            at: self.realtime.inner.clock.now_millis(),
        };
        match self.realtime.append(command).await {
            Ok(Appended::New(event)) => self.ack(&id, event.seq).await,
            Ok(Appended::Again { seq }) => self.ack(&id, seq).await,
            Ok(Appended::Refused(refusal)) => {
                let error = FrameError {
                    code: refusal.code(),
                    message: refusal.to_string(),
                    id: Some(id),
                };
                self.send_error(&error).await
            }
            Ok(Appended::Unpaired) => Err(End::Close(FORBIDDEN, "pairing revoked")),
            Err(error) => {
                tracing::warn!(%error, "command not stored");
                let error = FrameError {
                    code: if matches!(error, StoreError::Unavailable(_)) {
                        "unavailable"
                    } else {
                        "internal_error"
                    },
                    message: "the command was not stored; send it again".into(),
                    id: Some(id),
                };
                self.send_error(&error).await
            }
        }
    }

    async fn ack(&mut self, id: &str, offset: i64) -> Result<(), End> {
        self.send_text(ServerFrame::Ack { id, offset }.encode())
            .await
    }

    /// What the hub asked for out of band.
    async fn attend(&mut self) -> Result<(), End> {
        let peer = self.membership.peer().clone();
        if let Some((code, reason)) = peer.take_close() {
            return Err(End::Close(code, reason));
        }
        if peer.take_behind() {
            self.catch_up().await?;
        }
        if peer.take_wants_code() && !self.has_pairings().await? {
            self.send_code().await?;
        }
        Ok(())
    }

    async fn on_timer(&mut self) -> Result<(), End> {
        let now = Instant::now();
        if self.next_code.is_some_and(|due| due <= now) {
            self.next_code = None;
            if !self.has_pairings().await? {
                self.send_code().await?;
            }
        }
        if self.next_ping <= now {
            if now.duration_since(self.last_heard) >= DEAD_AFTER {
                tracing::debug!("socket closed: the client stopped answering");
                return Err(End::Gone);
            }
            self.next_ping = now + PING_EVERY;
            if self.greeted.role == Role::Board {
                // Keeps "online" true in the teachers' lists while the socket is open.
                let _ = self
                    .realtime
                    .inner
                    .boards
                    .seen(
                        &self.greeted.board_id,
                        self.realtime.inner.clock.now_millis(),
                    )
                    .await;
            }
            self.send(Message::Ping(Default::default())).await?;
        }
        Ok(())
    }

    async fn has_pairings(&mut self) -> Result<bool, End> {
        self.realtime
            .inner
            .boards
            .has_pairings(&self.greeted.board_id)
            .await
            .map_err(unavailable)
    }

    /// Issues a code, sends it, and plans its replacement shortly before it expires.
    async fn send_code(&mut self) -> Result<(), End> {
        let now = self.realtime.inner.clock.now_millis();
        let issued = self
            .realtime
            .inner
            .boards
            .issue_code(&self.greeted.board_id, now)
            .await
            .map_err(unavailable)?;
        let lifetime = Duration::from_millis(u64::try_from(issued.expires_at - now).unwrap_or(0));
        let renew_before = (lifetime / 4).min(Duration::from_secs(60));
        self.next_code = Some(Instant::now() + lifetime - renew_before);
        let frame = ServerFrame::Code {
            code: &issued.code,
            expires_at: issued.expires_at,
        };
        self.send_text(frame.encode()).await
    }

    async fn send_error(&mut self, error: &FrameError) -> Result<(), End> {
        let frame = ServerFrame::Error {
            id: error.id.as_deref(),
            error: error.code,
            message: &error.message,
        };
        self.send_text(frame.encode()).await
    }

    async fn send_text(&mut self, text: String) -> Result<(), End> {
        self.send(Message::Text(Utf8Bytes::from(text))).await
    }

    async fn send(&mut self, message: Message) -> Result<(), End> {
        self.socket.send(message).await.map_err(|_| End::Gone)
    }
}

fn refusal(code: &'static str, message: &str) -> FrameError {
    FrameError {
        code,
        message: message.into(),
        id: None,
    }
}
