//! Media across real nodes sharing one PostgreSQL database, each with its own blob store.

use std::time::Duration;

use serde_json::Value;

use crate::{
    helpers::{Engine, TestApp, TestDatabase},
    media_helpers::{blob_path, eventually, files_under, on_node, png, upload_png},
    ws_client::teacher,
};

/// Long enough for a few sync passes on a busy machine.
const WITHIN: Duration = Duration::from_secs(15);

async fn node(database_url: &str) -> TestApp {
    TestApp::spawn_on(database_url, fast_sync).await
}

fn fast_sync(settings: &mut boardcast::config::Settings) {
    settings.media.sync_interval = Duration::from_millis(200);
}

#[tokio::test]
async fn an_upload_is_served_by_every_node_at_once_and_copied_to_each() {
    let database = TestDatabase::new(Engine::Postgres).await;
    let a = node(&database.url).await;
    let b = node(&database.url).await;
    let c = node(&database.url).await;
    let token = teacher(&a, "ann").await;
    let bytes = png(3_000_000, 1);

    let created = upload_png(&a, &token, bytes.clone()).await;
    let url = created["url"].as_str().unwrap();
    let sha = created["sha256"].as_str().unwrap();

    let from_c = reqwest::get(on_node(url, &c)).await.unwrap();
    assert_eq!(from_c.status(), 200);
    assert_eq!(from_c.headers()["content-type"], "image/png");
    assert_eq!(from_c.bytes().await.unwrap(), bytes, "served by C at once");
    eventually(WITHIN, "blob copied to B and C", || {
        blob_path(b.data_dir(), sha).exists() && blob_path(c.data_dir(), sha).exists()
    })
    .await;
    for copy in [blob_path(b.data_dir(), sha), blob_path(c.data_dir(), sha)] {
        assert_eq!(std::fs::read(copy).unwrap(), bytes);
    }

    let client = reqwest::Client::new();
    let range = client
        .get(on_node(url, &b))
        .header("range", "bytes=1000000-1000009")
        .send()
        .await
        .unwrap();
    assert_eq!(range.status(), 206);
    assert_eq!(range.bytes().await.unwrap(), bytes[1_000_000..1_000_010]);
    let head = client.head(on_node(url, &c)).send().await.unwrap();
    assert_eq!(head.headers()["content-length"], bytes.len().to_string());
}

#[tokio::test]
async fn a_node_down_during_uploads_catches_up_when_it_returns() {
    let database = TestDatabase::new(Engine::Postgres).await;
    let a = node(&database.url).await;
    let b = node(&database.url).await;
    let token = teacher(&a, "ann").await;
    let b_data = b.stop().await;

    let mut shas = Vec::new();
    for seed in 0..3 {
        let created = upload_png(&a, &token, png(100_000, seed)).await;
        shas.push(created["sha256"].as_str().unwrap().to_string());
    }
    let b = TestApp::spawn_in(b_data, &database.url, fast_sync).await;

    eventually(WITHIN, "B has every upload made while it was down", || {
        shas.iter().all(|sha| blob_path(b.data_dir(), sha).exists())
    })
    .await;
    let metrics = reqwest::get(b.url("/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(metrics.contains("boardcast_blobs_missing 0"), "{metrics}");
}

#[tokio::test]
async fn a_corrupt_copy_is_never_served_but_quarantined_and_fetched_again() {
    let database = TestDatabase::new(Engine::Postgres).await;
    let a = node(&database.url).await;
    let b = node(&database.url).await;
    let token = teacher(&a, "ann").await;
    let bytes = png(500_000, 2);
    let created = upload_png(&a, &token, bytes.clone()).await;
    let sha = created["sha256"].as_str().unwrap();
    let on_b = blob_path(b.data_dir(), sha);
    eventually(WITHIN, "blob copied to B", || on_b.exists()).await;
    // B reads its copy once, so it counts as verified, then the disk goes bad under it.
    let url = on_node(created["url"].as_str().unwrap(), &b);
    assert_eq!(
        reqwest::get(&url).await.unwrap().bytes().await.unwrap(),
        bytes
    );
    let mut rotten = bytes.clone();
    rotten[400_000] ^= 0xff;
    std::fs::write(&on_b, &rotten).unwrap();

    let served = reqwest::get(&url).await.unwrap();
    assert_eq!(served.status(), 200);
    assert_eq!(served.bytes().await.unwrap(), bytes, "B served good bytes");
    let quarantined = files_under(&b.data_dir().join("blobs/quarantine"));
    assert_eq!(quarantined.len(), 1);
    assert_eq!(std::fs::read(&quarantined[0]).unwrap(), rotten);
    eventually(WITHIN, "B holds a good copy again", || {
        std::fs::read(&on_b).is_ok_and(|copy| copy == bytes)
    })
    .await;
}

#[tokio::test]
async fn the_cluster_lists_its_nodes_for_the_spa() {
    let database = TestDatabase::new(Engine::Postgres).await;
    let a = node(&database.url).await;
    let b = node(&database.url).await;
    let mut listed = Vec::new();
    for _ in 0..100 {
        listed = reqwest::get(a.url("/api/cluster"))
            .await
            .unwrap()
            .json::<Vec<Value>>()
            .await
            .unwrap();
        if listed.len() == 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let urls: Vec<&str> = listed
        .iter()
        .map(|n| n["public_url"].as_str().unwrap())
        .collect();
    assert!(
        urls.contains(&a.url("").as_str()) && urls.contains(&b.url("").as_str()),
        "{listed:?}"
    );
    assert!(listed.iter().all(|n| n["healthy"] == true));
}

#[tokio::test]
async fn status_reports_each_node_and_its_sync() {
    let database = TestDatabase::new(Engine::Postgres).await;
    let a = node(&database.url).await;
    let token = teacher(&a, "ann").await;
    let created = upload_png(&a, &token, png(1000, 3)).await;
    let b = node(&database.url).await;
    let sha = created["sha256"].as_str().unwrap();
    eventually(WITHIN, "blob copied to B", || {
        blob_path(b.data_dir(), sha).exists()
    })
    .await;

    let mut reported = Vec::new();
    for _ in 0..40 {
        let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_boardcast"))
            .args(["status", "--json"])
            .env("BOARDCAST_DATABASE_URL", &database.url)
            .env("BOARDCAST_CLUSTER_SECRET", crate::helpers::CLUSTER_SECRET)
            .output()
            .await
            .unwrap();
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        let status: Value = serde_json::from_slice(&output.stdout).unwrap();
        assert_eq!(status["last_backup"], Value::Null, "{status}");
        reported = status["nodes"].as_array().unwrap().clone();
        let synced = reported.len() == 2
            && reported
                .iter()
                .all(|n| n["last_sync"].is_string() && n["blobs_missing"] == 0);
        if synced {
            break;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    assert_eq!(reported.len(), 2, "{reported:?}");
    for node in &reported {
        assert_eq!(node["healthy"], true, "{node}");
        assert_eq!(node["blobs_missing"], 0, "{node}");
        assert_eq!(node["bytes_behind"], 0, "{node}");
        assert!(node["last_sync"].is_string(), "{node}");
    }
}

#[tokio::test]
async fn a_node_keeps_beating_while_a_long_copy_runs() {
    let database = TestDatabase::new(Engine::Postgres).await;
    let content = png(1000, 4);
    let sha = boardcast_sync::Digest::of(&content).to_hex();
    let store = database.store().await;
    store
        .insert_upload(&boardcast::store::UploadRow {
            id: uuid::Uuid::new_v4().to_string(),
            owner_id: "someone".into(),
            sha256: sha.clone(),
            size: content.len() as i64,
            content_type: "image/png".into(),
            filename: "slow.png".into(),
            stored_by: "elsewhere".into(),
            idempotency_key: None,
            created_at: 0,
        })
        .await
        .unwrap();
    let peer = slow_peer(content).await;
    let b = TestApp::spawn_on(&database.url, |settings| {
        fast_sync(settings);
        settings.peers = vec![format!("http://{peer}")];
    })
    .await;

    let first = only_node_seen_at(&store).await;
    // A beat is due every 5 s; the copy, a byte every half second, takes minutes.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    loop {
        let later = only_node_seen_at(&store).await;
        if later - first >= 5_000 {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no heartbeat during the copy: {first} → {later}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let copied = blob_path(b.data_dir(), &sha);
    assert!(!copied.exists(), "the copy should still be running");
}

/// A peer that has one blob and sends it a byte every half second.
async fn slow_peer(content: Vec<u8>) -> std::net::SocketAddr {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            let content = content.clone();
            tokio::spawn(async move {
                let mut request = [0u8; 4096];
                let _ = socket.read(&mut request).await;
                let head = format!(
                    "HTTP/1.1 200 OK\r\ncontent-length: {}\r\n\r\n",
                    content.len()
                );
                socket.write_all(head.as_bytes()).await?;
                for byte in content {
                    socket.write_all(&[byte]).await?;
                    tokio::time::sleep(Duration::from_millis(500)).await;
                }
                Ok::<_, std::io::Error>(())
            });
        }
    });
    address
}

/// When the one registered node last beat, once it has registered.
async fn only_node_seen_at(store: &boardcast::store::Store) -> i64 {
    for _ in 0..100 {
        if let [node] = store.list_nodes().await.unwrap().as_slice() {
            return node.last_seen_at;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the node never registered");
}
