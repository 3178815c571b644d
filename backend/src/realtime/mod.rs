//! Live board traffic. A controller's command is checked against the board's state
//! (`domain::board`), appended to the board's durable log (`store::board_log`), acknowledged, and
//! handed to every socket of the board on every node (`hub`; other nodes learn of it from the
//! database, see `listener`). Pointers, presence and pairing changes are best-effort signals
//! between nodes (`bus`). One socket's life is in `socket`.

mod bus;
mod cut_off;
pub mod frames;
mod hello;
mod hub;
mod listener;
mod logins;
mod peer;
mod presence;
pub mod socket;

use std::{sync::Arc, time::Instant};

use axum::extract::ws::Utf8Bytes;

use self::{
    bus::{Bus, Envelope, LocalBus, PgBus, Signal},
    frames::{Role, ServerFrame},
    hello::{BAD_CREDENTIALS, RESTARTING},
    presence::Presence,
};
pub use self::{hub::Hub, peer::OUTBOX_CAPACITY};
use crate::{
    auth::TokenService,
    boards::Boards,
    clock::Clock,
    config::Settings,
    media::BlobNews,
    metrics::{CommandOutcome, Metrics},
    store::{Appended, BoardSnapshot, Engine, LoggedEvent, NewCommand, Store, StoreResult},
};

/// Boards per `lesson_updated` signal: 100 ids of 36 characters stay well within a
/// notification's payload.
const LESSON_UPDATE_GROUP: usize = 100;

/// Everything the sockets of a node share; cheap to clone.
#[derive(Clone)]
pub struct Realtime {
    inner: Arc<Inner>,
}

struct Inner {
    node: String,
    /// How many commands one controller socket may send (see `socket`).
    command_rate: governor::Quota,
    /// This process among the cluster's: node ids are names an operator may repeat (two
    /// nodes on one host both default to the host name), so the bus tells processes apart
    /// by a random id.
    instance: String,
    store: Store,
    boards: Boards,
    tokens: TokenService,
    metrics: Metrics,
    hub: Arc<Hub>,
    bus: Box<dyn Bus>,
    presence: Presence,
    /// Where uploads announced by other nodes go, for the media sync loop.
    blob_news: BlobNews,
    clock: Clock,
    background: std::sync::Mutex<Vec<tokio::task::JoinHandle<()>>>,
    /// True once the node stops, for the sockets `shutdown` cannot reach in the hub: those
    /// still to say hello and those joining after it. Each socket holds a receiver.
    stopping: tokio::sync::watch::Sender<bool>,
}

impl Realtime {
    /// Starts the node's realtime side; on PostgreSQL also its listener (LISTEN holds a
    /// connection of its own, outside the pool, to the current primary). Controllers
    /// whose login ended are closed within the token cache window (the same bound revocation
    /// has everywhere else); a revocation made on any node closes them at once.
    pub fn start(
        settings: &Settings,
        store: Store,
        boards: Boards,
        tokens: TokenService,
        metrics: Metrics,
        blob_news: BlobNews,
        clock: Clock,
    ) -> Self {
        let login_check_every = settings.auth.token_cache_window;
        let revocations = tokens.revocations();
        let instance = uuid::Uuid::new_v4().to_string();
        let bus: Box<dyn Bus> = match store.engine() {
            Engine::Sqlite => Box::new(LocalBus),
            Engine::Postgres => Box::new(PgBus::start(store.pool().clone(), instance.clone())),
        };
        let realtime = Self {
            inner: Arc::new(Inner {
                node: settings.node_id.clone(),
                command_rate: socket::command_rate(settings.limits.commands_per_second),
                instance,
                store: store.clone(),
                boards,
                tokens,
                metrics,
                hub: Hub::start(),
                bus,
                presence: Presence::default(),
                blob_news,
                clock,
                background: std::sync::Mutex::default(),
                stopping: tokio::sync::watch::Sender::new(false),
            }),
        };
        let mut background = vec![
            presence::spawn_refresh(realtime.downgrade()),
            logins::spawn_check(realtime.downgrade(), login_check_every),
            logins::spawn_revocations(realtime.downgrade(), revocations),
            cut_off::spawn(realtime.downgrade()),
        ];
        if store.engine() == Engine::Postgres {
            background.push(listener::spawn(realtime.downgrade()));
        }
        *realtime
            .inner
            .background
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = background;
        realtime
    }

    fn downgrade(&self) -> std::sync::Weak<Inner> {
        Arc::downgrade(&self.inner)
    }

    fn from_inner(inner: Arc<Inner>) -> Self {
        Self { inner }
    }

    pub fn node(&self) -> &str {
        &self.inner.node
    }

    pub fn hub(&self) -> &Arc<Hub> {
        &self.inner.hub
    }

    /// Appends a command and, when it is new, hands its event to this node's sockets at once
    /// (other nodes get it from the database's notification).
    pub async fn append(&self, command: NewCommand) -> StoreResult<Appended> {
        let arrived = Instant::now();
        let appended = self.inner.store.append_commands(command).await;
        let outcome = match &appended {
            Ok(Appended::New(event)) => {
                self.inner.hub.deliver(std::slice::from_ref(event));
                CommandOutcome::appended
            }
            Ok(Appended::Again { .. }) => CommandOutcome::repeated,
            Ok(Appended::Refused(_)) => CommandOutcome::refused,
            Ok(Appended::Unpaired) => CommandOutcome::unpaired,
            Err(_) => CommandOutcome::failed,
        };
        self.inner
            .metrics
            .record_command(outcome, arrived.elapsed());
        appended
    }

    /// A controller's pointer, for the board's screens on every node.
    pub fn pointer(&self, board_id: &str, frame: String) {
        self.inner
            .hub
            .pointer(board_id, Utf8Bytes::from(frame.clone()), Instant::now());
        self.inner.bus.publish(Signal::Pointer {
            board: board_id.to_string(),
            frame,
        });
    }

    /// The board rendered the state up to `offset`: its controllers on every node learn it,
    /// so a teacher sees what the class sees.
    pub fn shown(&self, board_id: &str, offset: i64, at: i64) {
        let frame = ServerFrame::Shown { offset, at }.encode();
        self.inner.hub.tell(
            board_id,
            Some(Role::Controller),
            &Utf8Bytes::from(frame.as_str()),
        );
        self.inner.bus.publish(Signal::Shown {
            board: board_id.to_string(),
            frame,
        });
    }

    /// A lesson was edited: every socket of the boards showing it, on every node, is told to
    /// read it again. Boards go in groups, each small enough for one notification.
    pub fn lesson_updated(&self, boards: &[String], lesson_id: &str, version: i64) {
        for group in boards.chunks(LESSON_UPDATE_GROUP) {
            self.signal(Signal::LessonUpdated {
                boards: group.to_vec(),
                lesson: lesson_id.to_string(),
                version,
            });
        }
    }

    /// A teacher paired with a board (on any node): its screens learn who.
    pub fn paired(&self, board_id: &str, pairing_id: &str, by: &str) {
        self.signal(Signal::Paired {
            board: board_id.to_string(),
            pairing: pairing_id.to_string(),
            by: by.to_string(),
        });
    }

    /// A pairing was deleted: its controllers are closed with 4003 on every node.
    pub fn unpaired(&self, board_id: &str, pairing_id: &str) {
        self.signal(Signal::Unpaired {
            board: board_id.to_string(),
            pairing: pairing_id.to_string(),
        });
    }

    /// A board's state and offset now, as its log folds them: what a `welcome` carries.
    async fn snapshot(&self, board_id: &str) -> StoreResult<BoardSnapshot> {
        self.inner.store.board_snapshot(board_id).await
    }

    /// Up to `limit` of the board's events after `offset`, in order: what a socket that
    /// missed some reads.
    async fn events_after(
        &self,
        board_id: &str,
        offset: i64,
        limit: i64,
    ) -> StoreResult<Vec<LoggedEvent>> {
        self.inner.store.events_after(board_id, offset, limit).await
    }

    /// An upload's blob is on this node's disk and its row committed: the other nodes fetch
    /// it now instead of at their next sync pass. Only they are told, this node has it.
    pub fn blob_stored(&self, sha256: &str, size: u64) {
        self.inner.bus.publish(Signal::BlobStored {
            sha256: sha256.to_string(),
            size,
            node: self.inner.node.clone(),
        });
    }

    /// A socket of `board_id` opened or closed here: every node recounts.
    pub fn presence_changed(&self, board_id: &str) {
        let local = self.inner.hub.presence(board_id);
        self.inner.bus.publish(Signal::Presence {
            board: board_id.to_string(),
            boards: local.boards,
            controllers: local.controllers,
        });
        self.show_presence(board_id);
    }

    /// Closes every socket with 1012 (the node is stopping; clients reconnect elsewhere), also
    /// those still saying hello or joining later, and stops the background tasks.
    pub fn shutdown(&self) {
        // Set before the hub is walked: a socket joining after the walk sees it (`socket`).
        self.inner.stopping.send_replace(true);
        let (code, reason) = RESTARTING;
        self.inner.hub.close_all(code, reason);
        let tasks = std::mem::take(
            &mut *self
                .inner
                .background
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner),
        );
        for task in tasks {
            task.abort();
        }
    }

    /// For a socket's task, held from its upgrade until its goodbye is sent: it says when the
    /// node starts stopping, and [`Realtime::closed`] waits until none is left.
    fn watch_stopping(&self) -> tokio::sync::watch::Receiver<bool> {
        self.inner.stopping.subscribe()
    }

    fn is_stopping(&self) -> bool {
        *self.inner.stopping.borrow()
    }

    /// Waits until every socket here has ended, its close frame sent.
    pub async fn closed(&self) {
        self.inner.stopping.closed().await;
    }

    fn signal(&self, signal: Signal) {
        self.apply(&signal);
        self.inner.bus.publish(signal);
    }

    /// What another node (or this one) said, applied to this node's sockets.
    fn apply(&self, signal: &Signal) {
        let hub = &self.inner.hub;
        match signal {
            Signal::Pointer { board, frame } => {
                hub.pointer(board, Utf8Bytes::from(frame.as_str()), Instant::now());
            }
            Signal::Shown { board, frame } => {
                hub.tell(
                    board,
                    Some(Role::Controller),
                    &Utf8Bytes::from(frame.as_str()),
                );
            }
            Signal::LessonUpdated {
                boards,
                lesson,
                version,
            } => {
                let frame = ServerFrame::LessonUpdated {
                    lesson_id: lesson,
                    version: *version,
                };
                let text = Utf8Bytes::from(frame.encode());
                for board in boards {
                    hub.tell(board, None, &text);
                }
            }
            Signal::Paired { board, pairing, by } => {
                let frame = ServerFrame::Paired {
                    pairing_id: pairing,
                    by,
                };
                hub.tell(board, Some(Role::Board), &Utf8Bytes::from(frame.encode()));
            }
            Signal::Unpaired { board, pairing } => {
                hub.close_pairing(pairing, 4003, "pairing revoked");
                hub.ask_for_code(board);
            }
            Signal::LoginRevoked { login } => {
                hub.close_login(login, BAD_CREDENTIALS, "the login has ended");
            }
            Signal::TokenRevoked { token } => {
                hub.close_token(token, BAD_CREDENTIALS, "the access token was revoked");
            }
            Signal::BlobStored { sha256, size, node } => match sha256.parse() {
                Ok(digest) => self
                    .inner
                    .blob_news
                    .announced(boardcast_sync::Wanted { digest, len: *size }, node),
                Err(error) => tracing::warn!(%error, node, "announced blob has a malformed digest"),
            },
            Signal::Presence { .. } => {}
        }
    }

    /// Signals from another node.
    fn receive(&self, envelope: Envelope) {
        if envelope.sender == self.inner.instance {
            return;
        }
        for signal in &envelope.signals {
            if let Signal::Presence {
                board,
                boards,
                controllers,
            } = signal
            {
                let changed = self.inner.presence.record(
                    board,
                    &envelope.sender,
                    hub::LocalPresence {
                        boards: *boards,
                        controllers: *controllers,
                    },
                    Instant::now(),
                );
                if changed {
                    self.show_presence(board);
                }
            } else {
                self.apply(signal);
            }
        }
    }

    /// Sends the board's sockets here the cluster-wide counts.
    fn show_presence(&self, board_id: &str) {
        let local = self.inner.hub.presence(board_id);
        if local == hub::LocalPresence::default() {
            return;
        }
        let total = self.inner.presence.total(board_id, local, Instant::now());
        let frame = ServerFrame::Presence {
            board_online: total.boards > 0,
            controllers: total.controllers,
        };
        self.inner
            .hub
            .tell(board_id, None, &Utf8Bytes::from(frame.encode()));
    }
}
