//! Claims on Idempotency-Keys: the first request with a key runs the write and records its
//! answer; a retry, on any node, finds the answer instead of writing again. The answer is
//! opaque here (the HTTP layer seals it).

use super::{Store, StoreResult};

/// What a request holding an Idempotency-Key should do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Claim {
    /// Run the write, then [`Store::record_idempotent_answer`] or
    /// [`Store::release_idempotency_key`].
    Mine,
    /// The first request's (sealed) answer: send it again, write nothing.
    Answered(String),
    /// The key was used for a different request.
    Mismatch,
    /// The first request is still running (on this node or another).
    Running,
}

/// A claim being made: who asked with which key (`id`), for which request.
#[derive(Debug, Clone, Copy)]
pub struct KeyClaim<'a> {
    pub id: &'a str,
    pub request_hash: &'a str,
    pub now: i64,
    /// Until when the claimant may run before a retry takes over.
    pub locked_until: i64,
    pub expires_at: i64,
}

/// A claim races at most this many times with rows appearing, expiring or being taken over.
const CLAIM_ATTEMPTS: usize = 4;

impl Store {
    pub async fn claim_idempotency_key(&self, claim: KeyClaim<'_>) -> StoreResult<Claim> {
        for _ in 0..CLAIM_ATTEMPTS {
            let inserted = sqlx::query(
                "insert into idempotency_keys (id, request_hash, answer, locked_until, expires_at) \
                 values ($1, $2, null, $3, $4) on conflict (id) do nothing",
            )
            .bind(claim.id)
            .bind(claim.request_hash)
            .bind(claim.locked_until)
            .bind(claim.expires_at)
            .execute(&self.pool)
            .await?;
            if inserted.rows_affected() == 1 {
                return Ok(Claim::Mine);
            }
            let row: Option<(String, Option<String>, i64, i64)> = sqlx::query_as(
                "select request_hash, answer, locked_until, expires_at from idempotency_keys \
                 where id = $1",
            )
            .bind(claim.id)
            .fetch_optional(&self.pool)
            .await?;
            let Some((request_hash, answer, locked_until, expires_at)) = row else {
                continue;
            };
            if expires_at <= claim.now {
                sqlx::query("delete from idempotency_keys where id = $1 and expires_at <= $2")
                    .bind(claim.id)
                    .bind(claim.now)
                    .execute(&self.pool)
                    .await?;
                continue;
            }
            if request_hash != claim.request_hash {
                return Ok(Claim::Mismatch);
            }
            if let Some(answer) = answer {
                return Ok(Claim::Answered(answer));
            }
            if locked_until > claim.now {
                return Ok(Claim::Running);
            }
            // The first claimant ran out of time (its node died?): take over, unless
            // another retry just did.
            let taken = sqlx::query(
                "update idempotency_keys set locked_until = $1 \
                 where id = $2 and answer is null and locked_until = $3",
            )
            .bind(claim.locked_until)
            .bind(claim.id)
            .bind(locked_until)
            .execute(&self.pool)
            .await?;
            if taken.rows_affected() == 1 {
                return Ok(Claim::Mine);
            }
        }
        Ok(Claim::Running)
    }

    /// Keeps the answer of the write that held the claim on `id`.
    pub async fn record_idempotent_answer(&self, id: &str, answer: &str) -> StoreResult<()> {
        sqlx::query("update idempotency_keys set answer = $1 where id = $2")
            .bind(answer)
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Gives a claim up without an answer: the write decided nothing (the database was down,
    /// the token had expired), so a retry must run it.
    pub async fn release_idempotency_key(&self, id: &str) -> StoreResult<()> {
        sqlx::query("delete from idempotency_keys where id = $1 and answer is null")
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    pub async fn purge_expired_idempotency_keys(&self, now: i64) -> StoreResult<u64> {
        Ok(
            sqlx::query("delete from idempotency_keys where expires_at <= $1")
                .bind(now)
                .execute(&self.pool)
                .await?
                .rows_affected(),
        )
    }
}
