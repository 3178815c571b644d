//! Uploading and fetching media in tests.

use std::{path::Path, time::Duration};

use serde_json::Value;

use crate::helpers::TestApp;

/// A PNG's signature and header chunk, then `len` bytes of pattern: enough for a node to
/// accept it as an image (only the first bytes are checked).
pub fn png(len: usize, seed: u8) -> Vec<u8> {
    let mut bytes = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x10\0\0\0\x10\x08\x06\0\0\0".to_vec();
    bytes.extend((0..len).map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed)));
    bytes
}

/// `POST /api/uploads` with a whole body.
pub async fn upload(
    app: &TestApp,
    token: &str,
    content_type: &str,
    body: Vec<u8>,
) -> reqwest::Response {
    app.client
        .post(app.url("/api/uploads?filename=slide.png"))
        .bearer_auth(token)
        .header("content-type", content_type)
        .body(body)
        .send()
        .await
        .unwrap()
}

/// Uploads a PNG and returns the response body (201 asserted).
pub async fn upload_png(app: &TestApp, token: &str, body: Vec<u8>) -> Value {
    let response = upload(app, token, "image/png", body).await;
    assert_eq!(response.status(), 201, "{:?}", response.text().await);
    response.json().await.unwrap()
}

/// The same signed URL, aimed at another node.
pub fn on_node(url: &str, app: &TestApp) -> String {
    let path = &url[url.find("/media/").unwrap()..];
    app.url(path)
}

/// Where a node keeps a blob.
pub fn blob_path(data_dir: &Path, sha256: &str) -> std::path::PathBuf {
    data_dir
        .join("blobs/objects")
        .join(&sha256[..2])
        .join(sha256)
}

/// Every file under `dir`, recursively.
pub fn files_under(dir: &Path) -> Vec<std::path::PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut found = Vec::new();
    for entry in entries {
        let path = entry.unwrap().path();
        if path.is_dir() {
            found.extend(files_under(&path));
        } else {
            found.push(path);
        }
    }
    found
}

/// Waits until `check` holds, polling; fails the test after `within`.
pub async fn eventually(within: Duration, what: &str, mut check: impl FnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + within;
    while !check() {
        assert!(tokio::time::Instant::now() < deadline, "timed out: {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
