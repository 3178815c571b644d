//! What goes wrong with backups in real life: damaged or incomplete copies, a database that
//! already holds data, nightly runs into one directory, retention, and two runs at once.

use std::{fs, os::unix::fs::MetadataExt, path::Path};

use serde_json::Value as Json;
use tempfile::TempDir;

use crate::{
    backup_helpers::{backup, boardcast, copy_tree, dump, sqlite_url, verify, School},
    helpers::{Engine, TestApp, TestDatabase},
    media_helpers::{files_under, png, upload_png},
    ws_client::teacher,
};

/// A small school on SQLite with one backup of it.
struct Backed {
    app: TestApp,
    database: TestDatabase,
    school: School,
    backups: TempDir,
    path: std::path::PathBuf,
}

async fn backed_up_school() -> Backed {
    let database = TestDatabase::new(Engine::Sqlite).await;
    let app = TestApp::spawn_on(&database.url, |_| {}).await;
    let token = teacher(&app, "jan").await;
    let school = School::populate(&app, &token, 5).await;
    let backups = tempfile::tempdir().unwrap();
    let path = backup(&database.url, app.data_dir(), backups.path(), &[]).await;
    Backed {
        app,
        database,
        school,
        backups,
        path,
    }
}

fn pool_file(backups: &Path, sha256: &str) -> std::path::PathBuf {
    backups.join("blobs").join(&sha256[..2]).join(sha256)
}

fn flip_a_byte(path: &Path) {
    let mut bytes = fs::read(path).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x20;
    fs::write(path, bytes).unwrap();
}

/// What a damaged backup must be reported as, and how it is damaged.
type Damage<'a> = (&'a str, &'a dyn Fn(&Path));

#[tokio::test]
async fn damage_is_named_and_nothing_is_restored_from_a_damaged_backup() {
    let Backed {
        school,
        backups,
        path,
        ..
    } = backed_up_school().await;
    let name = path.file_name().unwrap();
    let blob = school.uploads[0]["sha256"].as_str().unwrap().to_string();
    let damages: [Damage; 4] = [
        ("tables/users.jsonl: damaged", &|b| {
            flip_a_byte(&b.join(name).join("tables/users.jsonl"))
        }),
        ("missing", &|b| {
            fs::remove_file(pool_file(b, &blob)).unwrap()
        }),
        ("damaged (its bytes do not hash to its name)", &|b| {
            flip_a_byte(&pool_file(b, &blob))
        }),
        ("manifest.json: damaged", &|b| {
            let manifest = b.join(name).join("manifest.json");
            let bytes = fs::read(&manifest).unwrap();
            fs::write(&manifest, &bytes[..bytes.len() / 3]).unwrap();
        }),
    ];
    for (said, damage) in damages {
        let copy = tempfile::tempdir().unwrap();
        copy_tree(backups.path(), copy.path());
        damage(copy.path());
        let damaged = copy.path().join(name);

        let verified = verify(&damaged).await;
        assert!(!verified.success, "verify passed a backup with {said}");
        assert!(
            verified.stderr.contains("is damaged"),
            "{}",
            verified.stderr
        );
        let named = verified.stdout.lines().any(|line| line.contains(said));
        assert!(named, "verify did not say {said:?}: {}", verified.stdout);
        if said == "missing" || said.starts_with("damaged") {
            assert!(verified.stdout.contains(&blob), "{}", verified.stdout);
        }

        let target_dir = tempfile::tempdir().unwrap();
        let target = sqlite_url(target_dir.path());
        let ran = boardcast(
            &["restore", damaged.to_str().unwrap()],
            &target,
            target_dir.path(),
        )
        .await;
        assert!(!ran.success, "restored from a backup with {said}");
        assert!(ran.stderr.contains(said), "{}", ran.stderr);
        assert!(
            !target_dir.path().join("boardcast.db").exists(),
            "a damaged backup touched the database"
        );
        assert!(files_under(&target_dir.path().join("blobs")).is_empty());
    }
    // The original was never touched.
    let whole = verify(&path).await;
    assert!(whole.success, "{}", whole.stdout);
}

#[tokio::test]
async fn a_database_with_data_is_replaced_only_when_forced() {
    let Backed {
        app,
        database,
        path,
        backups: _backups,
        ..
    } = backed_up_school().await;
    let backed_up = dump(&app.store).await;
    app.add_user("newcomer", "pw", "teacher").await;
    let with_newcomer = dump(&app.store).await;
    let data_dir = app.data_dir().to_path_buf();

    let refused = boardcast(
        &["restore", path.to_str().unwrap()],
        &database.url,
        &data_dir,
    )
    .await;
    assert!(!refused.success);
    assert!(refused.stderr.contains("--force"), "{}", refused.stderr);
    assert!(refused.stderr.contains("users"), "{}", refused.stderr);
    assert_eq!(dump(&app.store).await, with_newcomer);

    let forced = boardcast(
        &["restore", path.to_str().unwrap(), "--force"],
        &database.url,
        &data_dir,
    )
    .await;
    assert!(forced.success, "{}", forced.stderr);
    assert!(forced.stderr.contains("warning"), "{}", forced.stderr);
    let mut after = dump(&app.store).await;
    let mut expected = backed_up;
    // The board stays connected to the running node, which records that it saw it.
    after.remove("boards");
    expected.remove("boards");
    assert_eq!(after, expected);
}

#[tokio::test]
async fn nightly_backups_copy_only_new_blobs_and_keep_the_newest() {
    let Backed {
        app,
        database,
        school,
        backups,
        path: first,
    } = backed_up_school().await;
    let old_blob = pool_file(
        backups.path(),
        school.uploads[0]["sha256"].as_str().unwrap(),
    );
    let old_copy = fs::metadata(&old_blob).unwrap();

    let added = upload_png(&app, &school.token, png(70_000, 9)).await;
    let out = backups.path().to_str().unwrap();
    let ran = boardcast(&["backup", "--out", out], &database.url, app.data_dir()).await;
    assert!(ran.success, "{}", ran.stderr);
    assert!(
        ran.stderr.contains("1 of 3 blobs new here"),
        "{}",
        ran.stderr
    );
    let second = std::path::PathBuf::from(ran.stdout.lines().last().unwrap());
    let still = fs::metadata(&old_blob).unwrap();
    assert_eq!(
        (still.ino(), still.mtime_nsec()),
        (old_copy.ino(), old_copy.mtime_nsec()),
        "an unchanged blob was copied again"
    );
    assert!(pool_file(backups.path(), added["sha256"].as_str().unwrap()).exists());

    // The first upload is deleted: once no kept backup lists it, its blob goes too.
    let id = school.uploads[0]["id"].as_str().unwrap();
    // The lesson shows it, so it goes first.
    let gone = app
        .client
        .delete(app.url(&format!("/api/lessons/{}", school.lesson_id)))
        .bearer_auth(&school.token)
        .send()
        .await
        .unwrap();
    assert_eq!(gone.status(), 204);
    let gone = app
        .client
        .delete(app.url(&format!("/api/uploads/{id}")))
        .bearer_auth(&school.token)
        .send()
        .await
        .unwrap();
    assert_eq!(gone.status(), 204);
    let third = backup(&database.url, app.data_dir(), backups.path(), &[]).await;
    assert!(old_blob.exists(), "retention ran without --keep");
    let fourth = backup(
        &database.url,
        app.data_dir(),
        backups.path(),
        &["--keep", "2"],
    )
    .await;
    assert!(
        !first.exists() && !second.exists(),
        "older backups were kept"
    );
    assert!(third.exists() && fourth.exists());
    assert!(!old_blob.exists(), "a blob no kept backup needs was kept");
    for kept in [&third, &fourth] {
        let verified = verify(kept).await;
        assert!(verified.success, "{}", verified.stdout);
    }
}

#[tokio::test]
async fn two_backups_started_at_once_both_finish_whole() {
    let Backed {
        app,
        database,
        backups,
        path: _first,
        ..
    } = backed_up_school().await;
    let (a, b) = tokio::join!(
        backup(
            &database.url,
            app.data_dir(),
            backups.path(),
            &["--keep", "2"]
        ),
        backup(
            &database.url,
            app.data_dir(),
            backups.path(),
            &["--keep", "2"]
        ),
    );
    assert_ne!(a, b);
    for path in [&a, &b] {
        let verified = verify(path).await;
        let said = format!("{}{}", verified.stdout, verified.stderr);
        assert!(verified.success, "{}: {said}", path.display());
    }
    let kept: Vec<_> = fs::read_dir(backups.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().to_string())
        .filter(|name| !name.starts_with('.') && name != "blobs")
        .collect();
    assert_eq!(kept.len(), 2, "{kept:?}");
}

#[tokio::test]
async fn a_backup_of_an_older_schema_restores_into_this_one() {
    let Backed {
        backups, path, app, ..
    } = backed_up_school().await;
    // The same backup as a version before lessons existed would have written it; `tokens`
    // has gained columns since, so it goes too (its old form is not at hand).
    let manifest_path = path.join("manifest.json");
    let mut manifest: Json = serde_json::from_slice(&fs::read(&manifest_path).unwrap()).unwrap();
    manifest["schema_version"] = 7.into();
    manifest["tables"].as_array_mut().unwrap().retain(|t| {
        let name = t["name"].as_str().unwrap();
        !name.starts_with("lesson") && name != "tokens"
    });
    let json = serde_json::to_vec_pretty(&manifest).unwrap();
    fs::write(&manifest_path, &json).unwrap();
    let digest = boardcast_sync::Digest::of(&json);
    fs::write(
        path.join("manifest.sha256"),
        format!("{digest}  manifest.json\n"),
    )
    .unwrap();

    let target_dir = tempfile::tempdir().unwrap();
    let target = sqlite_url(target_dir.path());
    let ran = boardcast(
        &["restore", path.to_str().unwrap()],
        &target,
        target_dir.path(),
    )
    .await;
    assert!(ran.success, "{}", ran.stderr);
    let node = TestApp::spawn_in(target_dir, &target, |_| {}).await;
    assert_eq!(
        node.store.schema_version().await.unwrap(),
        node.store.latest_schema_version()
    );
    let restored = dump(&node.store).await;
    let original = dump(&app.store).await;
    assert_eq!(restored["users"], original["users"]);
    assert_eq!(restored["board_events"], original["board_events"]);
    assert!(restored["lessons"].is_empty());
    drop(backups);
}
