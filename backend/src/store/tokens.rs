//! Access and refresh tokens, stored only as SHA-256 digests, grouped in families (one per
//! login) so that reuse of a rotated refresh token revokes everything the login led to.
//! A login is one statement: both tokens in one insert, with no foreign keys to lock.

use sqlx::{AnyConnection, FromRow};
use uuid::Uuid;

use tower_sessions::session::Id;

use super::{
    batch::AnyQuery, login_writes::LoginWrite, revocations::revoke_family, sessions::LoginSession,
    Store, StoreResult,
};

/// Digests and expiry times of one freshly issued access + refresh token pair.
#[derive(Debug, Clone)]
pub struct NewTokenPair {
    pub access_digest: String,
    pub access_expires_at: i64,
    pub refresh_digest: String,
    pub refresh_expires_at: i64,
}

impl NewTokenPair {
    /// This pair with neither token outliving a login that ends at `login_ends_at`.
    fn ends_by(&self, login_ends_at: i64) -> Self {
        Self {
            access_expires_at: self.access_expires_at.min(login_ends_at),
            refresh_expires_at: self.refresh_expires_at.min(login_ends_at),
            ..self.clone()
        }
    }
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
    /// When the login ends, however often it refreshes (`limits.login_lifetime`).
    pub login_ends_at: i64,
}

/// The times that bound a new login: when it ends however often it refreshes, and when the
/// directory confirmed its account (grace while the directory is down counts from there).
#[derive(Debug, Clone, Copy)]
pub struct LoginSpan {
    pub ends_at: i64,
    pub directory_checked_at: i64,
}

/// The account behind a refresh token, for the directory to confirm before a refresh.
#[derive(Debug, Clone, FromRow)]
pub struct RefreshOwner {
    pub username: String,
    /// When the directory last confirmed the account (0: never recorded).
    pub directory_checked_at: i64,
}

/// What presenting a refresh token led to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RotateOutcome {
    /// The token was live and is now spent; the new pair belongs to this principal.
    Rotated(TokenPrincipal),
    /// The token had already been spent: its whole family (this id) is now revoked.
    Reused(String),
    /// Unknown, expired, revoked, or issued to another client.
    Invalid,
}

#[derive(FromRow)]
struct RefreshRow {
    family_id: String,
    user_id: String,
    client_id: String,
    scope: String,
    used_at: Option<i64>,
    expires_at: i64,
    login_ends_at: i64,
    directory_checked_at: i64,
    family_revocations: i64,
}

/// The principal of an access token, checked live: neither expired, revoked, nor of a
/// revoked family. `$1` is the digest, `$2` the current time.
const LIVE_PRINCIPAL: &str = "select u.id as user_id, u.username, u.display_name, u.roles, \
    t.client_id, t.scope, t.family_id, t.expires_at, \
    coalesce(t.login_ends_at, t.expires_at) as login_ends_at \
    from tokens t join users u on u.id = t.user_id \
    where t.digest = $1 and t.kind = 'access' and t.expires_at > $2 and t.revoked_at is null \
    and not exists (select 1 from revoked_families r where r.family_id = t.family_id)";

/// What [`Store::create_token_family`] stored.
#[derive(Debug)]
pub struct NewLogin {
    pub family_id: String,
    /// The web session that went in with the tokens: none when none was asked for, or when
    /// its id was taken (as unlikely as guessing 128 random bits).
    pub session: Option<Id>,
}

/// A login's first pair, with the family it starts and whose it is.
pub(super) struct NewFamily {
    family_id: String,
    user_id: String,
    client_id: String,
    scope: String,
    login_ends_at: i64,
    directory_checked_at: i64,
    pair: NewTokenPair,
}

impl Store {
    /// Starts a token family for a login bounded by `span` and stores its first pair, with
    /// the web session it starts if any (see [`LoginSession`]). Concurrent logins share one
    /// statement (see `batch`).
    pub async fn create_token_family(
        &self,
        user_id: &str,
        client_id: &str,
        scope: &str,
        pair: &NewTokenPair,
        session: Option<&LoginSession>,
        span: LoginSpan,
    ) -> StoreResult<NewLogin> {
        let LoginSpan {
            ends_at: login_ends_at,
            directory_checked_at,
        } = span;
        // Time-ordered, so each new family goes at the end of the family index rather than
        // onto a random page: a batch of logins writes a few pages fewer (on SQLite each is a
        // 4 KiB WAL frame).
        let family_id = Uuid::now_v7().to_string();
        let session_start = session
            .map(|session| session.start(&family_id))
            .transpose()?;
        let family = NewFamily {
            family_id: family_id.clone(),
            user_id: user_id.to_string(),
            client_id: client_id.to_string(),
            scope: scope.to_string(),
            login_ends_at,
            directory_checked_at,
            pair: pair.ends_by(login_ends_at),
        };
        let write = LoginWrite {
            family,
            session: session_start,
        };
        let session_started = self.batches.login_writes.call(write).await?;
        Ok(NewLogin {
            family_id,
            session: session
                .filter(|_| session_started)
                .map(|session| session.id),
        })
    }

    /// The principal of a live access token, or `None` if it is unknown, expired or revoked.
    pub async fn find_access_token(
        &self,
        digest: &str,
        now: i64,
    ) -> StoreResult<Option<TokenPrincipal>> {
        Ok(sqlx::query_as(LIVE_PRINCIPAL)
            .bind(digest)
            .bind(now)
            .fetch_optional(&self.pool)
            .await?)
    }

    /// Whose login a refresh token of `client_id` belongs to, and when the directory last
    /// confirmed that account, looked at before the token is spent; `None` if unknown.
    pub async fn refresh_token_owner(
        &self,
        digest: &str,
        client_id: &str,
    ) -> StoreResult<Option<RefreshOwner>> {
        Ok(sqlx::query_as(
            "select u.username, coalesce(t.directory_checked_at, 0) as directory_checked_at \
             from tokens t join users u on u.id = t.user_id \
             where t.digest = $1 and t.kind = 'refresh' and t.client_id = $2",
        )
        .bind(digest)
        .bind(client_id)
        .fetch_optional(&self.pool)
        .await?)
    }

    /// Spends a refresh token and stores the next pair, in one transaction, neither of them
    /// outliving the login; `checked_at` is when the directory just confirmed the account
    /// (`None`: it could not be asked, the last confirmation stands). A token spent twice
    /// (even by two nodes racing) revokes its family.
    pub async fn rotate_refresh_token(
        &self,
        digest: &str,
        client_id: &str,
        next: &NewTokenPair,
        checked_at: Option<i64>,
        now: i64,
    ) -> StoreResult<RotateOutcome> {
        let mut tx = self.begin_write().await?;
        let row: Option<RefreshRow> = sqlx::query_as(
            "select family_id, user_id, client_id, scope, used_at, expires_at, \
             coalesce(login_ends_at, expires_at) as login_ends_at, \
             coalesce(directory_checked_at, 0) as directory_checked_at, \
             (select count(*) from revoked_families r where r.family_id = t.family_id) as family_revocations \
             from tokens t where digest = $1 and kind = 'refresh'",
        )
        .bind(digest)
        .fetch_optional(&mut *tx)
        .await?;
        let Some(row) = row else {
            return Ok(RotateOutcome::Invalid);
        };
        if row.client_id != client_id || row.family_revocations > 0 || row.expires_at <= now {
            return Ok(RotateOutcome::Invalid);
        }
        let spent = sqlx::query(
            "update tokens set used_at = $1 where digest = $2 and kind = 'refresh' and used_at is null",
        )
        .bind(now)
        .bind(digest)
        .execute(&mut *tx)
        .await?;
        if row.used_at.is_some() || spent.rows_affected() == 0 {
            revoke_family(&mut *tx, &row.family_id, now).await?;
            tx.commit().await?;
            return Ok(RotateOutcome::Reused(row.family_id));
        }
        let family = NewFamily {
            family_id: row.family_id,
            user_id: row.user_id,
            client_id: row.client_id,
            scope: row.scope,
            login_ends_at: row.login_ends_at,
            directory_checked_at: checked_at.unwrap_or(row.directory_checked_at),
            pair: next.ends_by(row.login_ends_at),
        };
        let sql = insert_families_sql(1, 1);
        bind_family(sqlx::query(&sql), &family)
            .execute(&mut *tx)
            .await?;
        let principal: TokenPrincipal = sqlx::query_as(LIVE_PRINCIPAL)
            .bind(&family.pair.access_digest)
            .bind(now)
            .fetch_one(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(RotateOutcome::Rotated(principal))
    }

    /// Adds an access token to a live family (a web session asking for a fresh token), expiring
    /// at `expires_at` or when the login ends if sooner, and returns its principal; `None` when
    /// the family is revoked or gone.
    pub async fn add_access_token(
        &self,
        family_id: &str,
        access_digest: &str,
        expires_at: i64,
        now: i64,
    ) -> StoreResult<Option<TokenPrincipal>> {
        let inserted = sqlx::query(
            "insert into tokens \
             (digest, kind, family_id, user_id, client_id, scope, expires_at, login_ends_at, \
             directory_checked_at) \
             select $1, 'access', family_id, user_id, client_id, scope, \
             case when login_ends_at < $2 then login_ends_at else $2 end, login_ends_at, \
             directory_checked_at \
             from tokens \
             where family_id = $3 and kind = 'refresh' and expires_at > $4 \
             and not exists (select 1 from revoked_families r where r.family_id = $3) \
             limit 1",
        )
        .bind(access_digest)
        .bind(expires_at)
        .bind(family_id)
        .bind(now)
        .execute(&self.pool)
        .await?;
        if inserted.rows_affected() == 0 {
            return Ok(None);
        }
        self.find_access_token(access_digest, now).await
    }
}

/// One statement storing both tokens of each family in a batch.
pub(super) async fn insert_families(
    connection: &mut AnyConnection,
    families: &[&NewFamily],
) -> Result<(), sqlx::Error> {
    let sql = insert_families_sql(1, families.len());
    let mut query = sqlx::query(&sql);
    for family in families {
        query = bind_family(query, family);
    }
    query.execute(connection).await?;
    Ok(())
}

/// Parameters each family binds (see [`bind_family`]), shared by its two rows.
pub(super) const FAMILY_PARAMETERS: usize = 10;

/// An insert of `count` families' pairs, numbering its parameters from `$first`.
pub(super) fn insert_families_sql(first: usize, count: usize) -> String {
    let rows: Vec<String> = (0..count)
        .map(|i| {
            let p = |n: usize| format!("${}", first - 1 + i * FAMILY_PARAMETERS + n);
            let (family, user, client, scope) = (p(1), p(2), p(3), p(4));
            let shared = format!("{family}, {user}, {client}, {scope}");
            let (ends, checked) = (p(5), p(6));
            format!(
                "({}, 'access', {shared}, {}, {ends}, {checked}), \
                 ({}, 'refresh', {shared}, {}, {ends}, {checked})",
                p(7),
                p(8),
                p(9),
                p(10)
            )
        })
        .collect();
    format!(
        "insert into tokens \
         (digest, kind, family_id, user_id, client_id, scope, expires_at, login_ends_at, \
         directory_checked_at) values {}",
        rows.join(", ")
    )
}

pub(super) fn bind_family<'q>(query: AnyQuery<'q>, family: &'q NewFamily) -> AnyQuery<'q> {
    query
        .bind(&family.family_id)
        .bind(&family.user_id)
        .bind(&family.client_id)
        .bind(&family.scope)
        .bind(family.login_ends_at)
        .bind(family.directory_checked_at)
        .bind(&family.pair.access_digest)
        .bind(family.pair.access_expires_at)
        .bind(&family.pair.refresh_digest)
        .bind(family.pair.refresh_expires_at)
}
