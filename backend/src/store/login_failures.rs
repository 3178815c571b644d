//! Attempt counters shared by every node (failed logins, pairing-code guesses, board
//! registrations), so spreading attempts over nodes gains nothing. An attempt takes its slot
//! *before* it is checked, and only while the window has room: a burst of parallel attempts
//! can never be checked more often than the budget allows.

use super::{counter_batch::CounterOp, Store, StoreResult};

/// One budget an attempt draws on: at most `max` attempts per window under `key`.
#[derive(Debug, Clone, Copy)]
pub struct Budget<'a> {
    pub key: &'a str,
    pub max: i64,
}

/// A slot an attempt took: the counter's key and the window it was counted in, so a refund
/// never takes from a later window.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Slot {
    pub key: String,
    pub window_start: i64,
}

impl Store {
    /// Takes one slot in every budget, all or none, decided in the order attempts arrive
    /// (batched with the attempts waiting beside it, see `counter_batch`). `Err` holds when
    /// the window of the first spent budget ends.
    pub async fn reserve_attempt(
        &self,
        budgets: &[Budget<'_>],
        now: i64,
        window_ms: i64,
    ) -> StoreResult<Result<Vec<Slot>, i64>> {
        let budgets = budgets
            .iter()
            .map(|budget| (budget.key.to_string(), budget.max))
            .collect();
        self.batches
            .counters
            .call(CounterOp::Reserve {
                budgets,
                now,
                window_ms,
            })
            .await
    }

    /// Gives slots back (the attempt turned out not to count).
    pub async fn refund_attempt(&self, slots: &[Slot]) -> StoreResult<()> {
        self.release_attempt(slots, None).await
    }

    /// Gives slots back and forgets the counter `forget` (after a successful login, its
    /// user's failures), in one write.
    pub async fn release_attempt(&self, slots: &[Slot], forget: Option<&str>) -> StoreResult<()> {
        self.batches
            .counters
            .call(CounterOp::Release {
                slots: slots.to_vec(),
                forget: forget.map(str::to_string),
            })
            .await
            .map(|_released| ())
    }

    /// Deletes counters whose window started before `started_before` (the longest window
    /// ago): they count nothing any more. The number deleted.
    pub async fn purge_expired_counters(&self, started_before: i64) -> StoreResult<u64> {
        let deleted = sqlx::query("delete from login_failures where window_start < $1")
            .bind(started_before)
            .execute(&self.pool)
            .await?;
        Ok(deleted.rows_affected())
    }
}
