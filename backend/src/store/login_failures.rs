//! Attempt counters shared by every node (failed logins, pairing-code guesses, board
//! registrations), so spreading attempts over nodes gains nothing. An attempt takes its slot
//! *before* it is checked, with a conditional upsert that only counts while the window has
//! room: a burst of parallel attempts can never be checked more often than the budget allows.

use sqlx::AnyConnection;

use super::{Store, StoreResult};

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
    /// Takes one slot in every budget, all or none, in one write transaction. `Err` holds when
    /// the window of the first spent budget ends. Budgets are always taken in the order given,
    /// so concurrent reservations lock counters in the same order and cannot deadlock.
    pub async fn reserve_attempt(
        &self,
        budgets: &[Budget<'_>],
        now: i64,
        window_ms: i64,
    ) -> StoreResult<Result<Vec<Slot>, i64>> {
        self.within_deadline(async {
            let mut tx = self.begin_write().await?;
            let mut slots = Vec::with_capacity(budgets.len());
            for budget in budgets {
                match take_slot(&mut tx, budget, now, window_ms).await? {
                    Some(window_start) => slots.push(Slot {
                        key: budget.key.to_string(),
                        window_start,
                    }),
                    None => {
                        let window_end = window_end(&mut tx, budget.key, now, window_ms).await?;
                        tx.rollback().await?;
                        return Ok(Err(window_end));
                    }
                }
            }
            tx.commit().await?;
            Ok(Ok(slots))
        })
        .await
    }

    /// Gives slots back (the attempt turned out not to count), in one write transaction.
    pub async fn refund_attempt(&self, slots: &[Slot]) -> StoreResult<()> {
        self.within_deadline(async {
            let mut tx = self.begin_write().await?;
            for slot in slots {
                sqlx::query(
                    "update login_failures set failures = failures - 1 \
                     where key = $1 and window_start = $2 and failures > 0",
                )
                .bind(&slot.key)
                .bind(slot.window_start)
                .execute(&mut *tx)
                .await?;
            }
            tx.commit().await?;
            Ok(())
        })
        .await
    }

    /// Forgets the failures of `key` (after a successful login of that user).
    pub async fn clear_login_failures(&self, key: &str) -> StoreResult<()> {
        self.within_deadline(async {
            sqlx::query("delete from login_failures where key = $1")
                .bind(key)
                .execute(&self.pool)
                .await?;
            Ok(())
        })
        .await
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

/// Counts one attempt under `budget` if its window has room, starting a new window when the
/// old one is over; the window's start when counted, `None` when the budget is spent. One
/// statement: PostgreSQL re-checks the condition on the row it locked, SQLite runs it under
/// the write lock.
async fn take_slot(
    connection: &mut AnyConnection,
    budget: &Budget<'_>,
    now: i64,
    window_ms: i64,
) -> Result<Option<i64>, sqlx::Error> {
    let open = "login_failures.window_start + $3 > $2";
    let sql = format!(
        "insert into login_failures (key, window_start, failures) values ($1, $2, 1) \
         on conflict (key) do update set \
           failures = case when {open} then login_failures.failures + 1 else 1 end, \
           window_start = case when {open} then login_failures.window_start else $2 end \
         where not ({open}) or login_failures.failures < $4 \
         returning window_start"
    );
    let taken: Option<(i64,)> = sqlx::query_as(&sql)
        .bind(budget.key)
        .bind(now)
        .bind(window_ms)
        .bind(budget.max)
        .fetch_optional(&mut *connection)
        .await?;
    Ok(taken.map(|(window_start,)| window_start))
}

/// When the window of `key`'s counter ends (for a refusal's `Retry-After`).
async fn window_end(
    connection: &mut AnyConnection,
    key: &str,
    now: i64,
    window_ms: i64,
) -> Result<i64, sqlx::Error> {
    let start: Option<(i64,)> =
        sqlx::query_as("select window_start from login_failures where key = $1")
            .bind(key)
            .fetch_optional(&mut *connection)
            .await?;
    Ok(start.map_or(now, |(start,)| start) + window_ms)
}
