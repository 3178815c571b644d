//! Uploads reach every node without waiting for a sync pass: a node that comes back catches
//! up as it starts. Every node here syncs only once a minute, so nothing else can pass these
//! tests.

use std::time::Duration;

use crate::{
    helpers::{Engine, TestApp, TestDatabase},
    media_helpers::{blob_path, eventually, png, upload_png},
    node_process::NodeProcess,
    ws_client::teacher,
};

/// How soon a blob must be on another node's disk.
const AT_ONCE: Duration = Duration::from_secs(2);

/// Far longer than any test here.
const SLOW_SYNC: Duration = Duration::from_secs(60);

async fn node(database_url: &str) -> TestApp {
    TestApp::spawn_on(database_url, |settings| {
        settings.media.sync_interval = SLOW_SYNC;
    })
    .await
}

#[tokio::test]
async fn a_node_killed_during_uploads_has_them_all_within_two_seconds_of_its_return() {
    let database = TestDatabase::new(Engine::Postgres).await;
    let a = node(&database.url).await;
    let slow_sync = format!("{}s", SLOW_SYNC.as_secs());
    let settings = [("BOARDCAST_MEDIA__SYNC_INTERVAL", slow_sync.as_str())];
    let mut b = NodeProcess::start_with("node-b", &database.url, &settings).await;
    let token = teacher(&a, "ann").await;
    b.kill().await;

    let mut uploads = Vec::new();
    for seed in 0..5 {
        let bytes = png(50_000, seed);
        let created = upload_png(&a, &token, bytes.clone()).await;
        uploads.push((created, bytes));
    }
    b.restart().await;
    wait_until_ready(&format!("http://{}", b.address)).await;

    eventually(AT_ONCE, "B has every upload made while it was down", || {
        uploads.iter().all(|(created, _)| {
            blob_path(b.data_dir(), created["sha256"].as_str().unwrap()).exists()
        })
    })
    .await;
    for (created, bytes) in &uploads {
        let url = created["url"].as_str().unwrap();
        let path = &url[url.find("/media/").unwrap()..];
        let served = reqwest::get(format!("http://{}{path}", b.address))
            .await
            .unwrap();
        assert_eq!(served.status(), 200);
        assert_eq!(&served.bytes().await.unwrap()[..], &bytes[..]);
    }
}

/// Waits for the node's `/readyz` to answer 200.
async fn wait_until_ready(base_url: &str) {
    let client = reqwest::Client::new();
    for _ in 0..200 {
        let answer = client.get(format!("{base_url}/readyz")).send().await;
        if answer.is_ok_and(|r| r.status() == 200) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("{base_url} never became ready");
}
