//! Real boardcast nodes for tests: each on a random loopback port, over a fresh SQLite file or
//! a fresh database on the private PostgreSQL, stopped when the `TestApp` is dropped.

use std::net::SocketAddr;

use boardcast::{
    auth::password::hash_password,
    clock::Clock,
    config::{DatabaseUrl, Secret, Settings},
    startup::Application,
    store::{NewUser, Store},
};
use tempfile::TempDir;

pub use crate::node_process::CLUSTER_SECRET;
use tokio::{sync::oneshot, task::JoinHandle};

/// Which database engine a test runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Engine {
    Sqlite,
    Postgres,
}

/// A database that one or more nodes can share.
pub struct TestDatabase {
    pub url: String,
    /// Holds the SQLite file.
    _dir: TempDir,
}

impl TestDatabase {
    pub async fn new(engine: Engine) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let url = match engine {
            Engine::Sqlite => format!(
                "sqlite://{}?mode=rwc",
                dir.path().join("boardcast.db").display()
            ),
            Engine::Postgres => crate::postgres::fresh_database().await,
        };
        Self { url, _dir: dir }
    }

    /// A store on this database, migrated.
    pub async fn store(&self) -> Store {
        let store = Store::connect(&DatabaseUrl::new(&self.url)).await.unwrap();
        store.migrate().await.unwrap();
        store
    }
}

/// Creates a teacher who logs in nowhere (store tests need only the id); the teacher's id.
pub async fn create_teacher(store: &Store, username: &str) -> String {
    let user = NewUser {
        username: username.into(),
        display_name: format!("{username} display"),
        password_hash: "unused".into(),
        roles: "teacher".into(),
    };
    store.create_user(user, 0).await.unwrap().id
}

/// For tests that send commands from one socket as fast as the node takes them, to prove
/// something other than the per-socket command budget.
pub fn unthrottled_commands(settings: &mut Settings) {
    settings.limits.commands_per_second = UNTHROTTLED_COMMANDS;
}

/// A command budget no test reaches.
pub const UNTHROTTLED_COMMANDS: std::num::NonZeroU32 = std::num::NonZeroU32::MAX;

/// One running node.
pub struct TestApp {
    pub address: SocketAddr,
    /// `https` when the node terminates TLS itself (`[web] tls_cert`), else `http`.
    scheme: &'static str,
    /// Where `/metrics` is served when the test set `metrics_listen`.
    pub metrics_address: Option<SocketAddr>,
    pub client: reqwest::Client,
    pub store: Store,
    /// The node's clock: a test moves it forward to reach an expiry without waiting.
    pub clock: Clock,
    data_dir: Option<TempDir>,
    _database: Option<TestDatabase>,
    shutdown: Option<oneshot::Sender<()>>,
    server: Option<JoinHandle<anyhow::Result<()>>>,
}

impl TestApp {
    /// A node on its own fresh database.
    pub async fn spawn(engine: Engine) -> Self {
        Self::spawn_with(engine, |_| {}).await
    }

    pub async fn spawn_with(engine: Engine, customize: impl FnOnce(&mut Settings)) -> Self {
        let database = TestDatabase::new(engine).await;
        let mut app = Self::spawn_on(&database.url, customize).await;
        app._database = Some(database);
        app
    }

    /// A node on a database shared with other nodes.
    pub async fn spawn_on(database_url: &str, customize: impl FnOnce(&mut Settings)) -> Self {
        Self::spawn_in(tempfile::tempdir().unwrap(), database_url, customize).await
    }

    /// A node keeping its blobs (and SQLite file) in `data_dir`: a restart of a stopped node.
    pub async fn spawn_in(
        data_dir: TempDir,
        database_url: &str,
        customize: impl FnOnce(&mut Settings),
    ) -> Self {
        let mut settings = Settings::from_sources(None, Vec::new()).unwrap();
        settings.listen = "127.0.0.1:0".parse().unwrap();
        settings.data_dir = data_dir.path().to_path_buf();
        settings.database_url = Some(DatabaseUrl::new(database_url));
        settings.web.static_dir = None;
        settings.cluster_secret = Secret::new(CLUSTER_SECRET);
        // Named after its data directory: unique, and the same when the node restarts.
        settings.node_id = data_dir
            .path()
            .file_name()
            .unwrap()
            .to_string_lossy()
            .into();
        customize(&mut settings);
        let settings_tls = settings.web.tls_cert.is_some();
        let trusted_ca = settings.tls_ca_file.clone();
        let clock = Clock::system();
        let app = Application::build_with_clock(settings, clock.clone())
            .await
            .unwrap();
        let address = app.local_addr().unwrap();
        let metrics_address = app.metrics_addr().map(Result::unwrap);
        let store = app.store().clone();
        let (shutdown, signal) = oneshot::channel::<()>();
        let server = tokio::spawn(app.run(async {
            let _ = signal.await;
        }));
        // A node serving https is reached trusting the CA it trusts itself.
        let scheme = if settings_tls { "https" } else { "http" };
        let mut client = reqwest::Client::builder().cookie_store(true);
        if let Some(ca_file) = trusted_ca {
            let pem = std::fs::read(ca_file).unwrap();
            client = client.add_root_certificate(reqwest::Certificate::from_pem(&pem).unwrap());
        }
        let client = client.build().unwrap();
        Self {
            address,
            scheme,
            metrics_address,
            client,
            store,
            clock,
            data_dir: Some(data_dir),
            _database: None,
            shutdown: Some(shutdown),
            server: Some(server),
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}://{}{path}", self.scheme, self.address)
    }

    /// Creates a builtin account.
    pub async fn add_user(&self, username: &str, password: &str, roles: &str) {
        let user = NewUser {
            username: username.into(),
            display_name: format!("{username} display"),
            password_hash: hash_password(password.into()).await.unwrap(),
            roles: roles.into(),
        };
        self.store
            .create_user(user, self.clock.now_millis())
            .await
            .unwrap();
    }

    /// `POST /oauth/token` with the password grant for the `web` client.
    pub async fn password_grant(&self, username: &str, password: &str) -> reqwest::Response {
        self.token_request(&[
            ("grant_type", "password"),
            ("username", username),
            ("password", password),
            ("client_id", "web"),
        ])
        .await
    }

    pub async fn token_request(&self, form: &[(&str, &str)]) -> reqwest::Response {
        self.client
            .post(self.url("/oauth/token"))
            .form(form)
            .send()
            .await
            .unwrap()
    }

    /// The refresh grant for the `web` client.
    pub async fn refresh(&self, refresh_token: &str) -> reqwest::Response {
        self.token_request(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh_token),
            ("client_id", "web"),
        ])
        .await
    }

    /// `POST /oauth/revoke` (RFC 7009) as the `web` client.
    pub async fn revoke(&self, token: &str) -> reqwest::Response {
        self.client
            .post(self.url("/oauth/revoke"))
            .form(&[("token", token), ("client_id", "web")])
            .send()
            .await
            .unwrap()
    }

    /// Logs in and returns the token response body.
    pub async fn login(&self, username: &str, password: &str) -> serde_json::Value {
        let response = self.password_grant(username, password).await;
        assert_eq!(response.status(), 200, "login of {username} failed");
        response.json().await.unwrap()
    }

    /// `GET /api/me` with a bearer token.
    pub async fn me(&self, access_token: &str) -> reqwest::Response {
        self.client
            .get(self.url("/api/me"))
            .bearer_auth(access_token)
            .send()
            .await
            .unwrap()
    }

    /// The status `GET /readyz` answers.
    pub async fn ready(&self) -> u16 {
        let response = self.client.get(self.url("/readyz")).send().await.unwrap();
        response.status().as_u16()
    }

    /// Where the node keeps its blobs.
    pub fn data_dir(&self) -> &std::path::Path {
        self.data_dir.as_ref().unwrap().path()
    }

    /// Stops the node gracefully and waits for it; its data directory is handed back for a
    /// restart (dropping it deletes it).
    pub async fn stop(mut self) -> TempDir {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
        if let Some(server) = self.server.take() {
            server.await.unwrap().unwrap();
        }
        self.data_dir.take().unwrap()
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(server) = self.server.take() {
            server.abort();
        }
    }
}

/// Runs one async test body on both engines: `both_engines!(name, |engine| async move {..})`.
#[macro_export]
macro_rules! both_engines {
    ($name:ident, $body:expr) => {
        mod $name {
            use super::*;

            #[tokio::test]
            async fn sqlite() {
                ($body)($crate::helpers::Engine::Sqlite).await
            }

            #[tokio::test]
            async fn postgres() {
                ($body)($crate::helpers::Engine::Postgres).await
            }
        }
    };
}
