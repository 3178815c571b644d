//! Filling a database from a backup, for `boardcast restore`: the schema as the backup knew
//! it, a check that nothing would be overwritten, and one transaction that replaces the
//! backed-up tables, so a failed restore leaves the database as it was.

use futures_util::future::BoxFuture;
use sqlx::{
    error::BoxDynError,
    migrate::{Migration, MigrationSource, Migrator},
    Any, Transaction,
};

use super::{
    batch::value_rows,
    snapshot::{Column, ColumnType, Value, BACKED_UP},
    Store, StoreError, StoreResult,
};

/// Values bound per statement at most: under SQLite's 32,766 and PostgreSQL's 65,535.
const MAX_PARAMETERS: usize = 30_000;

/// The migrations up to one version, as a source for a migrator of their own.
#[derive(Debug)]
struct MigrationsUpTo(Vec<Migration>);

impl MigrationSource<'static> for MigrationsUpTo {
    fn resolve(self) -> BoxFuture<'static, Result<Vec<Migration>, BoxDynError>> {
        Box::pin(async move { Ok(self.0) })
    }
}

impl Store {
    /// The newest schema this build knows.
    pub fn latest_schema_version(&self) -> i64 {
        self.migrator().iter().map(|m| m.version).max().unwrap_or(0)
    }

    /// Applies migrations up to `version` and no further (those already applied stay), so
    /// rows from an older backup load into the tables they were written from; a full
    /// [`Store::migrate`] afterwards carries them forward like any other data.
    pub async fn migrate_to(&self, version: i64) -> StoreResult<()> {
        let wanted = self
            .migrator()
            .iter()
            .filter(|m| m.version <= version)
            .cloned()
            .collect();
        let mut migrator = Migrator::new(MigrationsUpTo(wanted))
            .await
            .map_err(|e| StoreError::Other(format!("migration failed: {e}")))?;
        migrator.set_ignore_missing(true);
        migrator
            .run(&self.pool)
            .await
            .map_err(|e| StoreError::Other(format!("migration failed: {e}")))
    }

    /// Rows of a school's data (users, clients, boards, pairings, lessons, uploads) beyond
    /// what a new database starts with, per table; empty when a restore overwrites nothing.
    /// Tables an older schema lacks hold nothing.
    pub async fn data_rows(&self) -> StoreResult<Vec<(&'static str, i64)>> {
        let checks = [
            ("users", "select count(*) from users"),
            (
                "oauth_clients",
                "select count(*) from oauth_clients where client_id <> 'web' \
                 or secret_hash is not null or scope <> 'boardcast'",
            ),
            ("boards", "select count(*) from boards"),
            ("pairings", "select count(*) from pairings"),
            ("lessons", "select count(*) from lessons"),
            ("uploads", "select count(*) from uploads"),
        ];
        let existing = self.table_names().await?;
        let mut found = Vec::new();
        for (table, sql) in checks {
            if !existing.iter().any(|name| name == table) {
                continue;
            }
            let count: i64 = sqlx::query_scalar(sql).fetch_one(&self.pool).await?;
            if count > 0 {
                found.push((table, count));
            }
        }
        Ok(found)
    }

    /// Starts the one transaction a restore writes in.
    pub async fn begin_load(&self) -> StoreResult<Loader> {
        Ok(Loader {
            tx: self.begin_write().await?,
        })
    }
}

/// Rows going into a database, all committed together or not at all.
pub struct Loader {
    tx: Transaction<'static, Any>,
}

impl Loader {
    /// Empties every backed-up table, and the short-lived ones that refer to their rows
    /// (codes, failure windows, repeated-request answers), so no stale row survives; of each,
    /// those `existing` names (an older schema lacks some).
    pub async fn clear(&mut self, existing: &[String]) -> StoreResult<()> {
        let derived = ["pairing_codes", "login_failures", "idempotency_keys"];
        for table in BACKED_UP.iter().map(|t| t.name).chain(derived) {
            if existing.iter().any(|name| name == table) {
                sqlx::query(&format!("delete from {table}"))
                    .execute(&mut *self.tx)
                    .await?;
            }
        }
        Ok(())
    }

    /// How many rows of `columns` one [`Loader::insert`] takes at most.
    pub fn batch_rows(columns: usize) -> usize {
        (MAX_PARAMETERS / columns.max(1)).min(1000)
    }

    /// Inserts rows whose values follow `columns`; `target` is the table's columns in this
    /// database. A column the database lacks, or a value of the wrong type, is an error that
    /// names them.
    pub async fn insert(
        &mut self,
        table: &str,
        columns: &[Column],
        target: &[Column],
        rows: &[Vec<Value>],
    ) -> StoreResult<()> {
        if rows.is_empty() {
            return Ok(());
        }
        let kinds = columns
            .iter()
            .map(|column| {
                target
                    .iter()
                    .find(|t| t.name == column.name)
                    .map(|t| t.kind)
                    .ok_or_else(|| {
                        StoreError::Other(format!(
                            "the backup has {table}.{}, which this database lacks",
                            column.name
                        ))
                    })
            })
            .collect::<StoreResult<Vec<ColumnType>>>()?;
        if let Some(row) = rows.iter().find(|row| row.len() != columns.len()) {
            return Err(StoreError::Other(format!(
                "a row of {table} has {} values for its {} columns",
                row.len(),
                columns.len()
            )));
        }
        let names: Vec<&str> = columns.iter().map(|c| c.name.as_str()).collect();
        for chunk in rows.chunks(Self::batch_rows(columns.len())) {
            let sql = format!(
                "insert into {table} ({}) values {}",
                names.join(", "),
                value_rows(chunk.len(), 1, columns.len())
            );
            let mut query = sqlx::query(&sql);
            for row in chunk {
                for ((value, kind), column) in row.iter().zip(&kinds).zip(columns) {
                    query = match (value, kind) {
                        (Value::Null, ColumnType::Integer) => query.bind(None::<i64>),
                        (Value::Null, ColumnType::Text) => query.bind(None::<String>),
                        (Value::Integer(n), ColumnType::Integer) => query.bind(*n),
                        (Value::Text(text), ColumnType::Text) => query.bind(text.as_str()),
                        _ => {
                            return Err(StoreError::Other(format!(
                                "{table}.{} holds {value:?}, not {kind:?}",
                                column.name
                            )))
                        }
                    };
                }
            }
            query.execute(&mut *self.tx).await?;
        }
        Ok(())
    }

    /// Makes every insert visible at once.
    pub async fn commit(self) -> StoreResult<()> {
        self.tx.commit().await?;
        Ok(())
    }
}
