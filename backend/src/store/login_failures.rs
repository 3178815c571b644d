//! Failed-login counters shared by every node, so a guesser cannot spread attempts over nodes.

use super::{
    batch::{placeholders, HeldConnection},
    Store, StoreResult,
};

/// A counter as stored: key, start of its window, failures in it.
pub(super) type CounterRow = (String, i64, i64);

/// A stored failure counter: when its window started and the failures in it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Counter {
    pub window_start: i64,
    pub failures: i64,
}

impl Counter {
    /// The failures of `counter`'s window if it is still open at `now`, and when that window
    /// ends; with no open window, none yet and a window starting now.
    pub fn open_window(counter: Option<Counter>, now: i64, window_ms: i64) -> (i64, i64) {
        match counter {
            Some(c) if c.window_start + window_ms > now => (c.failures, c.window_start + window_ms),
            _ => (0, now + window_ms),
        }
    }
}

impl Store {
    /// For each key, the failures recorded in the window still open at `now` and when that
    /// window ends. Concurrent callers share one statement (see `batch`). Logins read theirs
    /// with their account instead (`login_facts`).
    pub async fn login_failures<const N: usize>(
        &self,
        keys: [&str; N],
        now: i64,
        window_ms: i64,
    ) -> StoreResult<[(i64, i64); N]> {
        let rows = self
            .batches
            .failure_counters
            .call(keys.iter().map(|key| key.to_string()).collect())
            .await?;
        Ok(keys.map(|key| {
            let counter =
                rows.iter()
                    .find(|(k, _, _)| k == key)
                    .map(|&(_, window_start, failures)| Counter {
                        window_start,
                        failures,
                    });
            Counter::open_window(counter, now, window_ms)
        }))
    }

    /// Counts one more failure for `key`, starting a new window when the old one is over.
    /// One statement, so concurrent failures on several nodes are all counted.
    pub async fn record_login_failure(
        &self,
        key: &str,
        now: i64,
        window_ms: i64,
    ) -> StoreResult<()> {
        sqlx::query(
            "insert into login_failures (key, window_start, failures) values ($1, $2, 1) \
             on conflict (key) do update set \
               failures = case when login_failures.window_start + $3 > $2 then login_failures.failures + 1 else 1 end, \
               window_start = case when login_failures.window_start + $3 > $2 then login_failures.window_start else $2 end",
        )
        .bind(key)
        .bind(now)
        .bind(window_ms)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Forgets the failures of `key` (after a successful login of that user).
    pub async fn clear_login_failures(&self, key: &str) -> StoreResult<()> {
        sqlx::query("delete from login_failures where key = $1")
            .bind(key)
            .execute(&self.pool)
            .await?;
        Ok(())
    }
}

/// One statement reading the counters of a batch of logins; each gets the rows of its keys.
pub(super) async fn read_counters(
    held: HeldConnection,
    requests: Vec<Vec<String>>,
) -> StoreResult<Vec<Vec<CounterRow>>> {
    let keys: Vec<&String> = requests.iter().flatten().collect();
    let sql = format!(
        "select key, window_start, failures from login_failures where key in ({})",
        placeholders(1, keys.len())
    );
    let mut query = sqlx::query_as::<_, CounterRow>(&sql);
    for key in keys {
        query = query.bind(key);
    }
    let mut lease = held.lease().await?;
    let rows = query
        .fetch_all(lease.connection()?)
        .await
        .map_err(|e| lease.failed(e))?;
    Ok(requests
        .iter()
        .map(|keys| {
            rows.iter()
                .filter(|(key, _, _)| keys.contains(key))
                .cloned()
                .collect()
        })
        .collect())
}
