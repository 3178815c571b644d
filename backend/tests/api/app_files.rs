//! The browser app served by the node: its routes answer `index.html`, hashed assets are
//! cached for a year and sent compressed, `config.json` lists the live nodes, and the
//! cluster's nodes trust each other's pages.

use serde_json::Value;

use crate::helpers::{Engine, TestApp, TestDatabase};

/// The first script of the app's `index.html`.
fn entry_script(index: &str) -> String {
    let at = index.find("/assets/").expect("index.html loads no asset");
    let end = index[at..].find('"').unwrap();
    index[at..at + end].to_string()
}

#[tokio::test]
async fn the_apps_routes_answer_its_index_and_assets_are_immutable() {
    let app = TestApp::spawn(Engine::Sqlite).await;
    let client = reqwest::Client::builder().no_gzip().build().unwrap();
    let mut index = String::new();
    for route in ["/", "/board", "/lessons", "/board?code=123456"] {
        let response = client.get(app.url(route)).send().await.unwrap();
        assert_eq!(response.status(), 200, "{route}");
        assert_eq!(
            response.headers()["content-type"],
            "text/html; charset=utf-8"
        );
        assert_eq!(response.headers()["cache-control"], "no-cache");
        let policy = response.headers()["content-security-policy"]
            .to_str()
            .unwrap();
        assert!(policy.contains("script-src 'self'"), "{policy}");
        assert!(policy.contains("frame-ancestors 'none'"), "{policy}");
        index = response.text().await.unwrap();
        assert!(index.contains("<div id=\"app\">"), "{route}: {index}");
    }

    let script = entry_script(&index);
    let plain = client.get(app.url(&script)).send().await.unwrap();
    assert_eq!(plain.status(), 200);
    assert_eq!(
        plain.headers()["cache-control"],
        "public, max-age=31536000, immutable"
    );
    assert_eq!(
        plain.headers()["content-type"],
        "text/javascript; charset=utf-8"
    );
    assert!(plain.headers().get("content-encoding").is_none());
    let etag = plain.headers()["etag"].clone();
    let plain = plain.bytes().await.unwrap();

    for (accept, encoding) in [("gzip, deflate, br", "br"), ("gzip", "gzip")] {
        let compressed = client
            .get(app.url(&script))
            .header("accept-encoding", accept)
            .send()
            .await
            .unwrap();
        assert_eq!(compressed.headers()["content-encoding"], encoding);
        assert_eq!(compressed.headers()["vary"], "accept-encoding");
        assert!(compressed.bytes().await.unwrap().len() < plain.len());
    }

    let revalidated = client
        .get(app.url(&script))
        .header("if-none-match", etag)
        .send()
        .await
        .unwrap();
    assert_eq!(revalidated.status(), 304);

    for missing in ["/nothing.js", "/assets/nothing-123.js", "/../Cargo.toml"] {
        assert_eq!(
            client.get(app.url(missing)).send().await.unwrap().status(),
            404,
            "{missing}"
        );
    }
    let api = client.get(app.url("/api/nothing")).send().await.unwrap();
    assert_eq!(api.status(), 404);
    assert_eq!(api.json::<Value>().await.unwrap()["error"], "not_found");
    let posted = client.post(app.url("/board")).send().await.unwrap();
    assert_eq!(posted.status(), 405);
}

#[tokio::test]
async fn a_static_dir_replaces_the_built_in_app_and_may_bring_its_own_config() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("index.html"), "<p>school build</p>").unwrap();
    std::fs::write(
        dir.path().join("config.json"),
        r#"{"api":["https://api1.school.example"]}"#,
    )
    .unwrap();
    let static_dir = dir.path().to_path_buf();
    let app = TestApp::spawn_with(Engine::Sqlite, |settings| {
        settings.web.static_dir = Some(static_dir);
    })
    .await;
    let board = reqwest::get(app.url("/board")).await.unwrap();
    assert_eq!(board.text().await.unwrap(), "<p>school build</p>");
    let config = reqwest::get(app.url("/config.json")).await.unwrap();
    assert_eq!(config.headers()["cache-control"], "no-cache");
    assert_eq!(
        config.json::<Value>().await.unwrap()["api"][0],
        "https://api1.school.example"
    );
}

#[tokio::test]
async fn config_json_lists_the_live_nodes_and_they_trust_each_others_pages() {
    let database = TestDatabase::new(Engine::Postgres).await;
    let a = TestApp::spawn_on(&database.url, |_| {}).await;
    let b = TestApp::spawn_on(&database.url, |_| {}).await;
    let (a_url, b_url) = (a.url(""), b.url(""));

    let mut listed = Value::Null;
    for _ in 0..100 {
        let config = reqwest::get(a.url("/config.json")).await.unwrap();
        assert_eq!(config.headers()["cache-control"], "no-cache");
        listed = config.json().await.unwrap();
        if listed["api"].as_array().unwrap().len() == 2 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(listed["api"][0], a_url.as_str(), "{listed}");
    assert_eq!(listed["api"][1], b_url.as_str(), "{listed}");
    assert_eq!(listed["self"], a_url.as_str());

    // The app served by A fails over to B: B lets A's page call it with credentials.
    let preflight = |origin: String| {
        let request = reqwest::Client::new()
            .request(reqwest::Method::OPTIONS, b.url("/api/lessons"))
            .header("origin", origin)
            .header("access-control-request-method", "POST");
        async move { request.send().await.unwrap() }
    };
    let mut allowed = preflight(a_url.clone()).await;
    for _ in 0..100 {
        if allowed
            .headers()
            .contains_key("access-control-allow-origin")
        {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        allowed = preflight(a_url.clone()).await;
    }
    assert_eq!(
        allowed.headers()["access-control-allow-origin"],
        a_url.as_str()
    );
    assert_eq!(
        allowed.headers()["access-control-allow-credentials"],
        "true"
    );
    let stranger = preflight("https://evil.example".into()).await;
    assert!(stranger
        .headers()
        .get("access-control-allow-origin")
        .is_none());
}
