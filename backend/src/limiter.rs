//! Budgets of attempts per key in a fixed window, shared by the whole cluster: failed logins,
//! pairing-code guesses, board registrations. The counters live in the shared database, so
//! spreading attempts over nodes gains nothing. Every attempt reserves its slot before it is
//! checked and gets it back when it turns out not to count, so a burst of parallel guesses is
//! checked at most as often as the budget allows.

use std::time::Duration;

use crate::store::{duration_millis, Budget, Slot, Store, StoreResult};

/// Attempts refused until `retry_after` has passed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Throttled {
    pub retry_after: Duration,
}

impl Throttled {
    /// Refused until the window ending at `window_end` (at least a second from `now`).
    fn until(window_end: i64, now: i64) -> Self {
        let wait_ms = u64::try_from(window_end - now).unwrap_or(0).max(1_000);
        Self {
            retry_after: Duration::from_millis(wait_ms),
        }
    }
}

/// The slots one attempt holds; given back with [`WindowLimit::refund`] when it does not count.
#[derive(Debug)]
#[must_use = "an attempt that does not count must refund its slots"]
pub struct Reserved(Vec<Slot>);

/// Budgets of attempts per key in a fixed window, cluster-wide.
#[derive(Clone)]
pub struct WindowLimit {
    store: Store,
    window_ms: i64,
}

impl WindowLimit {
    pub fn new(store: Store, window: Duration) -> Self {
        Self {
            store,
            window_ms: duration_millis(window),
        }
    }

    /// Takes one attempt from each budget, all or none; `Err(Throttled)` once any is spent.
    pub async fn reserve(
        &self,
        budgets: &[Budget<'_>],
        now: i64,
    ) -> StoreResult<Result<Reserved, Throttled>> {
        Ok(self
            .store
            .reserve_attempt(budgets, now, self.window_ms)
            .await?
            .map(Reserved)
            .map_err(|window_end| Throttled::until(window_end, now)))
    }

    /// Gives an attempt's slots back: it turned out not to count.
    pub async fn refund(&self, reserved: Reserved) -> StoreResult<()> {
        self.store.refund_attempt(&reserved.0).await
    }

    /// The attempt succeeded: its slots are given back, and `reset`'s budget is forgotten
    /// altogether (a good password clears its user's failures, not its address's).
    pub async fn succeeded(&self, reserved: Reserved, reset: &str) -> StoreResult<()> {
        let others: Vec<Slot> = reserved.0.into_iter().filter(|s| s.key != reset).collect();
        self.store.release_attempt(&others, Some(reset)).await
    }
}
