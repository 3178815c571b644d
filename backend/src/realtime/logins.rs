//! Controllers stay open only while the login they said hello with is live: a teacher who
//! logs out (or whose login is revoked, or whose account is removed) loses their sockets
//! within the token cache window, like their tokens. Access tokens expiring do not count: the
//! login goes on and the socket with it.

use std::{sync::Weak, time::Duration};

use super::{hello::BAD_CREDENTIALS, Inner, Realtime};
use crate::store::now_millis;

pub fn spawn_check(realtime: Weak<Inner>, every: Duration) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut ticks = tokio::time::interval(every.max(Duration::from_millis(100)));
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticks.tick().await;
            let Some(inner) = realtime.upgrade() else {
                return;
            };
            if let Err(error) = Realtime::from_inner(inner).close_ended_logins().await {
                tracing::warn!(%error, "could not check the controllers' logins");
            }
        }
    })
}

impl Realtime {
    /// One query for every controller login on this node.
    async fn close_ended_logins(&self) -> crate::store::StoreResult<()> {
        let hub = &self.inner.hub;
        let logins = hub.logins();
        if logins.is_empty() {
            return Ok(());
        }
        let live = self.inner.store.live_logins(&logins, now_millis()).await?;
        for ended in logins.iter().filter(|login| !live.contains(*login)) {
            hub.close_login(ended, BAD_CREDENTIALS, "the login has ended");
        }
        Ok(())
    }
}
