//! Whole tables, for `boardcast backup`: which tables hold a school's data, their columns as
//! both engines describe them, and one consistent read of all of them.
//!
//! Values travel as null, integer or text only, the types every column is declared with
//! (see migrations/README.md), so a backup taken on one engine loads into the other.

use futures_util::TryStreamExt;
use serde::{Deserialize, Serialize};
use sqlx::{any::AnyRow, Any, Row, Transaction, TypeInfo, ValueRef};

use super::{Engine, Store, StoreError, StoreResult};

/// A table a backup carries, and the key its rows are read in order of, so two backups of the
/// same data are the same bytes.
#[derive(Debug, Clone, Copy)]
pub struct Table {
    pub name: &'static str,
    pub key: &'static str,
}

const fn table(name: &'static str, key: &'static str) -> Table {
    Table { name, key }
}

/// The tables a backup carries.
pub const BACKED_UP: &[Table] = &[
    table("users", "id"),
    table("oauth_clients", "client_id"),
    table("tokens", "digest"),
    table("revoked_families", "family_id"),
    table("boards", "id"),
    table("pairings", "id"),
    table("board_states", "board_id"),
    table("board_events", "board_id, seq"),
    table("uploads", "id"),
    table("lessons", "id"),
    table("lesson_media", "lesson_id, upload_id"),
];

/// Tables a backup leaves out, and why. With [`BACKED_UP`] they name every table of the
/// schema: a backup refuses a database with a table in neither list.
pub const LEFT_OUT: &[(&str, &str)] = &[
    (
        "pairing_codes",
        "codes live for minutes; a board asks for a new one",
    ),
    ("login_failures", "failure windows of minutes"),
    (
        "web_sessions",
        "browser sessions end with their logins; teachers in a browser log in again after \
         a restore",
    ),
    (
        "idempotency_keys",
        "answers kept a day for repeated requests",
    ),
    (
        "nodes",
        "the registry of running nodes; they register again",
    ),
    ("backups", "the record of backups of this very database"),
    ("token_families", "unused since 0004_tokens"),
    ("access_tokens", "unused since 0004_tokens"),
    ("refresh_tokens", "unused since 0004_tokens"),
    ("tower_sessions", "unused since 0003_web_sessions"),
];

/// Where the migrations keep their own bookkeeping; neither data nor left out.
const MIGRATIONS_TABLE: &str = "_sqlx_migrations";

/// One stored value, as a backup writes it: JSON `null`, a number or a string.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Value {
    Null,
    Integer(i64),
    Text(String),
}

/// What a column holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ColumnType {
    Integer,
    Text,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Column {
    pub name: String,
    #[serde(rename = "type")]
    pub kind: ColumnType,
}

impl Store {
    /// The newest migration applied to this database.
    pub async fn schema_version(&self) -> StoreResult<i64> {
        let version: Option<i64> =
            sqlx::query_scalar("select max(version) from _sqlx_migrations where success")
                .fetch_one(&self.pool)
                .await?;
        Ok(version.unwrap_or(0))
    }

    /// Every table of the schema, by name.
    pub async fn table_names(&self) -> StoreResult<Vec<String>> {
        let sql = match self.engine {
            Engine::Sqlite => {
                "select name from sqlite_master where type = 'table' \
                 and name not like 'sqlite_%' order by name"
            }
            Engine::Postgres => {
                "select table_name::text from information_schema.tables \
                 where table_schema = current_schema() and table_type = 'BASE TABLE' \
                 order by table_name"
            }
        };
        let names: Vec<String> = sqlx::query_scalar(sql).fetch_all(&self.pool).await?;
        Ok(names
            .into_iter()
            .filter(|name| name != MIGRATIONS_TABLE)
            .collect())
    }

    /// The table's columns in their declared order.
    pub async fn columns(&self, table: &str) -> StoreResult<Vec<Column>> {
        let sql = match self.engine {
            Engine::Sqlite => "select name, type from pragma_table_info($1) order by cid",
            Engine::Postgres => {
                "select column_name::text, data_type::text from information_schema.columns \
                 where table_schema = current_schema() and table_name = $1 \
                 order by ordinal_position"
            }
        };
        let rows: Vec<(String, String)> = sqlx::query_as(sql)
            .bind(table)
            .fetch_all(&self.pool)
            .await?;
        if rows.is_empty() {
            return Err(StoreError::Other(format!("there is no table {table}")));
        }
        rows.into_iter()
            .map(|(name, declared)| {
                let declared = declared.to_ascii_lowercase();
                let kind = if declared.contains("int") {
                    ColumnType::Integer
                } else if declared.contains("text") || declared.contains("char") {
                    ColumnType::Text
                } else {
                    return Err(StoreError::Other(format!(
                        "{table}.{name} is {declared}, which a backup cannot carry"
                    )));
                };
                Ok(Column { name, kind })
            })
            .collect()
    }

    /// A read transaction that sees every table as of one instant while nodes go on writing:
    /// REPEATABLE READ on PostgreSQL, a WAL read snapshot on SQLite.
    pub async fn snapshot(&self) -> StoreResult<Snapshot> {
        let mut tx = self.read_pool().begin().await?;
        if self.engine == Engine::Postgres {
            sqlx::query("set transaction isolation level repeatable read, read only")
                .execute(&mut *tx)
                .await?;
        }
        Ok(Snapshot { tx })
    }
}

/// The consistent read a backup copies tables in.
pub struct Snapshot {
    tx: Transaction<'static, Any>,
}

impl Snapshot {
    /// Hands each of the table's rows to `each`, values in the order of `columns`, and
    /// returns how many there were. Rows stream: a table larger than memory is fine.
    pub async fn for_each_row<E: From<StoreError>>(
        &mut self,
        table: &Table,
        columns: &[Column],
        mut each: impl FnMut(Vec<Value>) -> Result<(), E>,
    ) -> Result<u64, E> {
        let names: Vec<&str> = columns.iter().map(|c| c.name.as_str()).collect();
        let sql = format!(
            "select {} from {} order by {}",
            names.join(", "),
            table.name,
            table.key
        );
        let mut rows = sqlx::query(&sql).fetch(&mut *self.tx);
        let mut count = 0;
        while let Some(row) = rows.try_next().await.map_err(StoreError::from)? {
            each(values(table.name, &row)?)?;
            count += 1;
        }
        Ok(count)
    }

    /// Ends the read; nothing was written.
    pub async fn finish(self) -> StoreResult<()> {
        self.tx.rollback().await?;
        Ok(())
    }
}

fn values(table: &str, row: &AnyRow) -> StoreResult<Vec<Value>> {
    (0..row.len())
        .map(|index| {
            let raw = row.try_get_raw(index)?;
            if raw.is_null() {
                return Ok(Value::Null);
            }
            let kind = raw.type_info().name().to_string();
            match kind.as_str() {
                "SMALLINT" | "INTEGER" | "BIGINT" => Ok(Value::Integer(row.try_get(index)?)),
                "TEXT" => Ok(Value::Text(row.try_get(index)?)),
                other => Err(StoreError::Other(format!(
                    "{table} holds a {other} value, which a backup cannot carry"
                ))),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_plain_json_and_nothing_else() {
        let row = vec![
            Value::Null,
            Value::Integer(-7),
            Value::Text("Jânneke".into()),
        ];
        let json = serde_json::to_string(&row).unwrap_or_default();
        assert_eq!(json, r#"[null,-7,"Jânneke"]"#);
        assert_eq!(serde_json::from_str::<Vec<Value>>(&json).ok(), Some(row));
        for other in ["[1.5]", "[true]", "[[1]]", r#"[{"a":1}]"#] {
            assert!(
                serde_json::from_str::<Vec<Value>>(other).is_err(),
                "{other}"
            );
        }
    }
}
