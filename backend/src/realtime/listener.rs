//! The PostgreSQL listener of a node: events other nodes appended and their signals.
//!
//! It listens on the current primary (after a failover, the new one). Notifications sent
//! while the listener was disconnected are gone for good, so after every
//! (re)connect, once LISTEN is active, the node checks the log: boards that moved on while it
//! was away are caught up from it, controllers whose pairing was deleted are closed, this
//! node's presence is announced again, and its media sync runs a pass for the uploads it was
//! not told of. Anything committed after that is notified. A notification that cannot be
//! read (a newer node's format, say) is handled the same way.

use std::{sync::Weak, time::Duration};

use backon::{BackoffBuilder, ExponentialBuilder};
use sqlx::postgres::PgListener;

use super::{bus::SIGNALS_CHANNEL, Inner, Realtime};
use crate::store::{parse_notification, EVENTS_CHANNEL};

/// The waits before listening again after a failure: 100 ms, doubling up to a second.
/// Attempts are only made while a primary is known, so the cap is short: after a failover the
/// listener is back on the new primary within about a second.
const RETRY_BACKOFF: ExponentialBuilder = ExponentialBuilder::new()
    .with_min_delay(Duration::from_millis(100))
    .with_max_delay(LONGEST_BACKOFF)
    .without_max_times();
const LONGEST_BACKOFF: Duration = Duration::from_secs(1);
/// How long connecting and LISTEN may take: a server that just died is retried by sqlx for
/// half a minute, while the store may already know of a new primary.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);
/// How long one wait for a known primary lasts before checking the node is still there.
const PRIMARY_WAIT: Duration = Duration::from_secs(1);

pub fn spawn(realtime: Weak<Inner>) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut backoff = RETRY_BACKOFF.build();
        loop {
            let Some(store) = realtime.upgrade().map(|inner| inner.store.clone()) else {
                return;
            };
            let url = store.primary_url(PRIMARY_WAIT).await;
            drop(store);
            let Some(url) = url else {
                continue;
            };
            let listening = tokio::time::timeout(CONNECT_TIMEOUT, listen(&url)).await;
            let mut listener = match listening {
                Ok(Ok(listener)) => listener,
                Ok(Err(error)) => {
                    let wait = backoff.next().unwrap_or(LONGEST_BACKOFF);
                    tracing::warn!(%error, ?wait, "cannot listen to the database; retrying");
                    tokio::time::sleep(wait).await;
                    continue;
                }
                Err(_) => {
                    tracing::warn!(
                        ?CONNECT_TIMEOUT,
                        "the database did not let us listen in time; retrying"
                    );
                    continue;
                }
            };
            let Some(inner) = realtime.upgrade() else {
                return;
            };
            let node = Realtime::from_inner(inner);
            let caught_up = node.after_gap().await;
            drop(node);
            // Without the catch-up, boards could wait for their next event: listen again.
            if let Err(error) = caught_up {
                let wait = backoff.next().unwrap_or(LONGEST_BACKOFF);
                tracing::warn!(%error, ?wait, "could not catch up after listening again; retrying");
                tokio::time::sleep(wait).await;
                continue;
            }
            backoff = RETRY_BACKOFF.build();
            if !receive(&mut listener, &realtime).await {
                return;
            }
            tracing::warn!("lost the database listener; reconnecting");
        }
    })
}

async fn listen(url: &str) -> Result<PgListener, sqlx::Error> {
    let mut listener = PgListener::connect(url).await?;
    // Reconnecting by itself, it would retry the lost server for up to half a minute; the
    // loop above asks the store where the primary is now instead.
    listener.eager_reconnect(false);
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
