//! Ending logins and tokens before their time (logout, RFC 7009 revocation, reuse of a
//! rotated refresh token), finding which logins a node's sockets may keep, and purging what
//! can no longer be used. A revoked login is a mark on its family that every token check
//! consults, so revoking never has to find and update each token it led to.

use std::collections::HashSet;

use super::{
    batch::{placeholders, IN_LIST_CHUNK},
    Store, StoreResult,
};

/// What revoking one token ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RevokedToken {
    /// That access token alone; its login goes on.
    Access,
    /// The whole login (token family) of this id: a refresh token was revoked.
    Login(String),
}

impl Store {
    /// Revokes a token of `client_id` by digest (RFC 7009): an access token alone, or for a
    /// refresh token its whole family; says which. Unknown digests, and tokens of other
    /// clients, revoke nothing and are not an error.
    pub async fn revoke_token(
        &self,
        digest: &str,
        client_id: &str,
        now: i64,
    ) -> StoreResult<Option<RevokedToken>> {
        let mut tx = self.begin_write().await?;
        let found: Option<(String, String)> = sqlx::query_as(
            "select kind, family_id from tokens where digest = $1 and client_id = $2",
        )
        .bind(digest)
        .bind(client_id)
        .fetch_optional(&mut *tx)
        .await?;
        let revoked = match found {
            None => None,
            Some((kind, family_id)) if kind == "refresh" => {
                revoke_family(&mut *tx, &family_id, now).await?;
                Some(RevokedToken::Login(family_id))
            }
            Some(_) => {
                sqlx::query(
                    "update tokens set revoked_at = $1 \
                     where digest = $2 and kind = 'access' and revoked_at is null",
                )
                .bind(now)
                .bind(digest)
                .execute(&mut *tx)
                .await?;
                Some(RevokedToken::Access)
            }
        };
        tx.commit().await?;
        Ok(revoked)
    }

    /// Which of the logins `family_ids` are still live: neither revoked nor without a
    /// refresh token left (expired, or deleted with their user or client).
    pub async fn live_logins(
        &self,
        family_ids: &[String],
        now: i64,
    ) -> StoreResult<HashSet<String>> {
        let mut live = HashSet::new();
        for chunk in family_ids.chunks(IN_LIST_CHUNK) {
            let sql = format!(
                "select distinct t.family_id from tokens t \
                 where t.family_id in ({}) and t.kind = 'refresh' and t.expires_at > $1 \
                 and not exists (select 1 from revoked_families r where r.family_id = t.family_id)",
                placeholders(2, chunk.len())
            );
            let mut query = sqlx::query_scalar::<_, String>(&sql).bind(now);
            for id in chunk {
                query = query.bind(id);
            }
            live.extend(query.fetch_all(&self.pool).await?);
        }
        Ok(live)
    }

    /// Which of the access tokens `digests` were revoked (one by one; a revoked login is
    /// [`Store::live_logins`]'s answer). A token deleted after expiring is not among them.
    pub async fn revoked_access_tokens(&self, digests: &[String]) -> StoreResult<Vec<String>> {
        let mut revoked = Vec::new();
        for chunk in digests.chunks(IN_LIST_CHUNK) {
            let sql = format!(
                "select digest from tokens \
                 where digest in ({}) and kind = 'access' and revoked_at is not null",
                placeholders(1, chunk.len())
            );
            let mut query = sqlx::query_scalar::<_, String>(&sql);
            for digest in chunk {
                query = query.bind(digest);
            }
            revoked.extend(query.fetch_all(&self.pool).await?);
        }
        Ok(revoked)
    }

    /// Revokes every token of a login (logout of one device).
    pub async fn revoke_token_family(&self, family_id: &str, now: i64) -> StoreResult<()> {
        revoke_family(&self.pool, family_id, now).await
    }

    /// Deletes tokens that can no longer be used, and the revocation marks of families
    /// with no token left, keeping the database small.
    pub async fn purge_expired_tokens(&self, now: i64) -> StoreResult<u64> {
        let mut removed = sqlx::query("delete from tokens where expires_at <= $1")
            .bind(now)
            .execute(&self.pool)
            .await?
            .rows_affected();
        removed += sqlx::query(
            "delete from revoked_families where not exists \
             (select 1 from tokens t where t.family_id = revoked_families.family_id)",
        )
        .execute(&self.pool)
        .await?
        .rows_affected();
        Ok(removed)
    }
}

/// Marks a family revoked; every token check consults the mark.
pub(super) async fn revoke_family<'e>(
    executor: impl sqlx::Executor<'e, Database = sqlx::Any>,
    family_id: &str,
    now: i64,
) -> StoreResult<()> {
    sqlx::query(
        "insert into revoked_families (family_id, revoked_at) values ($1, $2) \
         on conflict (family_id) do nothing",
    )
    .bind(family_id)
    .bind(now)
    .execute(executor)
    .await?;
    Ok(())
}
