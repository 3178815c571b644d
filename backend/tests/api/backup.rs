//! `boardcast backup` and `restore` round trips: taken while a node serves, restored into a
//! fresh database and data directory of the same or the other engine, after which the
//! restored node serves the same school.

use std::{
    collections::{BTreeMap, HashSet},
    os::unix::fs::PermissionsExt,
    sync::{
        atomic::{AtomicBool, Ordering},
        Arc,
    },
};

use boardcast::store::{Value, BACKED_UP, LEFT_OUT};
use serde_json::{json, Value as Json};

use crate::{
    backup_helpers::{backup, boardcast, dump, sqlite_url, steer, verify, School},
    both_engines,
    helpers::{unthrottled_commands, Engine, TestApp, TestDatabase},
    media_helpers::{blob_path, files_under, on_node, png},
    postgres::fresh_database,
    slapd::Slapd,
    ws_client::{board_socket, controller_socket},
};

/// Tables the command stream writes to while the backup runs, and `boards`, whose
/// `last_seen_at` moves while a board is connected.
const MOVING: [&str; 3] = ["board_events", "board_states", "boards"];

both_engines!(
    a_backup_taken_while_teachers_steer_restores_the_same_school,
    |engine| async move {
        let slapd = Slapd::start().await;
        let ldap = slapd.settings();
        let database = TestDatabase::new(engine).await;
        let source = TestApp::spawn_on(&database.url, |s| {
            s.ldap = Some(ldap.clone());
            unthrottled_commands(s);
        })
        .await;
        let token = source.login("jdevries", "jan-pw").await["access_token"]
            .as_str()
            .unwrap()
            .to_string();
        let school = School::populate(&source, &token, 300).await;

        // A teacher keeps steering the board all through the backup.
        let (mut controller, _) =
            controller_socket(source.address, &token, &school.pairing_id, None).await;
        let steering = Arc::new(AtomicBool::new(true));
        let keep_steering = steering.clone();
        let during = tokio::spawn(async move {
            let mut acked = 0;
            while keep_steering.load(Ordering::Relaxed) {
                steer(&mut controller, json!({"kind": "next"})).await;
                acked += 1;
            }
            acked
        });
        let backups = tempfile::tempdir().unwrap();
        let out = backups.path().join("nightly");
        let path = backup(&database.url, source.data_dir(), &out, &[]).await;
        steering.store(false, Ordering::Relaxed);
        assert!(during.await.unwrap() > 0, "no command was acknowledged");

        let verified = verify(&path).await;
        assert!(verified.success, "{}", verified.stdout);
        let mode = std::fs::metadata(&out).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o700, "others can read the backups");
        let everything: String = files_under(&out)
            .iter()
            .map(|file| String::from_utf8_lossy(&std::fs::read(file).unwrap()).into_owned())
            .collect();
        for secret in [
            school.board.secret.as_str(),
            &token,
            "client-secret",
            "root-pw",
        ] {
            assert!(!everything.contains(secret), "a secret is in the backup");
        }
        let status = boardcast(&["status", "--json"], &database.url, source.data_dir()).await;
        let status: Json = serde_json::from_str(&status.stdout).unwrap();
        assert_eq!(status["last_backup"]["path"], path.to_str().unwrap());
        assert!(status["last_backup"]["age_seconds"].as_i64().unwrap() < 60);

        let target = TestDatabase::new(engine).await;
        let target_dir = tempfile::tempdir().unwrap();
        let restored = boardcast(
            &["restore", path.to_str().unwrap()],
            &target.url,
            target_dir.path(),
        )
        .await;
        assert!(restored.success, "{}", restored.stderr);

        let before = dump(&source.store).await;
        let after = dump(&target.store().await).await;
        for (table, rows) in &after {
            if !MOVING.contains(table) {
                assert_eq!(rows, &before[table], "{table} differs after the restore");
            }
        }
        assert_same_boards(&before["boards"], &after["boards"]);
        let later: HashSet<&Vec<Value>> = before["board_events"].iter().collect();
        assert!(after["board_events"].iter().all(|row| later.contains(row)));
        let offsets = assert_one_instant(&after);
        assert!(offsets[&school.board.id] >= 300);
        for upload in &school.uploads {
            let sha256 = upload["sha256"].as_str().unwrap();
            assert_eq!(
                std::fs::read(blob_path(target_dir.path(), sha256)).unwrap(),
                std::fs::read(blob_path(source.data_dir(), sha256)).unwrap()
            );
        }

        // The restored node serves the same school: the teacher logs in as the same person,
        // finds the lesson and its pictures, and the board resumes where the backup left it.
        let node = TestApp::spawn_in(target_dir, &target.url, |s| s.ldap = Some(ldap)).await;
        let token = node.login("jdevries", "jan-pw").await["access_token"]
            .as_str()
            .unwrap()
            .to_string();
        assert_serves_the_lesson(&source, &node, &school, &token).await;
        let offset = offsets[&school.board.id];
        let (_board, welcome) = board_socket(node.address, &school.board, Some(offset)).await;
        assert_eq!(welcome["offset"], offset, "{welcome}");
        assert_eq!(welcome["reset"], false, "{welcome}");
        let (mut controller, _) =
            controller_socket(node.address, &token, &school.pairing_id, Some(offset)).await;
        assert_eq!(
            steer(&mut controller, json!({"kind": "prev"})).await,
            offset + 1
        );
    }
);

#[tokio::test]
async fn a_sqlite_school_moves_to_postgresql() {
    moves_between_engines(Engine::Sqlite, Engine::Postgres).await;
}

#[tokio::test]
async fn a_postgresql_school_moves_to_sqlite() {
    moves_between_engines(Engine::Postgres, Engine::Sqlite).await;
}

/// Backs up a school on one engine, restores it on the other: every table is the same, and
/// the teacher logs in and steers on the new node.
async fn moves_between_engines(from: Engine, to: Engine) {
    let database = TestDatabase::new(from).await;
    let source = TestApp::spawn_on(&database.url, |_| {}).await;
    let token = crate::ws_client::teacher(&source, "jan").await;
    let school = School::populate(&source, &token, 40).await;
    let before = dump(&source.store).await;
    let source_dir = source.stop().await;
    let backups = tempfile::tempdir().unwrap();
    let path = backup(&database.url, source_dir.path(), backups.path(), &[]).await;

    let target_dir = tempfile::tempdir().unwrap();
    let target = match to {
        Engine::Sqlite => sqlite_url(target_dir.path()),
        Engine::Postgres => fresh_database().await,
    };
    let restored = boardcast(
        &["restore", path.to_str().unwrap()],
        &target,
        target_dir.path(),
    )
    .await;
    assert!(restored.success, "{}", restored.stderr);
    let node = TestApp::spawn_in(target_dir, &target, |_| {}).await;
    assert_eq!(dump(&node.store).await, before);

    let token = node.login("jan", "pw").await["access_token"]
        .as_str()
        .unwrap()
        .to_string();
    let lesson = node
        .client
        .get(node.url(&format!("/api/lessons/{}", school.lesson_id)))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(lesson.status(), 200);
    let (mut controller, welcome) =
        controller_socket(node.address, &token, &school.pairing_id, None).await;
    let offset = welcome["offset"].as_i64().unwrap();
    assert_eq!(offset, 40);
    assert_eq!(steer(&mut controller, json!({"kind": "next"})).await, 41);
}

/// Same boards, secrets and all; only when they were last seen may differ.
fn assert_same_boards(before: &[Vec<Value>], after: &[Vec<Value>]) {
    let without_last_seen = |rows: &[Vec<Value>]| -> Vec<Vec<Value>> {
        rows.iter()
            .map(|row| row[..row.len() - 1].to_vec())
            .collect()
    };
    assert_eq!(without_last_seen(after), without_last_seen(before));
}

/// Each board's state is the one its log ends in: the backup read both at one instant.
/// Returns each board's offset.
fn assert_one_instant(tables: &BTreeMap<&str, Vec<Vec<Value>>>) -> BTreeMap<String, i64> {
    let mut logged: BTreeMap<String, Vec<i64>> = BTreeMap::new();
    for event in &tables["board_events"] {
        let (Value::Text(board), Value::Integer(seq)) = (&event[0], &event[1]) else {
            panic!("unexpected event row {event:?}");
        };
        logged.entry(board.clone()).or_default().push(*seq);
    }
    let mut offsets = BTreeMap::new();
    for state in &tables["board_states"] {
        let (Value::Text(board), Value::Integer(seq)) = (&state[0], &state[1]) else {
            panic!("unexpected state row {state:?}");
        };
        let seqs = logged.remove(board).unwrap_or_default();
        assert_eq!(seqs, (1..=*seq).collect::<Vec<_>>(), "board {board}");
        offsets.insert(board.clone(), *seq);
    }
    assert!(logged.is_empty(), "events of boards without a state");
    offsets
}

async fn assert_serves_the_lesson(source: &TestApp, node: &TestApp, school: &School, token: &str) {
    let get = |app: &TestApp, token: &str| {
        app.client
            .get(app.url(&format!("/api/lessons/{}", school.lesson_id)))
            .bearer_auth(token)
            .send()
    };
    let restored: Json = get(node, token).await.unwrap().json().await.unwrap();
    let original: Json = get(source, &school.token)
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(restored["title"], original["title"]);
    assert_eq!(restored["version"], original["version"]);
    for (slide, upload) in restored["slides"]
        .as_array()
        .unwrap()
        .iter()
        .zip(&school.uploads)
    {
        assert_eq!(slide["upload_id"], upload["id"]);
        let url = on_node(slide["media_url"].as_str().unwrap(), node);
        let served = node.client.get(url).send().await.unwrap();
        assert_eq!(served.status(), 200);
        let original = source
            .client
            .get(on_node(slide["media_url"].as_str().unwrap(), source))
            .send()
            .await
            .unwrap();
        assert_eq!(
            served.bytes().await.unwrap(),
            original.bytes().await.unwrap()
        );
    }
}

both_engines!(
    every_table_is_backed_up_or_left_out_for_a_reason,
    |engine| async move {
        let store = TestDatabase::new(engine).await.store().await;
        let mut decided: Vec<&str> = BACKED_UP
            .iter()
            .map(|t| t.name)
            .chain(LEFT_OUT.iter().map(|(name, _)| *name))
            .collect();
        decided.sort_unstable();
        let mut tables = store.table_names().await.unwrap();
        tables.sort_unstable();
        assert_eq!(tables, decided);
    }
);

#[tokio::test]
async fn a_backup_run_where_the_media_are_not_fetches_them_from_a_node() {
    let database = TestDatabase::new(Engine::Postgres).await;
    let node = TestApp::spawn_on(&database.url, |_| {}).await;
    let token = crate::ws_client::teacher(&node, "jan").await;
    let picture = png(30_000, 4);
    let upload = crate::media_helpers::upload_png(&node, &token, picture.clone()).await;
    let sha256 = upload["sha256"].as_str().unwrap();

    // An admin's machine with the cluster's settings but none of its media.
    let admin_machine = tempfile::tempdir().unwrap();
    let backups = tempfile::tempdir().unwrap();
    let path = backup(&database.url, admin_machine.path(), backups.path(), &[]).await;
    let verified = verify(&path).await;
    assert!(verified.success, "{}", verified.stdout);
    let kept = backups.path().join("blobs").join(&sha256[..2]).join(sha256);
    assert_eq!(std::fs::read(kept).unwrap(), picture);
}
