//! How long a teacher's click takes to reach the class (see BENCHMARKS.md): headless
//! Chromium clicks "Next slide" / "Previous slide" on the controller and the board page
//! records when it painted the change, 50 times with both pages on one node and 50 times
//! with the controller on another node. Two real nodes on PostgreSQL; the nodes, the
//! database and the browser share the machine's cores.
//!
//! `cargo bench -p boardcast --bench browser` (needs Chromium and the app's npm packages).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[allow(dead_code)]
#[path = "../../tests/api/node_process.rs"]
mod node_process;
#[allow(dead_code)]
#[path = "../../tests/api/postgres.rs"]
mod postgres;

use std::path::Path;

use boardcast::{
    auth::password::hash_password,
    clock::Clock,
    config::DatabaseUrl,
    store::{NewUser, Store},
};
use serde_json::json;

use self::node_process::{describe_for_browser, NodeProcess};

const PASSWORD: &str = "bench-password";

#[tokio::main]
async fn main() {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    println!("boardcast click-to-paint latency on {cores} cores (nodes, database and Chromium share them)\n");
    let url = postgres::fresh_database().await;
    let store = Store::connect(&DatabaseUrl::new(&url)).await.unwrap();
    store.migrate().await.unwrap();
    let teacher = NewUser {
        username: "teacher".into(),
        display_name: "Bench Teacher".into(),
        password_hash: hash_password(PASSWORD.into()).await.unwrap(),
        roles: "teacher".into(),
    };
    store
        .create_user(teacher, Clock::system().now_millis())
        .await
        .unwrap();
    store.close().await;
    let quiet = [("RUST_LOG", "warn")];
    let a = NodeProcess::start_with("node-a", &url, &quiet).await;
    let b = NodeProcess::start_with("node-b", &url, &quiet).await;

    let scratch = tempfile::tempdir().unwrap();
    let cluster = describe_for_browser(
        scratch.path(),
        &[("node-a", &a), ("node-b", &b)],
        json!({
            "teacher": {"username": "teacher", "password": PASSWORD},
            "colleague": {"username": "teacher", "password": PASSWORD},
        }),
    );
    let frontend = Path::new(env!("CARGO_MANIFEST_DIR")).join("../frontend");
    let status = tokio::process::Command::new("npm")
        .args(["run", "--silent", "bench:paint"])
        .current_dir(frontend)
        .env("BOARDCAST_E2E_CLUSTER", &cluster)
        .status()
        .await
        .unwrap();
    assert!(status.success(), "the measurement failed");
}
