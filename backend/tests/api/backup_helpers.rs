//! Backups in tests: the admin CLI run as an admin runs it, a school's worth of data to back
//! up, and whole databases read back for comparison.

use std::{
    collections::BTreeMap,
    path::{Path, PathBuf},
};

use boardcast::{
    auth::password::hash_password,
    directory::{Identity, Roles},
    store::{ClientRow, Store, StoreError, Value, BACKED_UP},
};
use serde_json::{json, Value as Json};

use crate::{
    helpers::{TestApp, CLUSTER_SECRET},
    lessons,
    media_helpers::{png, upload_png},
    ws_client::{
        board_socket, command, controller_socket, new_id, pair_with_code, register_board, Board,
        Socket,
    },
};

/// What `boardcast` printed and how it ended.
#[derive(Debug)]
pub struct Ran {
    pub success: bool,
    pub stdout: String,
    pub stderr: String,
}

impl From<std::process::Output> for Ran {
    fn from(output: std::process::Output) -> Self {
        Self {
            success: output.status.success(),
            stdout: String::from_utf8_lossy(&output.stdout).into(),
            stderr: String::from_utf8_lossy(&output.stderr).into(),
        }
    }
}

/// Runs `boardcast ARGS` against a database and data directory, as an admin on that machine.
pub async fn boardcast(args: &[&str], database_url: &str, data_dir: &Path) -> Ran {
    let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_boardcast"))
        .args(args)
        .env("BOARDCAST_DATABASE_URL", database_url)
        .env("BOARDCAST_DATA_DIR", data_dir)
        .env("BOARDCAST_CLUSTER_SECRET", CLUSTER_SECRET)
        .env("BOARDCAST_NODE_ID", "admin-shell")
        .env("RUST_LOG", "warn")
        .output()
        .await
        .unwrap();
    Ran::from(output)
}

/// `boardcast verify PATH`, as on a machine with no settings at all.
pub async fn verify(path: &Path) -> Ran {
    let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_boardcast"))
        .args(["verify", path.to_str().unwrap()])
        .env_clear()
        .output()
        .await
        .unwrap();
    Ran::from(output)
}

/// `boardcast backup --out OUT` (and `extra` arguments), which must succeed; the new backup.
pub async fn backup(database_url: &str, data_dir: &Path, out: &Path, extra: &[&str]) -> PathBuf {
    let out = out.to_str().unwrap();
    let ran = boardcast(
        &[&["backup", "--out", out], extra].concat(),
        database_url,
        data_dir,
    )
    .await;
    assert!(ran.success, "backup failed: {}", ran.stderr);
    PathBuf::from(ran.stdout.lines().last().unwrap())
}

/// A SQLite database URL in `dir`.
pub fn sqlite_url(dir: &Path) -> String {
    format!("sqlite://{}?mode=rwc", dir.join("boardcast.db").display())
}

/// Every backed-up table, rows in key order.
pub async fn dump(store: &Store) -> BTreeMap<&'static str, Vec<Vec<Value>>> {
    let mut columns = Vec::new();
    for table in BACKED_UP {
        columns.push(store.columns(table.name).await.unwrap());
    }
    let mut snapshot = store.snapshot().await.unwrap();
    let mut tables = BTreeMap::new();
    for (table, columns) in BACKED_UP.iter().zip(&columns) {
        let mut rows = Vec::new();
        snapshot
            .for_each_row(table, columns, |row| {
                rows.push(row);
                Ok::<_, StoreError>(())
            })
            .await
            .unwrap();
        tables.insert(table.name, rows);
    }
    snapshot.finish().await.unwrap();
    tables
}

/// A school a backup must carry: accounts of every kind, a confidential client, uploads, a
/// lesson that shows them, and a board paired with the teacher with a log of commands.
pub struct School {
    pub token: String,
    pub board: Board,
    pub pairing_id: String,
    pub lesson_id: String,
    pub uploads: Vec<Json>,
}

impl School {
    /// Fills `app` for the teacher holding `token`, with `commands` steps on the board.
    pub async fn populate(app: &TestApp, token: &str, commands: usize) -> Self {
        app.add_user("root", "root-pw", "admin").await;
        let anna = Identity {
            username: "anna".into(),
            display_name: "Anna Jansen".into(),
            roles: Roles {
                teacher: true,
                admin: false,
            },
        };
        app.store.upsert_directory_user(&anna, 5).await.unwrap();
        let timetable = ClientRow {
            client_id: "timetable".into(),
            secret_hash: Some(hash_password("client-secret".into()).await.unwrap()),
            scope: "boardcast".into(),
            created_at: 7,
        };
        app.store.create_client(&timetable).await.unwrap();
        let mut uploads = Vec::new();
        for seed in 0..2 {
            uploads.push(upload_png(app, token, png(50_000, seed)).await);
        }
        let slides: Vec<Json> = uploads
            .iter()
            .map(|u| json!({"kind": "image", "upload_id": u["id"]}))
            .chain([json!({"kind": "text", "text": "Vragen?", "notes": "ask row 3"})])
            .collect();
        let lesson = json!({"title": "Breuken", "slides": slides});
        let lesson: Json = lessons::create(app, token, lesson)
            .await
            .json()
            .await
            .unwrap();
        let lesson_id = lesson["id"].as_str().unwrap().to_string();

        let board = register_board(app, "Lokaal 12").await;
        let (mut board_socket, _) = board_socket(app.address, &board, None).await;
        let code = board_socket.next_of("code").await;
        let pairing_id = pair_with_code(app, token, code["code"].as_str().unwrap()).await;
        let (mut controller, _) = controller_socket(app.address, token, &pairing_id, None).await;
        steer(
            &mut controller,
            json!({"kind": "open_lesson", "lesson_id": lesson_id}),
        )
        .await;
        for step in 1..commands {
            let action = match step % 3 {
                0 => json!({"kind": "prev"}),
                1 => json!({"kind": "next"}),
                _ => json!({"kind": "blank", "on": step % 2 == 0}),
            };
            steer(&mut controller, action).await;
        }
        Self {
            token: token.into(),
            board,
            pairing_id,
            lesson_id,
            uploads,
        }
    }
}

/// Sends one command and waits for its ack; the board's new offset.
pub async fn steer(controller: &mut Socket, action: Json) -> i64 {
    let id = new_id();
    controller.send(command(&id, action)).await;
    let ack = controller.next_of("ack").await;
    assert_eq!(ack["id"], id.as_str(), "{ack}");
    ack["offset"].as_i64().unwrap()
}

/// A copy of a directory tree, so one backup can be damaged in several ways.
pub fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_tree(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}
