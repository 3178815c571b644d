//! Benchmarks of a boardcast node against baselines measured in the same run on the same
//! machine (see BENCHMARKS.md): token-authenticated `GET /api/me` vs a bare axum handler, and
//! the idle memory of a freshly started node. The load generator shares the cores with the
//! servers, so absolute figures understate a dedicated server; the ratios are the point.
//!
//! `cargo bench -p boardcast --bench api [-- NAME...]` runs all or the named benchmarks
//! (`grant`, `grant-ldaps`, `me`, `rss`); `BENCH_SECONDS` sets the length of each run.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod http1;
mod load;
#[allow(dead_code)]
#[path = "../../tests/api/postgres.rs"]
mod postgres;
#[allow(dead_code)]
#[path = "../../tests/api/slapd.rs"]
mod slapd;
#[allow(dead_code)]
#[path = "../../tests/api/test_ca.rs"]
mod test_ca;

use std::{net::SocketAddr, process::Stdio, sync::Arc, time::Duration};

use axum::{routing::get, Json, Router};
use boardcast::{
    auth::password::hash_password,
    config::{DatabaseUrl, Secret, Settings},
    startup::Application,
    store::NewUser,
};

const CONCURRENCY: usize = 32;

fn seconds() -> Duration {
    let secs = std::env::var("BENCH_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(5);
    Duration::from_secs(secs)
}

#[tokio::main]
async fn main() {
    let cores = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1);
    println!("boardcast benchmarks on {cores} cores (load generator on the same cores)\n");
    let named: Vec<String> = std::env::args()
        .skip(1)
        .filter(|arg| !arg.starts_with('-'))
        .collect();
    let wanted = |name: &str| named.is_empty() || named.iter().any(|n| n == name);
    if wanted("grant") {
        password_grant_vs_raw_ldap(false).await;
    }
    if wanted("grant-ldaps") {
        password_grant_vs_raw_ldap(true).await;
    }
    if wanted("me") {
        me_vs_bare_axum().await;
    }
    if wanted("rss") {
        idle_rss().await;
    }
}

/// Rounds of each measurement and its baseline, interleaved so that a machine slowing down
/// or speeding up during the run (shared hosts do) affects the baseline and boardcast alike.
const ROUNDS: usize = 3;

/// Password grants through a node on the LDAP directory vs what the same slapd does when a
/// client performs the two essential LDAP steps of a login itself (search as the service
/// account, bind as the user), each worker on its own two connections. With `ldaps`, both
/// speak `ldaps://` to a slapd with a test CA's certificate, which both trust.
async fn password_grant_vs_raw_ldap(ldaps: bool) {
    let ca = test_ca::TestCa::new();
    let tls_slapd = slapd::SlapdTls {
        ca: &ca,
        require_tls: false,
    };
    let (slapd, protocol) = if ldaps {
        (slapd::Slapd::start_tls(tls_slapd).await, "ldaps")
    } else {
        (slapd::Slapd::start().await, "LDAP")
    };
    let mut ldap_settings = slapd.settings();
    if ldaps {
        ldap_settings.urls = vec![slapd.ldaps_url()];
        ldap_settings.tls_ca_file = Some(ca.ca_file());
    }
    let tls = boardcast::tls::client_config(&[boardcast::tls::ExtraCa {
        key: "ldap.tls_ca_file",
        path: &ca.ca_file(),
    }])
    .unwrap();
    // Workers keep their connections across requests, as a pool would.
    let raw_connections =
        Arc::new(worker_connections(&ldap_settings, Arc::new(tls), CONCURRENCY).await);

    let dir = tempfile::tempdir().unwrap();
    let on_sqlite = ldap_node(node_settings(dir.path()), &ldap_settings).await;
    let mut settings = node_settings(dir.path());
    settings.database_url = Some(DatabaseUrl::new(postgres::fresh_durable_database().await));
    let on_postgres = ldap_node(settings, &ldap_settings).await;

    let (mut raw, mut sqlite, mut postgres) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..ROUNDS {
        raw.push(raw_ldap_load(&raw_connections, &ldap_settings).await);
        sqlite.push(grant_load(on_sqlite).await);
        postgres.push(grant_load(on_postgres).await);
    }
    let raw = load::LoadReport::merge(raw);
    println!(
        "Password grant ({protocol}), {CONCURRENCY} concurrent clients, {ROUNDS} interleaved rounds of {} s",
        seconds().as_secs()
    );
    println!("  raw slapd search+bind    {}", raw.summary());
    for (engine, grants) in [("SQLite", sqlite), ("PostgreSQL", postgres)] {
        let grants = load::LoadReport::merge(grants);
        println!("  boardcast on {engine:<10}  {}", grants.summary());
        println!(
            "  ratio boardcast / raw    {:.2}x  (goal >= 0.5x)",
            grants.per_second() / raw.per_second()
        );
    }
    println!();
}

/// Starts a node on the LDAP directory; failed-login limits are lifted so the load is never
/// throttled: every login holds a slot of both budgets while the directory is asked, and the
/// load runs more logins of one teacher at once than a username's budget.
async fn ldap_node(mut settings: Settings, ldap: &boardcast::config::LdapSettings) -> SocketAddr {
    settings.ldap = Some(ldap.clone());
    settings.auth.max_failures_per_address = u32::MAX;
    settings.auth.max_failures_per_user = u32::MAX;
    let app = Application::build(settings).await.unwrap();
    let address = app.local_addr().unwrap();
    tokio::spawn(app.run(std::future::pending()));
    address
}

/// Password grants of one LDAP teacher, each client on its own kept-alive connection.
async fn grant_load(address: SocketAddr) -> load::LoadReport {
    let request = Arc::new(http1::post_form(
        "/oauth/token",
        &[
            ("grant_type", "password"),
            ("username", "jdevries"),
            ("password", "jan-pw"),
            ("client_id", "web"),
        ],
    ));
    let mut connections = Vec::new();
    for _ in 0..CONCURRENCY {
        let connection = http1::Connection::open(address).await.unwrap();
        connections.push(tokio::sync::Mutex::new(connection));
    }
    let connections = Arc::new(connections);
    load::run(CONCURRENCY, seconds(), move |n| {
        let connections = connections.clone();
        let request = request.clone();
        async move {
            let mut connection = connections[n / 1_000_000].lock().await;
            matches!(connection.send(&request).await, Ok(200))
        }
    })
    .await
}

async fn raw_ldap_load(
    connections: &Arc<Vec<(ldap3::Ldap, ldap3::Ldap)>>,
    settings: &boardcast::config::LdapSettings,
) -> load::LoadReport {
    let connections = Arc::clone(connections);
    let settings = settings.clone();
    load::run(CONCURRENCY, seconds(), move |n| {
        let connections = connections.clone();
        let settings = settings.clone();
        async move {
            let (search, bind) = &connections[n / 1_000_000];
            let (mut search, mut bind) = (search.clone(), bind.clone());
            let filter = settings.user_filter.replace("{username}", "jdevries");
            let Ok(found) = search
                .search(
                    &settings.user_base,
                    ldap3::Scope::Subtree,
                    &filter,
                    vec!["cn"],
                )
                .await
                .and_then(ldap3::SearchResult::success)
            else {
                return false;
            };
            let Some(entry) = found.0.into_iter().next() else {
                return false;
            };
            let dn = ldap3::SearchEntry::construct(entry).dn;
            matches!(bind.simple_bind(&dn, "jan-pw").await, Ok(r) if r.rc == 0)
        }
    })
    .await
}

/// For each worker: a search connection bound as the service account and a bind connection,
/// trusting `tls` for an `ldaps://` URL.
async fn worker_connections(
    settings: &boardcast::config::LdapSettings,
    tls: Arc<rustls::ClientConfig>,
    n: usize,
) -> Vec<(ldap3::Ldap, ldap3::Ldap)> {
    let connect = || {
        let with_tls = ldap3::LdapConnSettings::new().set_config(tls.clone());
        ldap3::LdapConnAsync::with_settings(with_tls, &settings.urls[0])
    };
    let mut connections = Vec::new();
    for _ in 0..n {
        let (driver, mut search) = connect().await.unwrap();
        ldap3::drive!(driver);
        search
            .simple_bind(&settings.bind_dn, settings.bind_password.expose())
            .await
            .unwrap()
            .success()
            .unwrap();
        let (driver, bind) = connect().await.unwrap();
        ldap3::drive!(driver);
        connections.push((search, bind));
    }
    connections
}

fn node_settings(dir: &std::path::Path) -> Settings {
    let mut settings = Settings::from_sources(None, Vec::new()).unwrap();
    settings.listen = "127.0.0.1:0".parse().unwrap();
    settings.data_dir = dir.to_path_buf();
    settings.database_url = Some(DatabaseUrl::new(format!(
        "sqlite://{}?mode=rwc",
        dir.join("bench.db").display()
    )));
    settings.web.static_dir = None;
    settings.cluster_secret = Secret::new("bench cluster secret, long enough to be accepted");
    settings
}

/// Authenticated `GET /api/me` (cached token check + JSON) vs a handler returning the same
/// JSON with no authentication at all.
async fn me_vs_bare_axum() {
    let dir = tempfile::tempdir().unwrap();
    let app = Application::build(node_settings(dir.path())).await.unwrap();
    let address = app.local_addr().unwrap();
    let store = app.store().clone();
    tokio::spawn(app.run(std::future::pending()));
    let user = NewUser {
        username: "bench".into(),
        display_name: "Bench Teacher".into(),
        password_hash: hash_password("pw".into()).await.unwrap(),
        roles: "teacher".into(),
    };
    store.create_user(user, 0).await.unwrap();
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(CONCURRENCY)
        .build()
        .unwrap();
    let tokens: serde_json::Value = client
        .post(format!("http://{address}/oauth/token"))
        .form(&[
            ("grant_type", "password"),
            ("username", "bench"),
            ("password", "pw"),
            ("client_id", "web"),
        ])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = tokens["access_token"].as_str().unwrap().to_string();

    let bare = bare_axum().await;
    let (mut bare_reports, mut me_reports) = (Vec::new(), Vec::new());
    for _ in 0..ROUNDS {
        bare_reports.push(get_load(&client, format!("http://{bare}/api/me"), None).await);
        let url = format!("http://{address}/api/me");
        me_reports.push(get_load(&client, url, Some(token.clone())).await);
    }
    let (bare_report, me_report) = (
        load::LoadReport::merge(bare_reports),
        load::LoadReport::merge(me_reports),
    );
    println!(
        "GET /api/me, {CONCURRENCY} connections, {ROUNDS} interleaved rounds of {} s",
        seconds().as_secs()
    );
    println!("  bare axum handler       {}", bare_report.summary());
    println!("  boardcast (Bearer)      {}", me_report.summary());
    println!(
        "  ratio boardcast / bare  {:.2}x  (goal >= 0.6x)\n",
        me_report.per_second() / bare_report.per_second()
    );
}

async fn get_load(
    client: &reqwest::Client,
    url: String,
    token: Option<String>,
) -> load::LoadReport {
    let client = client.clone();
    load::run(CONCURRENCY, seconds(), move |_| {
        let client = client.clone();
        let url = url.clone();
        let token = token.clone();
        async move {
            let mut request = client.get(&url);
            if let Some(token) = &token {
                request = request.bearer_auth(token);
            }
            match request.send().await {
                Ok(response) => response.status() == 200 && response.bytes().await.is_ok(),
                Err(_) => false,
            }
        }
    })
    .await
}

/// The baseline: axum on the same runtime, answering what `/api/me` answers.
async fn bare_axum() -> SocketAddr {
    let router = Router::new().route(
        "/api/me",
        get(|| async {
            Json(serde_json::json!({
                "id": "5f0c7a9e-2b1d-4c4e-9d4f-6a1b2c3d4e5f",
                "username": "bench",
                "display_name": "Bench Teacher",
                "roles": ["teacher"],
            }))
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, router).await });
    address
}

/// Starts the real binary on the embedded default and reads its resident memory once it is
/// ready and has settled.
async fn idle_rss() {
    let dir = tempfile::tempdir().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_boardcast"))
        .arg("serve")
        .current_dir(dir.path())
        .env("BOARDCAST_LISTEN", format!("127.0.0.1:{port}"))
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let client = reqwest::Client::new();
    let ready = format!("http://127.0.0.1:{port}/readyz");
    for _ in 0..200 {
        if client
            .get(&ready)
            .send()
            .await
            .is_ok_and(|r| r.status() == 200)
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    let pid = child.id().unwrap();
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let rss_kib: u64 = status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap();
    println!(
        "idle RSS of `boardcast serve` (SQLite, builtin directory): {:.1} MiB  (goal <= 30 MiB)",
        rss_kib as f64 / 1024.0
    );
    child.kill().await.unwrap();
}
