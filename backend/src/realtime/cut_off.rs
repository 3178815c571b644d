//! A node that cannot reach the database cannot acknowledge a command or let a socket say
//! hello; its sockets would wait there, retrying, while other nodes serve. So once the
//! database has been gone for [`MOVE_AFTER`], the node closes its sockets with 1012 ("go
//! elsewhere"): the clients resume on another node with their offsets, and the node's own
//! `hello`s fail with 1013 until the database is back. During a failover every node is cut
//! off at once: the clients then wait with backoff, as they would anyway.

use std::{sync::Weak, time::Duration};

use super::Inner;

/// How long the database may be gone before clients are sent away: longer than a dropped
/// connection takes to come back, far shorter than a lesson can wait.
const MOVE_AFTER: Duration = Duration::from_secs(3);
const CHECK_EVERY: Duration = Duration::from_millis(500);

pub fn spawn(realtime: Weak<Inner>) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut sent_away = false;
        loop {
            tokio::time::sleep(CHECK_EVERY).await;
            let Some(inner) = realtime.upgrade() else {
                return;
            };
            match inner.store.database_lost_for() {
                Some(lost) if lost >= MOVE_AFTER && !sent_away => {
                    tracing::warn!(?lost, "no database: sending this node's sockets elsewhere");
                    inner
                        .hub
                        .close_all(1012, "this node cannot reach the database");
                    sent_away = true;
                }
                Some(_) => {}
                None => sent_away = false,
            }
        }
    })
}
