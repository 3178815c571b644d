//! Uploads and media URLs on one node, on both engines.

use std::time::Duration;

use boardcast::media::MediaUrl;
use boardcast_sync::ClusterKey;
use serde_json::Value;
use tokio::io::AsyncWriteExt;

use crate::{
    both_engines,
    helpers::{Engine, TestApp, CLUSTER_SECRET},
    media_helpers::{blob_path, eventually, files_under, png, upload, upload_png},
    ws_client::teacher,
};

both_engines!(
    an_upload_is_served_back_from_its_signed_url,
    |engine| async move {
        let app = TestApp::spawn(engine).await;
        let token = teacher(&app, "ann").await;
        let bytes = png(5000, 1);

        let created = upload_png(&app, &token, bytes.clone()).await;

        assert_eq!(created["size"], bytes.len());
        assert_eq!(created["content_type"], "image/png");
        assert_eq!(created["filename"], "slide.png");
        assert_eq!(created["sha256"], sha256_hex(&bytes));
        let url = created["url"].as_str().unwrap();
        assert!(url.starts_with("/media/"), "{url}");
        let response = reqwest::get(app.url(url)).await.unwrap();
        assert_eq!(response.status(), 200);
        let headers = response.headers().clone();
        assert_eq!(headers["content-type"], "image/png");
        assert_eq!(
            headers["etag"],
            format!("\"{}\"", created["sha256"].as_str().unwrap())
        );
        assert_eq!(
            headers["cache-control"],
            "public, max-age=31536000, immutable"
        );
        assert_eq!(headers["x-content-type-options"], "nosniff");
        assert!(headers["content-security-policy"]
            .to_str()
            .unwrap()
            .contains("default-src 'none'"));
        assert_eq!(response.bytes().await.unwrap(), bytes);
    }
);

both_engines!(
    media_urls_support_ranges_head_and_revalidation,
    |engine| async move {
        let app = TestApp::spawn(engine).await;
        let token = teacher(&app, "ann").await;
        let bytes = png(1000, 2);
        let url = app.url(
            upload_png(&app, &token, bytes.clone()).await["url"]
                .as_str()
                .unwrap(),
        );
        let client = reqwest::Client::new();

        let partial = client
            .get(&url)
            .header("range", "bytes=10-19")
            .send()
            .await
            .unwrap();
        assert_eq!(partial.status(), 206);
        assert_eq!(
            partial.headers()["content-range"],
            format!("bytes 10-19/{}", bytes.len())
        );
        assert_eq!(partial.bytes().await.unwrap(), bytes[10..20]);

        let head = client.head(&url).send().await.unwrap();
        assert_eq!(head.status(), 200);
        assert_eq!(head.headers()["content-length"], bytes.len().to_string());
        assert!(head.bytes().await.unwrap().is_empty());

        let etag = format!("\"{}\"", sha256_hex(&bytes));
        let cached = client
            .get(&url)
            .header("if-none-match", &etag)
            .send()
            .await
            .unwrap();
        assert_eq!(cached.status(), 304);

        let beyond = client
            .get(&url)
            .header("range", "bytes=99999-")
            .send()
            .await
            .unwrap();
        assert_eq!(beyond.status(), 416);
    }
);

#[tokio::test]
async fn tampered_expired_and_unsigned_media_urls_are_refused() {
    let app = TestApp::spawn(Engine::Sqlite).await;
    let token = teacher(&app, "ann").await;
    let created = upload_png(&app, &token, png(100, 3)).await;
    let sha = created["sha256"].as_str().unwrap();
    let url = app.url(created["url"].as_str().unwrap());
    let key = ClusterKey::new(CLUSTER_SECRET);
    let now = app.clock.now_secs();
    let expired = MediaUrl {
        sha256: sha.into(),
        expires: now - 10,
        signature: key.sign("media", sha, now - 10),
    };
    let other_sha = sha256_hex(b"other");
    let refused = [
        url.replace("sig=", "sig=00"),
        url.replace("exp=", "exp=9"),
        url.replacen(sha, &other_sha, 1),
        app.url(&format!("/media/{sha}")),
        app.url(&expired.path()),
        app.url("/media/..%2F..%2Fetc%2Fpasswd?exp=9999999999&sig=00"),
    ];
    for bad in refused {
        let response = reqwest::get(&bad).await.unwrap();
        assert_eq!(response.status(), 403, "{bad}");
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["error"], "forbidden");
    }
    let valid_for_a_missing_blob = MediaUrl::sign(&key, &other_sha, Duration::from_secs(60), now);
    let response = reqwest::get(app.url(&valid_for_a_missing_blob.path()))
        .await
        .unwrap();
    assert_eq!(response.status(), 404);

    // The URL the node gave out works until its lifetime is over: a week by default, rounded
    // up to a whole day so that URLs stay the same (and cached) for a day.
    assert_eq!(reqwest::get(&url).await.unwrap().status(), 200);
    app.clock.advance(Duration::from_secs(8 * 24 * 3600));
    assert_eq!(reqwest::get(&url).await.unwrap().status(), 403);
}

both_engines!(
    content_that_is_not_what_it_claims_is_refused,
    |engine| async move {
        let app = TestApp::spawn(engine).await;
        let token = teacher(&app, "ann").await;
        let cases: [(&str, &[u8]); 5] = [
            ("image/jpeg", &png(100, 4)),
            (
                "image/svg+xml",
                b"<svg xmlns=\"http://www.w3.org/2000/svg\"><script>alert(1)</script></svg>",
            ),
            (
                "image/png",
                b"<!DOCTYPE html><html><script>alert(1)</script></html>",
            ),
            ("text/html", b"<!DOCTYPE html><html></html>"),
            ("image/png", b""),
        ];
        for (content_type, body) in cases {
            let response = upload(&app, &token, content_type, body.to_vec()).await;
            assert_eq!(response.status(), 415, "{content_type}");
            let error: Value = response.json().await.unwrap();
            assert_eq!(error["error"], "unsupported_media_type");
        }
        let no_type = app
            .client
            .post(app.url("/api/uploads"))
            .bearer_auth(&token)
            .body(png(10, 4))
            .send()
            .await
            .unwrap();
        assert_eq!(no_type.status(), 415);
        assert!(app.store.list_uploads(None).await.unwrap().is_empty());
        assert!(files_under(&app.data_dir().join("blobs/objects")).is_empty());
    }
);

both_engines!(
    uploads_over_the_limit_are_refused_with_413,
    |engine| async move {
        let app = TestApp::spawn_with(engine, |s| s.media.max_upload_size = 4096).await;
        let token = teacher(&app, "ann").await;

        let announced = upload(&app, &token, "image/png", png(5000, 5)).await;
        assert_eq!(announced.status(), 413);

        // Sent without a length, the limit is found while streaming.
        let chunks: Vec<Result<Vec<u8>, std::io::Error>> =
            png(5000, 5).chunks(1000).map(|c| Ok(c.to_vec())).collect();
        let streamed = app
            .client
            .post(app.url("/api/uploads"))
            .bearer_auth(&token)
            .header("content-type", "image/png")
            .body(reqwest::Body::wrap_stream(futures_util::stream::iter(
                chunks,
            )))
            .send()
            .await
            .unwrap();
        assert_eq!(streamed.status(), 413);
        let error: Value = streamed.json().await.unwrap();
        assert_eq!(error["error"], "payload_too_large");

        let header = png(0, 5).len();
        let exactly = upload(&app, &token, "image/png", png(4096 - header, 5)).await;
        assert_eq!(exactly.status(), 201);
        assert_eq!(app.store.list_uploads(None).await.unwrap().len(), 1);
    }
);

both_engines!(
    an_upload_cut_off_halfway_leaves_no_row_and_no_blob,
    |engine| async move {
        let app = TestApp::spawn(engine).await;
        let token = teacher(&app, "ann").await;
        let body = png(200_000, 6);
        let mut socket = tokio::net::TcpStream::connect(app.address).await.unwrap();
        let head = format!(
            "POST /api/uploads HTTP/1.1\r\nhost: x\r\nauthorization: Bearer {token}\r\n\
         content-type: image/png\r\ncontent-length: {}\r\n\r\n",
            body.len()
        );
        socket.write_all(head.as_bytes()).await.unwrap();
        socket.write_all(&body[..100_000]).await.unwrap();
        socket.flush().await.unwrap();
        let blobs = app.data_dir().join("blobs");
        // Cut off only once the node is writing the upload to disk.
        eventually(
            Duration::from_secs(5),
            "partial upload being written",
            || !files_under(&blobs).is_empty(),
        )
        .await;
        drop(socket);

        eventually(Duration::from_secs(5), "partial upload removed", || {
            files_under(&blobs).is_empty()
        })
        .await;
        assert!(app.store.list_uploads(None).await.unwrap().is_empty());
        // The node still takes uploads.
        upload_png(&app, &token, png(10, 6)).await;
    }
);

both_engines!(
    a_retried_upload_with_its_idempotency_key_is_stored_once,
    |engine| async move {
        let app = TestApp::spawn(engine).await;
        let token = teacher(&app, "ann").await;
        let send = |key: &'static str| {
            app.client
                .post(app.url("/api/uploads?filename=a.png"))
                .bearer_auth(&token)
                .header("content-type", "image/png")
                .header("idempotency-key", key)
                .body(png(3000, 7))
                .send()
        };
        let first: Value = send("key-1").await.unwrap().json().await.unwrap();
        let retry = send("key-1").await.unwrap();
        assert_eq!(retry.status(), 201);
        let retry: Value = retry.json().await.unwrap();
        assert_eq!(retry["id"], first["id"]);
        let other: Value = send("key-2").await.unwrap().json().await.unwrap();
        assert_ne!(other["id"], first["id"]);
        assert_eq!(other["sha256"], first["sha256"]);
        assert_eq!(app.store.list_uploads(None).await.unwrap().len(), 2);
        assert_eq!(files_under(&app.data_dir().join("blobs/objects")).len(), 1);

        let bad_key = app
            .client
            .post(app.url("/api/uploads"))
            .bearer_auth(&token)
            .header("content-type", "image/png")
            .header("idempotency-key", "a key with spaces")
            .body(png(10, 7))
            .send()
            .await
            .unwrap();
        assert_eq!(bad_key.status(), 400);
    }
);

both_engines!(
    concurrent_uploads_of_the_same_content_share_one_blob,
    |engine| async move {
        let app = TestApp::spawn(engine).await;
        let token = teacher(&app, "ann").await;
        let bytes = png(300_000, 8);
        let uploads = (0..8).map(|_| upload_png(&app, &token, bytes.clone()));
        let created = futures_util::future::join_all(uploads).await;
        let sha = created[0]["sha256"].clone();
        assert!(created.iter().all(|c| c["sha256"] == sha));
        let blobs = files_under(&app.data_dir().join("blobs"));
        assert_eq!(blobs.len(), 1, "{blobs:?}");
        assert_eq!(std::fs::read(&blobs[0]).unwrap(), bytes);
        assert_eq!(blobs[0], blob_path(app.data_dir(), sha.as_str().unwrap()));
    }
);

both_engines!(uploads_belong_to_their_owner, |engine| async move {
    let app = TestApp::spawn(engine).await;
    let ann = teacher(&app, "ann").await;
    let bob = teacher(&app, "bob").await;
    app.add_user("root", "pw", "admin").await;
    let admin = app.login("root", "pw").await["access_token"]
        .as_str()
        .unwrap()
        .to_string();
    let created = upload_png(&app, &ann, png(100, 9)).await;
    let id = created["id"].as_str().unwrap();
    let get = |token: &str, path: String| {
        app.client
            .get(app.url(&path))
            .bearer_auth(token.to_string())
            .send()
    };

    assert_eq!(
        get(&ann, format!("/api/uploads/{id}"))
            .await
            .unwrap()
            .status(),
        200
    );
    assert_eq!(
        get(&bob, format!("/api/uploads/{id}"))
            .await
            .unwrap()
            .status(),
        404
    );
    assert_eq!(
        get(&admin, format!("/api/uploads/{id}"))
            .await
            .unwrap()
            .status(),
        200
    );
    let listed: Vec<Value> = get(&bob, "/api/uploads".into())
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(listed.is_empty());
    let listed: Vec<Value> = get(&ann, "/api/uploads".into())
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(listed.len(), 1);

    let by_admin = upload(&app, &admin, "image/png", png(10, 9)).await;
    assert_eq!(by_admin.status(), 403, "uploading is for teachers");
    let anonymous = app
        .client
        .post(app.url("/api/uploads"))
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status(), 401);

    let delete = |token: &str| {
        app.client
            .delete(app.url(&format!("/api/uploads/{id}")))
            .bearer_auth(token.to_string())
            .send()
    };
    assert_eq!(delete(&bob).await.unwrap().status(), 404);
    assert_eq!(delete(&ann).await.unwrap().status(), 204);
    assert_eq!(
        get(&ann, format!("/api/uploads/{id}"))
            .await
            .unwrap()
            .status(),
        404
    );
});

#[tokio::test]
async fn internal_blob_requests_need_the_cluster_secret() {
    let app = TestApp::spawn(Engine::Sqlite).await;
    let token = teacher(&app, "ann").await;
    let bytes = png(100, 10);
    let sha = upload_png(&app, &token, bytes.clone()).await["sha256"]
        .as_str()
        .unwrap()
        .to_string();
    let path = format!("/internal/blobs/{sha}");
    let now = app.clock.now_secs();
    let client = reqwest::Client::new();
    let ask = |proof: String| {
        client
            .get(app.url(&path))
            .header("x-boardcast-cluster", proof)
            .send()
    };

    let right = ask(ClusterKey::new(CLUSTER_SECRET).authorize(&path, now))
        .await
        .unwrap();
    assert_eq!(right.status(), 200);
    assert_eq!(right.bytes().await.unwrap(), bytes);
    let wrong_secret = ask(ClusterKey::new("guess").authorize(&path, now))
        .await
        .unwrap();
    assert_eq!(wrong_secret.status(), 403);
    let other_path = ask(ClusterKey::new(CLUSTER_SECRET).authorize("/internal/blobs/x", now))
        .await
        .unwrap();
    assert_eq!(other_path.status(), 403);
    let none = client.get(app.url(&path)).send().await.unwrap();
    assert_eq!(none.status(), 403);
}

fn sha256_hex(bytes: &[u8]) -> String {
    boardcast_sync::Digest::of(bytes).to_hex()
}
