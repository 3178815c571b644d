//! Failed-login counters shared by every node, so a guesser cannot spread attempts over nodes.

use super::{Store, StoreResult};

impl Store {
    /// For each key, the failures recorded in the window still open at `now` and when that
    /// window ends; one round trip for all keys (a login checks the username's and the
    /// address's counters together).
    pub async fn login_failures<const N: usize>(
        &self,
        keys: [&str; N],
        now: i64,
        window_ms: i64,
    ) -> StoreResult<[(i64, i64); N]> {
        let placeholders: Vec<String> = (1..=N).map(|i| format!("${i}")).collect();
        let sql = format!(
            "select key, window_start, failures from login_failures where key in ({})",
            placeholders.join(", ")
        );
        let mut query = sqlx::query_as::<_, (String, i64, i64)>(&sql);
        for key in keys {
            query = query.bind(key);
        }
        let rows = query.fetch_all(&self.pool).await?;
        Ok(
            keys.map(|key| match rows.iter().find(|(k, _, _)| k == key) {
                Some((_, start, failures)) if start + window_ms > now => {
                    (*failures, start + window_ms)
                }
                _ => (0, now + window_ms),
            }),
        )
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
