//! `Range` on media as RFC 9110 §14 defines it: what a video player or a download manager
//! asks for is answered exactly, and a range past the end says how long the medium is.

use crate::{
    helpers::{Engine, TestApp},
    media_helpers::{on_node, png, upload_png},
    ws_client::teacher,
};

/// A node with one uploaded medium: its URL, its bytes and its ETag.
async fn medium() -> (TestApp, String, Vec<u8>, String) {
    let app = TestApp::spawn(Engine::Sqlite).await;
    let token = teacher(&app, "ann").await;
    let bytes = png(10_000, 1);
    let created = upload_png(&app, &token, bytes.clone()).await;
    let url = on_node(created["url"].as_str().unwrap(), &app);
    let etag = format!("\"{}\"", created["sha256"].as_str().unwrap());
    (app, url, bytes, etag)
}

async fn get(url: &str, headers: &[(&str, &str)]) -> reqwest::Response {
    let mut request = reqwest::Client::new().get(url);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    request.send().await.unwrap()
}

#[tokio::test]
async fn one_range_a_suffix_and_an_open_end_are_served_exactly() {
    let (_app, url, bytes, _) = medium().await;
    let len = bytes.len();
    for (range, from, to) in [
        ("bytes=100-199", 100, 199),
        ("bytes=-10", len - 10, len - 1),
        ("bytes=-100000", 0, len - 1),
        ("bytes=9000-", 9000, len - 1),
        ("bytes=9000-999999", 9000, len - 1),
        ("bytes=0-9,0-9", 0, 9),
    ] {
        let response = get(&url, &[("range", range)]).await;
        assert_eq!(response.status(), 206, "{range}");
        assert_eq!(
            response.headers()["content-range"],
            format!("bytes {from}-{to}/{len}").as_str(),
            "{range}"
        );
        assert_eq!(response.bytes().await.unwrap(), bytes[from..=to], "{range}");
    }
}

#[tokio::test]
async fn several_ranges_come_as_one_multipart_body() {
    let (_app, url, bytes, _) = medium().await;
    let len = bytes.len();
    let response = get(&url, &[("range", "bytes=5000-5009,0-3")]).await;
    assert_eq!(response.status(), 206);
    let content_type = response.headers()["content-type"]
        .to_str()
        .unwrap()
        .to_string();
    let boundary = content_type
        .strip_prefix("multipart/byteranges; boundary=")
        .unwrap_or_else(|| panic!("{content_type}"))
        .to_string();
    let declared: usize = response.headers()["content-length"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    let body = response.bytes().await.unwrap();
    assert_eq!(body.len(), declared);

    let delimiter = format!("\r\n--{boundary}");
    let mut parts = Vec::new();
    let mut rest = &body[..];
    while let Some(at) = find(rest, delimiter.as_bytes()) {
        rest = &rest[at + delimiter.len()..];
        if rest.starts_with(b"--") {
            break;
        }
        let head_end = find(rest, b"\r\n\r\n").unwrap();
        let head = String::from_utf8(rest[..head_end].to_vec()).unwrap();
        let data_start = head_end + 4;
        let data_end = data_start + find(&rest[data_start..], delimiter.as_bytes()).unwrap();
        parts.push((head, rest[data_start..data_end].to_vec()));
        rest = &rest[data_end..];
    }
    assert_eq!(parts.len(), 2, "{parts:?}");
    assert!(
        parts[0].0.contains("Content-Type: image/png"),
        "{}",
        parts[0].0
    );
    assert!(parts[0]
        .0
        .contains(&format!("Content-Range: bytes 0-3/{len}")));
    assert_eq!(parts[0].1, bytes[0..=3]);
    assert!(parts[1]
        .0
        .contains(&format!("Content-Range: bytes 5000-5009/{len}")));
    assert_eq!(parts[1].1, bytes[5000..=5009]);

    let head = reqwest::Client::new()
        .head(&url)
        .header("range", "bytes=5000-5009,0-3")
        .send()
        .await
        .unwrap();
    assert_eq!(head.status(), 206);
    assert_eq!(
        head.headers()["content-length"],
        declared.to_string().as_str()
    );
}

#[tokio::test]
async fn a_range_past_the_end_says_how_long_the_medium_is() {
    let (_app, url, bytes, _) = medium().await;
    for range in [
        "bytes=10029-",
        "bytes=20000-30000",
        "bytes=-0",
        "bytes=20000-,30000-",
    ] {
        let response = get(&url, &[("range", range)]).await;
        assert_eq!(response.status(), 416, "{range}");
        assert_eq!(
            response.headers()["content-range"],
            format!("bytes */{}", bytes.len()).as_str(),
            "{range}"
        );
    }
}

#[tokio::test]
async fn ranges_the_spec_says_to_ignore_get_the_whole_medium() {
    let (_app, url, bytes, etag) = medium().await;
    for headers in [
        vec![("range", "items=0-9")],
        vec![("range", "bytes=5-2")],
        vec![("range", "bytes=zero-nine")],
        vec![("range", "bytes=0-9"), ("if-range", "\"another-version\"")],
    ] {
        let response = get(&url, &headers).await;
        assert_eq!(response.status(), 200, "{headers:?}");
        assert_eq!(response.bytes().await.unwrap(), bytes, "{headers:?}");
    }
    let still_current = get(&url, &[("range", "bytes=0-9"), ("if-range", &etag)]).await;
    assert_eq!(still_current.status(), 206);
    assert_eq!(still_current.bytes().await.unwrap(), bytes[..10]);
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack
        .windows(needle.len())
        .position(|window| window == needle)
}
