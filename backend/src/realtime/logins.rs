//! Controllers stay open only while the login and the access token they said hello with
//! are live. A revocation (logout, `/oauth/revoke`, an account the directory no longer
//! knows) closes them at once on every node: the node that revoked tells its own sockets and
//! the others through the bus. A periodic check catches what a lost signal missed, and logins
//! that ended otherwise (removed accounts), within the token cache window. Access tokens
//! expiring do not count: the login goes on and the socket with it.

use std::{sync::Weak, time::Duration};

use tokio::sync::broadcast::{self, error::RecvError};

use super::{bus::Signal, Inner, Realtime};
use crate::auth::tokens::Revocation;

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

/// Applies this node's revocations to every node's sockets as they happen.
pub fn spawn_revocations(
    realtime: Weak<Inner>,
    mut revocations: broadcast::Receiver<Revocation>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            let revocation = revocations.recv().await;
            let Some(inner) = realtime.upgrade() else {
                return;
            };
            let realtime = Realtime::from_inner(inner);
            match revocation {
                Ok(Revocation::Login(login)) => realtime.signal(Signal::LoginRevoked { login }),
                Ok(Revocation::AccessToken(token)) => {
                    realtime.signal(Signal::TokenRevoked { token })
                }
                Err(RecvError::Lagged(missed)) => {
                    tracing::warn!(missed, "revocations came too fast to tell each at once");
                    if let Err(error) = realtime.close_ended_logins().await {
                        tracing::warn!(%error, "could not check the controllers' logins");
                    }
                }
                Err(RecvError::Closed) => return,
            }
        }
    })
}

impl Realtime {
    /// Two queries for every controller on this node: their logins, their access tokens.
    async fn close_ended_logins(&self) -> crate::store::StoreResult<()> {
        let hub = &self.inner.hub;
        let logins = hub.logins();
        if logins.is_empty() {
            return Ok(());
        }
        let store = &self.inner.store;
        let live = store
            .live_logins(&logins, self.inner.clock.now_millis())
            .await?;
        for ended in logins.iter().filter(|login| !live.contains(*login)) {
            self.apply(&Signal::LoginRevoked {
                login: ended.clone(),
            });
        }
        for token in store.revoked_access_tokens(&hub.tokens()).await? {
            self.apply(&Signal::TokenRevoked { token });
        }
        Ok(())
    }
}
