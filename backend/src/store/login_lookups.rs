//! What a login reads before the directory is asked, in one statement: the failure counters
//! of the username and of the client address, and the account stored for that username. The
//! account read here usually spares the login a second read once the directory has vouched
//! for the person (see `Store::record_identity`).

use sqlx::{any::AnyRow, Row};

use super::{
    batch::{placeholders, HeldConnection},
    login_failures::Counter,
    users::UserRow,
    Store, StoreResult,
};

/// The counter keys and the username of one login.
#[derive(Debug, Clone)]
pub struct LoginLookup {
    pub username: String,
    pub user_key: String,
    pub address_key: String,
}

/// What one login found.
#[derive(Debug, Clone, Default)]
pub struct LoginFacts {
    pub user_counter: Option<Counter>,
    pub address_counter: Option<Counter>,
    /// The account stored under the username exactly as typed.
    pub user: Option<UserRow>,
}

impl Store {
    /// The counters and account of one login; concurrent logins share one statement.
    pub async fn login_facts(&self, lookup: LoginLookup) -> StoreResult<LoginFacts> {
        self.batches.login_lookups.call(lookup).await
    }
}

/// One statement answering a batch of logins, each by its position in the batch.
pub(super) async fn read_login_facts(
    held: HeldConnection,
    lookups: Vec<LoginLookup>,
) -> StoreResult<Vec<LoginFacts>> {
    let rows = (0..lookups.len())
        .map(|i| format!("({})", placeholders(i * 4 + 1, 4)))
        .collect::<Vec<_>>()
        .join(", ");
    let sql = format!(
        "with asked (position, username, user_key, address_key) as (values {rows}) \
         select asked.position, u.id, u.username, u.display_name, u.password_hash, u.roles, \
           u.source, u.created_at, \
           f.window_start as user_window_start, f.failures as user_failures, \
           g.window_start as address_window_start, g.failures as address_failures \
         from asked \
         left join users u on u.username = asked.username \
         left join login_failures f on f.key = asked.user_key \
         left join login_failures g on g.key = asked.address_key"
    );
    let mut query = sqlx::query(&sql);
    for (position, lookup) in lookups.iter().enumerate() {
        query = query
            .bind(i64::try_from(position).unwrap_or(i64::MAX))
            .bind(&lookup.username)
            .bind(&lookup.user_key)
            .bind(&lookup.address_key);
    }
    let mut lease = held.lease().await?;
    let found = query
        .fetch_all(lease.connection()?)
        .await
        .map_err(|e| lease.failed(e))?;
    let mut facts = vec![LoginFacts::default(); lookups.len()];
    for row in &found {
        let position: i64 = row.try_get("position")?;
        if let Some(slot) = usize::try_from(position)
            .ok()
            .and_then(|p| facts.get_mut(p))
        {
            *slot = facts_from_row(row)?;
        }
    }
    Ok(facts)
}

fn facts_from_row(row: &AnyRow) -> Result<LoginFacts, sqlx::Error> {
    let counter = |start: &str, failures: &str| -> Result<Option<Counter>, sqlx::Error> {
        let window_start: Option<i64> = row.try_get(start)?;
        let failures: Option<i64> = row.try_get(failures)?;
        Ok(window_start
            .zip(failures)
            .map(|(window_start, failures)| Counter {
                window_start,
                failures,
            }))
    };
    let user = match row.try_get::<Option<String>, _>("id")? {
        Some(id) => Some(UserRow {
            id,
            username: row.try_get("username")?,
            display_name: row.try_get("display_name")?,
            password_hash: row.try_get("password_hash")?,
            roles: row.try_get("roles")?,
            source: row.try_get("source")?,
            created_at: row.try_get("created_at")?,
        }),
        None => None,
    };
    Ok(LoginFacts {
        user_counter: counter("user_window_start", "user_failures")?,
        address_counter: counter("address_window_start", "address_failures")?,
        user,
    })
}
