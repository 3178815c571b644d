//! Access and refresh tokens, stored only as SHA-256 digests, grouped in families (one per
//! login) so that reuse of a rotated refresh token revokes everything the login led to.

use sqlx::FromRow;
use uuid::Uuid;

use super::{Store, StoreResult};

/// Digests and expiry times of one freshly issued access + refresh token pair.
#[derive(Debug, Clone)]
pub struct NewTokenPair {
    pub access_digest: String,
    pub access_expires_at: i64,
    pub refresh_digest: String,
    pub refresh_expires_at: i64,
}

/// Who a live token speaks for.
#[derive(Debug, Clone, FromRow, PartialEq, Eq)]
pub struct TokenPrincipal {
    pub user_id: String,
    pub username: String,
    pub display_name: String,
    pub roles: String,
    pub client_id: String,
    pub scope: String,
    pub family_id: String,
    pub expires_at: i64,
}

/// What presenting a refresh token led to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RotateOutcome {
    /// The token was live and is now spent; the new pair belongs to this principal.
    Rotated(TokenPrincipal),
    /// The token had already been spent: its whole family is now revoked.
    Reused,
    /// Unknown, expired, revoked, or issued to another client.
    Invalid,
}

#[derive(FromRow)]
struct RefreshRow {
    family_id: String,
    used_at: Option<i64>,
    expires_at: i64,
    client_id: String,
    revoked_at: Option<i64>,
}

const PRINCIPAL_SELECT: &str = "select u.id as user_id, u.username, u.display_name, u.roles, \
    f.client_id, f.scope, f.id as family_id, a.expires_at \
    from access_tokens a join token_families f on f.id = a.family_id join users u on u.id = f.user_id";

impl Store {
    /// Starts a token family for a login and stores its first pair; returns the family id.
    pub async fn create_token_family(
        &self,
        user_id: &str,
        client_id: &str,
        scope: &str,
        pair: &NewTokenPair,
        now: i64,
    ) -> StoreResult<String> {
        let family_id = Uuid::new_v4().to_string();
        let mut tx = self.pool.begin().await?;
        sqlx::query(
            "insert into token_families (id, user_id, client_id, scope, created_at) values ($1, $2, $3, $4, $5)",
        )
        .bind(&family_id)
        .bind(user_id)
        .bind(client_id)
        .bind(scope)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        insert_pair(&mut tx, &family_id, pair).await?;
        tx.commit().await?;
        Ok(family_id)
    }

    /// The principal of a live access token, or `None` if it is unknown, expired or revoked.
    pub async fn find_access_token(
        &self,
        digest: &str,
        now: i64,
    ) -> StoreResult<Option<TokenPrincipal>> {
        let sql = format!(
            "{PRINCIPAL_SELECT} where a.digest = $1 and a.expires_at > $2 \
             and a.revoked_at is null and f.revoked_at is null"
        );
        Ok(sqlx::query_as(&sql)
            .bind(digest)
            .bind(now)
            .fetch_optional(&self.pool)
            .await?)
    }

    /// Spends a refresh token and stores the next pair, in one transaction. A token spent
    /// twice (even by two nodes racing) revokes its family.
    pub async fn rotate_refresh_token(
        &self,
        digest: &str,
        client_id: &str,
        next: &NewTokenPair,
        now: i64,
    ) -> StoreResult<RotateOutcome> {
        let mut tx = self.pool.begin().await?;
        let row: Option<RefreshRow> = sqlx::query_as(
            "select r.family_id, r.used_at, r.expires_at, f.client_id, f.revoked_at \
             from refresh_tokens r join token_families f on f.id = r.family_id where r.digest = $1",
        )
        .bind(digest)
        .fetch_optional(&mut *tx)
        .await?;
        let Some(row) = row else {
            return Ok(RotateOutcome::Invalid);
        };
        if row.client_id != client_id || row.revoked_at.is_some() || row.expires_at <= now {
            return Ok(RotateOutcome::Invalid);
        }
        let spent = sqlx::query(
            "update refresh_tokens set used_at = $1 where digest = $2 and used_at is null",
        )
        .bind(now)
        .bind(digest)
        .execute(&mut *tx)
        .await?;
        if row.used_at.is_some() || spent.rows_affected() == 0 {
            revoke_family(&mut tx, &row.family_id, now).await?;
            tx.commit().await?;
            return Ok(RotateOutcome::Reused);
        }
        insert_pair(&mut tx, &row.family_id, next).await?;
        let sql = format!("{PRINCIPAL_SELECT} where a.digest = $1");
        let principal: TokenPrincipal = sqlx::query_as(&sql)
            .bind(&next.access_digest)
            .fetch_one(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(RotateOutcome::Rotated(principal))
    }

    /// Adds an access token to a live family (a web session asking for a fresh token) and
    /// returns its principal; `None` when the family is revoked or gone.
    pub async fn add_access_token(
        &self,
        family_id: &str,
        access_digest: &str,
        expires_at: i64,
    ) -> StoreResult<Option<TokenPrincipal>> {
        let mut tx = self.pool.begin().await?;
        let inserted = sqlx::query(
            "insert into access_tokens (digest, family_id, expires_at) \
             select $1, id, $2 from token_families where id = $3 and revoked_at is null",
        )
        .bind(access_digest)
        .bind(expires_at)
        .bind(family_id)
        .execute(&mut *tx)
        .await?;
        if inserted.rows_affected() == 0 {
            return Ok(None);
        }
        let sql = format!("{PRINCIPAL_SELECT} where a.digest = $1");
        let principal = sqlx::query_as(&sql)
            .bind(access_digest)
            .fetch_one(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(Some(principal))
    }

    /// Revokes a token by digest (RFC 7009): an access token alone, or for a refresh token its
    /// whole family. Unknown digests are not an error.
    pub async fn revoke_token(&self, digest: &str, now: i64) -> StoreResult<()> {
        let mut tx = self.pool.begin().await?;
        sqlx::query(
            "update access_tokens set revoked_at = $1 where digest = $2 and revoked_at is null",
        )
        .bind(now)
        .bind(digest)
        .execute(&mut *tx)
        .await?;
        let family: Option<(String,)> =
            sqlx::query_as("select family_id from refresh_tokens where digest = $1")
                .bind(digest)
                .fetch_optional(&mut *tx)
                .await?;
        if let Some((family_id,)) = family {
            revoke_family(&mut tx, &family_id, now).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Revokes every token of a login (logout of one device).
    pub async fn revoke_token_family(&self, family_id: &str, now: i64) -> StoreResult<()> {
        let mut tx = self.pool.begin().await?;
        revoke_family(&mut tx, family_id, now).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Deletes token rows that can no longer be used, keeping the database small.
    pub async fn purge_expired_tokens(&self, now: i64) -> StoreResult<u64> {
        let mut removed = 0;
        removed += sqlx::query("delete from access_tokens where expires_at <= $1")
            .bind(now)
            .execute(&self.pool)
            .await?
            .rows_affected();
        removed += sqlx::query(
            "delete from token_families where not exists \
             (select 1 from refresh_tokens r where r.family_id = token_families.id and r.expires_at > $1)",
        )
        .bind(now)
        .execute(&self.pool)
        .await?
        .rows_affected();
        Ok(removed)
    }
}

async fn insert_pair(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    family_id: &str,
    pair: &NewTokenPair,
) -> StoreResult<()> {
    sqlx::query("insert into access_tokens (digest, family_id, expires_at) values ($1, $2, $3)")
        .bind(&pair.access_digest)
        .bind(family_id)
        .bind(pair.access_expires_at)
        .execute(&mut **tx)
        .await?;
    sqlx::query("insert into refresh_tokens (digest, family_id, expires_at) values ($1, $2, $3)")
        .bind(&pair.refresh_digest)
        .bind(family_id)
        .bind(pair.refresh_expires_at)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

async fn revoke_family(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    family_id: &str,
    now: i64,
) -> StoreResult<()> {
    sqlx::query("update token_families set revoked_at = $1 where id = $2 and revoked_at is null")
        .bind(now)
        .bind(family_id)
        .execute(&mut **tx)
        .await?;
    Ok(())
}
