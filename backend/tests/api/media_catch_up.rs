//! Uploads reach every node without waiting for a sync pass: the node that stored one tells
//! the others, and a node that comes back catches up as it starts. Every node here syncs only
//! once a minute, so nothing but those two paths can pass these tests.

use std::time::Duration;

use crate::{
    helpers::{Engine, TestApp, TestDatabase},
    media_helpers::{blob_path, eventually, on_node, png, upload_png},
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
async fn an_upload_is_on_every_node_within_two_seconds() {
    let database = TestDatabase::new(Engine::Postgres).await;
    let a = node(&database.url).await;
    let b = node(&database.url).await;
    let c = node(&database.url).await;
    let token = teacher(&a, "ann").await;

    let created = upload_png(&a, &token, png(200_000, 1)).await;

    let sha = created["sha256"].as_str().unwrap();
    eventually(AT_ONCE, "blob copied to B and C", || {
        blob_path(b.data_dir(), sha).exists() && blob_path(c.data_dir(), sha).exists()
    })
    .await;
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

#[tokio::test]
async fn a_burst_of_uploads_does_not_make_a_peer_run_a_pass_per_upload() {
    let database = TestDatabase::new(Engine::Postgres).await;
    let a = node(&database.url).await;
    let b = node(&database.url).await;
    let token = teacher(&a, "ann").await;
    let first = upload_png(&a, &token, png(1000, 0)).await;
    let first_sha = first["sha256"].as_str().unwrap();
    eventually(AT_ONCE, "first blob copied to B", || {
        blob_path(b.data_dir(), first_sha).exists()
    })
    .await;
    let passes_before = sync_passes(&b).await;

    let uploads = (1..=50).map(|seed| upload_png(&a, &token, png(1000, seed)));
    let created = futures_util::future::join_all(uploads).await;

    eventually(Duration::from_secs(10), "B has the whole burst", || {
        created
            .iter()
            .all(|c| blob_path(b.data_dir(), c["sha256"].as_str().unwrap()).exists())
    })
    .await;
    let url = on_node(created[49]["url"].as_str().unwrap(), &b);
    assert_eq!(reqwest::get(url).await.unwrap().status(), 200);
    // The burst needs no pass at all; one may still be the catch-up a starting node runs
    // once it listens for news, which a loaded machine can delay past the first upload.
    let passes = sync_passes(&b).await - passes_before;
    assert!(
        passes <= 1,
        "{passes} sync passes for a burst of 50 uploads"
    );
}

/// How many full sync passes the node has run, from its metrics.
async fn sync_passes(app: &TestApp) -> u64 {
    let metrics = reqwest::get(app.url("/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    metrics
        .lines()
        .find_map(|line| line.strip_prefix("boardcast_blob_sync_passes_total "))
        .unwrap_or_else(|| panic!("no pass counter in {metrics}"))
        .parse()
        .unwrap()
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
