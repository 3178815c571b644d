//! People who can log in: builtin accounts (with a password hash) and directory users
//! (recorded at their first login so they keep one stable id).

use sqlx::FromRow;
use uuid::Uuid;

use super::{batch::placeholders, held_connection::HeldConnection, Store, StoreResult};
use crate::domain::people::Identity;

/// A user as stored.
#[derive(Debug, Clone, FromRow)]
pub struct UserRow {
    pub id: String,
    pub username: String,
    pub display_name: String,
    pub password_hash: Option<String>,
    pub roles: String,
    pub source: String,
    pub created_at: i64,
}

/// A builtin account to create; `password_hash` is already an argon2 PHC string.
#[derive(Debug, Clone)]
pub struct NewUser {
    pub username: String,
    pub display_name: String,
    pub password_hash: String,
    pub roles: String,
}

const USER_COLUMNS: &str = "id, username, display_name, password_hash, roles, source, created_at";

impl Store {
    /// Creates a builtin account; an existing username is a `Conflict`.
    pub async fn create_user(&self, user: NewUser, now: i64) -> StoreResult<UserRow> {
        let sql = format!(
            "insert into users ({USER_COLUMNS}) values ($1, $2, $3, $4, $5, 'builtin', $6) returning {USER_COLUMNS}"
        );
        Ok(sqlx::query_as(&sql)
            .bind(Uuid::new_v4().to_string())
            .bind(user.username)
            .bind(user.display_name)
            .bind(user.password_hash)
            .bind(user.roles)
            .bind(now)
            .fetch_one(&self.pool)
            .await?)
    }

    /// The account named `username`; concurrent logins share one statement (see `batch`).
    pub async fn find_user(&self, username: &str) -> StoreResult<Option<UserRow>> {
        self.batches.users.call(username.to_string()).await
    }

    pub async fn list_users(&self) -> StoreResult<Vec<UserRow>> {
        let sql = format!("select {USER_COLUMNS} from users order by username");
        Ok(sqlx::query_as(&sql).fetch_all(&self.pool).await?)
    }

    /// Counts builtin accounts, to decide whether to create the first one.
    pub async fn count_builtin_users(&self) -> StoreResult<i64> {
        let (count,): (i64,) =
            sqlx::query_as("select count(*) from users where source = 'builtin'")
                .fetch_one(&self.pool)
                .await?;
        Ok(count)
    }

    /// Replaces a builtin account's password hash and revokes its tokens, so a changed
    /// password logs out every device.
    pub async fn set_password(
        &self,
        username: &str,
        password_hash: &str,
        now: i64,
    ) -> StoreResult<()> {
        let mut tx = self.begin_write().await?;
        let updated = sqlx::query(
            "update users set password_hash = $1 where username = $2 and source = 'builtin'",
        )
        .bind(password_hash)
        .bind(username)
        .execute(&mut *tx)
        .await?;
        if updated.rows_affected() == 0 {
            return Err(super::StoreError::NotFound);
        }
        sqlx::query(
            "insert into revoked_families (family_id, revoked_at) \
             select distinct t.family_id, $1 from tokens t join users u on u.id = t.user_id \
             where u.username = $2 \
             on conflict (family_id) do nothing",
        )
        .bind(now)
        .bind(username)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Removes an account with all its tokens.
    pub async fn remove_user(&self, username: &str) -> StoreResult<()> {
        let mut tx = self.begin_write().await?;
        sqlx::query(
            "delete from tokens where user_id in (select id from users where username = $1)",
        )
        .bind(username)
        .execute(&mut *tx)
        .await?;
        let deleted = sqlx::query("delete from users where username = $1")
            .bind(username)
            .execute(&mut *tx)
            .await?;
        if deleted.rows_affected() == 0 {
            return Err(super::StoreError::NotFound);
        }
        tx.commit().await?;
        Ok(())
    }

    /// The stored user for a person the directory vouched for: read-only when nothing changed
    /// since the last login (the common case), else recorded with the new name and roles.
    /// `read_before` is the account the login read before asking the directory, if any; it
    /// spares a second read when the directory spells the username the same way.
    pub async fn record_identity(
        &self,
        identity: &Identity,
        read_before: Option<UserRow>,
        now: i64,
    ) -> StoreResult<UserRow> {
        let stored = match read_before {
            Some(user) if user.username == identity.username => Some(user),
            _ => self.find_user(&identity.username).await?,
        };
        match stored {
            Some(user)
                if user.display_name == identity.display_name
                    && user.roles == identity.roles.to_stored() =>
            {
                Ok(user)
            }
            _ => self.upsert_directory_user(identity, now).await,
        }
    }

    /// Records a directory user at login, refreshing name and roles, and returns the stored
    /// row. One statement, so two nodes seeing a first login at once agree on the id.
    pub async fn upsert_directory_user(
        &self,
        identity: &Identity,
        now: i64,
    ) -> StoreResult<UserRow> {
        let sql = format!(
            "insert into users ({USER_COLUMNS}) values ($1, $2, $3, null, $4, 'ldap', $5) \
             on conflict (username) do update set display_name = excluded.display_name, roles = excluded.roles \
             returning {USER_COLUMNS}"
        );
        Ok(sqlx::query_as(&sql)
            .bind(Uuid::new_v4().to_string())
            .bind(&identity.username)
            .bind(&identity.display_name)
            .bind(identity.roles.to_stored())
            .bind(now)
            .fetch_one(&self.pool)
            .await?)
    }
}

/// One statement reading the accounts of a batch of logins, in the order asked.
pub(super) async fn find_users(
    held: HeldConnection,
    usernames: Vec<String>,
) -> StoreResult<Vec<Option<UserRow>>> {
    let sql = format!(
        "select {USER_COLUMNS} from users where username in ({})",
        placeholders(1, usernames.len())
    );
    let mut query = sqlx::query_as::<_, UserRow>(&sql);
    for username in &usernames {
        query = query.bind(username);
    }
    let mut lease = held.lease().await?;
    let rows = query
        .fetch_all(lease.connection()?)
        .await
        .map_err(|e| lease.failed(e))?;
    Ok(usernames
        .iter()
        .map(|name| rows.iter().find(|row| &row.username == name).cloned())
        .collect())
}
