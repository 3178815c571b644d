//! The PostgreSQL listener of a node: events other nodes appended and their signals.
//!
//! Notifications sent while the listener was disconnected are gone for good, so after every
//! (re)connect, once LISTEN is active, the node checks the log: boards that moved on while it
//! was away are caught up from it, controllers whose pairing was deleted are closed, this
//! node's presence is announced again, and its media sync runs a pass for the uploads it was
//! not told of. Anything committed after that is notified. A notification that cannot be
//! read (a newer node's format, say) is handled the same way.

use std::{sync::Weak, time::Duration};

use sqlx::postgres::PgListener;

use super::{bus::SIGNALS_CHANNEL, Inner, Realtime};
use crate::store::{parse_notification, EVENTS_CHANNEL};

/// The first wait before reconnecting; it doubles up to [`MAX_BACKOFF`].
const FIRST_BACKOFF: Duration = Duration::from_millis(100);
const MAX_BACKOFF: Duration = Duration::from_secs(5);

pub fn spawn(url: String, realtime: Weak<Inner>) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut backoff = FIRST_BACKOFF;
        loop {
            match listen(&url).await {
                Ok(mut listener) => {
                    backoff = FIRST_BACKOFF;
                    let Some(inner) = realtime.upgrade() else {
                        return;
                    };
                    let node = Realtime::from_inner(inner);
                    if let Err(error) = node.after_gap().await {
                        tracing::warn!(%error, "could not catch up after listening again");
                    }
                    drop(node);
                    if !receive(&mut listener, &realtime).await {
                        return;
                    }
                    tracing::warn!("lost the database listener; reconnecting");
                }
                Err(error) => {
                    tracing::warn!(%error, ?backoff, "cannot listen to the database; retrying");
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(MAX_BACKOFF);
                }
            }
        }
    })
}

async fn listen(url: &str) -> Result<PgListener, sqlx::Error> {
    let mut listener = PgListener::connect(url).await?;
    listener
        .listen_all([EVENTS_CHANNEL, SIGNALS_CHANNEL])
        .await?;
    Ok(listener)
}

/// Hands notifications to the node until the connection is lost (`true`) or the node is
/// gone (`false`).
async fn receive(listener: &mut PgListener, realtime: &Weak<Inner>) -> bool {
    loop {
        let notification = match listener.try_recv().await {
            Ok(Some(notification)) => notification,
            Ok(None) => return true,
            Err(error) => {
                tracing::warn!(%error, "database listener failed");
                return true;
            }
        };
        let Some(inner) = realtime.upgrade() else {
            return false;
        };
        let node = Realtime::from_inner(inner);
        let unreadable = match notification.channel() {
            EVENTS_CHANNEL => match parse_notification(notification.payload()) {
                Ok(events) => {
                    node.inner.hub.deliver(&events);
                    None
                }
                Err(error) => Some(error.to_string()),
            },
            SIGNALS_CHANNEL => match serde_json::from_str(notification.payload()) {
                Ok(envelope) => {
                    node.receive(envelope);
                    None
                }
                Err(error) => Some(error.to_string()),
            },
            _ => None,
        };
        // What it announced cannot be known, but the log and the pairings can: treat it as
        // a gap rather than let boards wait for their next event.
        if let Some(error) = unreadable {
            tracing::warn!(%error, channel = notification.channel(), "unreadable notification: catching up from the log");
            if let Err(error) = node.after_gap().await {
                tracing::warn!(%error, "could not catch up after an unreadable notification");
            }
        }
    }
}

impl Realtime {
    /// What a node does when it may have missed notifications; see the module docs.
    pub(super) async fn after_gap(&self) -> crate::store::StoreResult<()> {
        let inner = &self.inner;
        inner.blob_news.catch_up();
        let boards = inner.hub.boards();
        let ids: Vec<String> = boards.iter().map(|(board, _)| board.clone()).collect();
        let heads = inner.store.board_heads(&ids).await?;
        for (board, delivered) in &boards {
            if heads.get(board).is_some_and(|head| head > delivered) {
                inner.hub.catch_up(board);
            }
        }
        let pairings = inner.hub.pairings();
        let live = inner.store.existing_pairings(&pairings).await?;
        for pairing in pairings.iter().filter(|p| !live.contains(*p)) {
            inner.hub.close_pairing(pairing, 4003, "pairing revoked");
        }
        self.refresh_presence();
        Ok(())
    }
}
