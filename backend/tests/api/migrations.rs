//! Migrations expand, then contract (migrations/README.md). During a rolling upgrade the
//! nodes still on the previous release run on the schema the new release migrated, so a
//! migration may not take away or retype a column they read or write, tighten one to NOT
//! NULL, or give a table they insert into a NOT NULL column without a default. A migration
//! that contracts on purpose, a release after the code stopped using something, names each
//! thing it drops in its leading comment:
//! `-- contract: drops <table>[.<column>], unused since <earlier migration>`.

use std::{collections::BTreeMap, path::PathBuf};

use boardcast::{config::DatabaseUrl, store::Store};

use crate::{
    both_engines,
    helpers::{Engine, TestDatabase},
};

/// What nodes rely on in a column.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Column {
    declared: String,
    not_null: bool,
    has_default: bool,
}

/// Every table's columns, by name.
type Schema = BTreeMap<String, BTreeMap<String, Column>>;

/// One migration file.
struct Migration {
    version: i64,
    /// The file name without `.sql`, e.g. `0004_tokens`.
    name: String,
    sql: String,
}

both_engines!(
    every_migration_keeps_what_the_release_before_it_uses,
    |engine| async move {
        let database = TestDatabase::new(engine).await;
        let store = Store::connect(&DatabaseUrl::new(&database.url))
            .await
            .unwrap();
        let all = migrations(engine);
        let mut before = Schema::new();
        let mut problems = Vec::new();
        for (at, migration) in all.iter().enumerate() {
            store.migrate_to(migration.version).await.unwrap();
            let after = schema(&store).await;
            let found = match contracts(migration, &all[..at]) {
                Ok(contracted) => breaks(&before, &after, &contracted),
                Err(problem) => vec![problem],
            };
            problems.extend(
                found
                    .into_iter()
                    .map(|p| format!("{}: {p}", migration.name)),
            );
            before = after;
        }
        assert!(
            problems.is_empty(),
            "not expand/contract (see migrations/README.md):\n{}",
            problems.join("\n")
        );
        // The schema was read, not just found empty twice.
        assert!(before["tokens"].contains_key("directory_checked_at"));
    }
);

both_engines!(
    a_node_of_the_release_before_restarts_on_the_schema_the_next_release_migrated,
    |engine| async move {
        let database = TestDatabase::new(engine).await;
        let url = DatabaseUrl::new(&database.url);
        let store = Store::connect(&url).await.unwrap();
        store.migrate().await.unwrap();
        // A node of the next release has applied a migration this release does not know.
        let next = migrations(engine).last().unwrap().version + 1;
        sqlx::query(
            "insert into _sqlx_migrations (version, description, success, checksum, execution_time) \
             values ($1, 'a newer release', true, $2, 0)",
        )
        .bind(next)
        .bind(vec![0u8; 48])
        .execute(store.pool())
        .await
        .unwrap();
        store.close().await;

        let restarted = Store::connect(&url).await.unwrap();
        restarted
            .migrate()
            .await
            .expect("an older node must start on a newer schema during a rolling upgrade");
        restarted.ping().await.unwrap();
    }
);

both_engines!(
    the_schema_check_catches_what_would_break_old_nodes,
    |engine| async move {
        let rebuilt = |columns: &str| {
            format!("create table t_new ({columns}); drop table t; alter table t_new rename to t;")
        };
        assert_eq!(
            check(engine, "alter table t drop column a;").await,
            ["drops t.a"]
        );
        assert_eq!(check(engine, "drop table t;").await, ["drops table t"]);
        assert_eq!(
            check(
                engine,
                &rebuilt("id text primary key, a text, b text not null")
            )
            .await,
            ["changes t.b from bigint to text"]
        );
        assert_eq!(
            check(
                engine,
                &rebuilt("id text primary key, a text not null, b bigint not null")
            )
            .await,
            ["makes t.a not null"]
        );
        assert_eq!(
            check(
                engine,
                &rebuilt("id text primary key, a text, b bigint not null, c text not null")
            )
            .await,
            ["adds t.c not null without a default"]
        );
    }
);

both_engines!(
    the_schema_check_allows_expanding_and_marked_contractions,
    |engine| async move {
        let expand = "alter table t add column c text; \
                      alter table t add column d bigint not null default 0; \
                      create table u (id text primary key, e text not null);";
        assert_eq!(check(engine, expand).await, Vec::<String>::new());
        let contract = "-- contract: drops t.a, unused since 0001_start\n\
                        alter table t drop column a;";
        assert_eq!(check(engine, contract).await, Vec::<String>::new());
        let wrong_marker = "-- contract: drops t.b, unused since 0001_start\n\
                            alter table t drop column a;";
        assert_eq!(
            check(engine, wrong_marker).await,
            ["drops t.a", "marks t.b as dropped but keeps it"]
        );
        let no_reason = "-- contract: drops t.a\nalter table t drop column a;";
        assert_eq!(
            check(engine, no_reason).await,
            ["a contract marker must read `-- contract: drops <table>[.<column>], unused since <earlier migration>`"]
        );
    }
);

#[test]
fn twin_migrations_share_versions_names_and_contract_markers() {
    let sqlite = migrations(Engine::Sqlite);
    let postgres = migrations(Engine::Postgres);
    let names = |all: &[Migration]| all.iter().map(|m| m.name.clone()).collect::<Vec<_>>();
    assert_eq!(names(&sqlite), names(&postgres));
    for (at, (lite, pg)) in sqlite.iter().zip(&postgres).enumerate() {
        assert_eq!(
            contracts(lite, &sqlite[..at]),
            contracts(pg, &postgres[..at]),
            "{}",
            lite.name
        );
    }
}

/// The migration files of `engine`, in order.
fn migrations(engine: Engine) -> Vec<Migration> {
    let folder = match engine {
        Engine::Sqlite => "sqlite",
        Engine::Postgres => "postgres",
    };
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../migrations")
        .join(folder);
    let mut found: Vec<Migration> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "sql"))
        .map(|path| {
            let name = path.file_stem().unwrap().to_str().unwrap().to_string();
            Migration {
                version: name.split('_').next().unwrap().parse().unwrap(),
                sql: std::fs::read_to_string(&path).unwrap(),
                name,
            }
        })
        .collect();
    found.sort_by_key(|migration| migration.version);
    found
}

/// What the marker lines in the migration's leading comment say it drops (`table` or
/// `table.column`); an error for a marker that does not say why, or names no earlier
/// migration since which the thing is unused.
fn contracts(migration: &Migration, earlier: &[Migration]) -> Result<Vec<String>, String> {
    let mut dropped = Vec::new();
    let leading = migration
        .sql
        .lines()
        .take_while(|line| line.trim_start().starts_with("--"));
    for line in leading {
        let Some(marker) = line.trim().strip_prefix("-- contract:") else {
            continue;
        };
        let parsed = marker
            .trim()
            .strip_prefix("drops ")
            .and_then(|rest| rest.split_once(", unused since "));
        let Some((what, since)) = parsed else {
            return Err(
                "a contract marker must read `-- contract: drops <table>[.<column>], \
                        unused since <earlier migration>`"
                    .into(),
            );
        };
        if !earlier.iter().any(|m| m.name == since.trim()) {
            return Err(format!(
                "{what} is unused since {since}, which is no earlier migration"
            ));
        }
        dropped.push(what.trim().to_string());
    }
    Ok(dropped)
}

/// The tables and columns of the store's database, but sqlx's own bookkeeping.
async fn schema(store: &Store) -> Schema {
    let sql = match store.engine() {
        boardcast::store::Engine::Sqlite => {
            "select m.name, c.name, lower(c.type), c.\"notnull\", \
             case when c.dflt_value is null then 0 else 1 end \
             from sqlite_master m, pragma_table_info(m.name) c \
             where m.type = 'table' and m.name not like 'sqlite_%' \
             and m.name <> '_sqlx_migrations'"
        }
        boardcast::store::Engine::Postgres => {
            "select table_name::text, column_name::text, data_type::text, \
             (case when is_nullable = 'NO' then 1 else 0 end)::bigint, \
             (case when column_default is null then 0 else 1 end)::bigint \
             from information_schema.columns \
             where table_schema = current_schema() and table_name <> '_sqlx_migrations'"
        }
    };
    let rows: Vec<(String, String, String, i64, i64)> =
        sqlx::query_as(sql).fetch_all(store.pool()).await.unwrap();
    let mut schema = Schema::new();
    for (table, name, declared, not_null, has_default) in rows {
        let column = Column {
            declared,
            not_null: not_null != 0,
            has_default: has_default != 0,
        };
        schema.entry(table).or_default().insert(name, column);
    }
    schema
}

/// What `after` breaks for nodes that know `before`, but for the drops `contracted` names;
/// also each named drop that did not happen.
fn breaks(before: &Schema, after: &Schema, contracted: &[String]) -> Vec<String> {
    let mut problems = Vec::new();
    for (table, columns) in before {
        let Some(now) = after.get(table) else {
            if !contracted.contains(table) {
                problems.push(format!("drops table {table}"));
            }
            continue;
        };
        for (name, column) in columns {
            let qualified = format!("{table}.{name}");
            match now.get(name) {
                None if contracted.contains(&qualified) => {}
                None => problems.push(format!("drops {qualified}")),
                Some(new) if new.declared != column.declared => problems.push(format!(
                    "changes {qualified} from {} to {}",
                    column.declared, new.declared
                )),
                Some(new) if new.not_null && !column.not_null => {
                    problems.push(format!("makes {qualified} not null"));
                }
                Some(_) => {}
            }
        }
        for (name, column) in now {
            if !columns.contains_key(name) && column.not_null && !column.has_default {
                problems.push(format!("adds {table}.{name} not null without a default"));
            }
        }
    }
    for named in contracted {
        let kept = match named.split_once('.') {
            Some((table, column)) => after.get(table).is_some_and(|t| t.contains_key(column)),
            None => after.contains_key(named),
        };
        if kept {
            problems.push(format!("marks {named} as dropped but keeps it"));
        }
    }
    problems
}

/// What the check finds in `migration` (named `0002_change`), run on a fresh database holding
/// `t (id, a, b)` from `0001_start`.
async fn check(engine: Engine, migration: &str) -> Vec<String> {
    const START: &str = "create table t (id text primary key, a text, b bigint not null);";
    let database = TestDatabase::new(engine).await;
    let store = Store::connect(&DatabaseUrl::new(&database.url))
        .await
        .unwrap();
    sqlx::raw_sql(START).execute(store.pool()).await.unwrap();
    let before = schema(&store).await;
    sqlx::raw_sql(migration)
        .execute(store.pool())
        .await
        .unwrap();
    let after = schema(&store).await;
    let earlier = [Migration {
        version: 1,
        name: "0001_start".into(),
        sql: START.into(),
    }];
    let change = Migration {
        version: 2,
        name: "0002_change".into(),
        sql: migration.into(),
    };
    match contracts(&change, &earlier) {
        Ok(contracted) => breaks(&before, &after, &contracted),
        Err(problem) => vec![problem],
    }
}
