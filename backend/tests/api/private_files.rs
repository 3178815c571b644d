//! Secrets at rest: what a node creates on disk is readable by its own user only.

use std::{os::unix::fs::PermissionsExt, path::Path};

use boardcast::{config::DatabaseUrl, store::Store};

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

#[tokio::test]
async fn a_new_sqlite_database_is_readable_by_the_node_user_only() {
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().join("new").join("data");
    let file = data_dir.join("boardcast.db");
    let url = format!("sqlite://{}?mode=rwc", file.display());
    let store = Store::connect(&DatabaseUrl::new(&url)).await.unwrap();
    store.migrate().await.unwrap();
    assert_eq!(mode(&data_dir), 0o700);
    assert_eq!(mode(&file), 0o600);
}

#[tokio::test]
async fn an_existing_data_directory_keeps_its_permissions() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o750)).unwrap();
    let url = format!(
        "sqlite://{}?mode=rwc",
        dir.path().join("boardcast.db").display()
    );
    Store::connect(&DatabaseUrl::new(&url)).await.unwrap();
    assert_eq!(mode(dir.path()), 0o750);
}
