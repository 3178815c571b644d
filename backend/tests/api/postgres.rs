//! A private PostgreSQL server for the test binary: started once from Debian's server
//! binaries in a temp dir on a free loopback port, one fresh database per test.
//!
//! The server runs under a watchdog shell that stops it and removes its files when the test
//! process exits (its stdin pipe closes), so no server outlives the tests.

use std::{
    os::unix::fs::PermissionsExt,
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    sync::{Mutex, OnceLock},
    time::{Duration, Instant},
};

/// A running server; it stops when dropped (its watchdog's stdin closes).
pub struct Server {
    port: u16,
    data: PathBuf,
    /// The shared server is never dropped: its open stdin pipe keeps the server alive until
    /// the process exits.
    _watchdog: Mutex<Child>,
}

static SERVER: OnceLock<Server> = OnceLock::new();

/// The newest installed PostgreSQL's programs (`initdb`, `pg_dump`, ...).
pub fn bin_dir() -> PathBuf {
    let root = PathBuf::from("/usr/lib/postgresql");
    let mut versions: Vec<PathBuf> = std::fs::read_dir(&root)
        .map(|dir| {
            dir.filter_map(|e| e.ok())
                .map(|e| e.path().join("bin"))
                .collect()
        })
        .unwrap_or_default();
    versions.sort();
    versions
        .pop()
        .filter(|bin| bin.join("initdb").exists())
        .unwrap_or_else(|| {
            panic!(
                "PostgreSQL server binaries not found under {root:?}: apt-get install postgresql"
            )
        })
}

/// Commands run as the `postgres` user when the tests run as root (PostgreSQL refuses root).
fn as_server_user(program: PathBuf) -> Command {
    if is_root() {
        let mut command = Command::new("runuser");
        command.args(["-u", "postgres", "--"]).arg(program);
        command
    } else {
        Command::new(program)
    }
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|out| String::from_utf8_lossy(&out.stdout).trim() == "0")
        .unwrap_or(false)
}

/// A server of its own for one test that accepts TLS connections only (`hostssl` in
/// `pg_hba.conf`), presenting the certificate `cert` with its private key `key` (PEM).
#[allow(dead_code)] // not used by the benchmarks
pub fn start_tls(cert: &Path, key: &Path) -> Server {
    start(false, Some((cert, key)), None)
}

/// A server of its own for one test, with a streaming standby of it: the pair a failover
/// engine manages. Replication is made synchronous by [`Server::require_standby_ack`].
#[allow(dead_code)] // not used by the benchmarks
pub fn start_with_standby() -> (Server, Server) {
    let primary = start(false, None, None);
    let standby = start(false, None, Some(primary.port));
    (primary, standby)
}

#[allow(dead_code)] // not used by the benchmarks
impl Server {
    pub fn port(&self) -> u16 {
        self.port
    }

    /// `kill -9` of the postmaster: the server's host is lost.
    pub fn kill(&self) {
        let pid = std::fs::read_to_string(self.data.join("postmaster.pid")).unwrap();
        let pid = pid.lines().next().unwrap();
        let status = Command::new("kill").args(["-9", pid]).status().unwrap();
        assert!(status.success(), "kill -9 {pid} failed");
    }

    /// Commits wait until a standby has the commit: what pg_auto_failover sets up.
    pub async fn require_standby_ack(&self) {
        self.admin(&[
            "alter system set synchronous_standby_names = '*'",
            "select pg_reload_conf()",
        ])
        .await;
    }

    /// Promotes a standby to primary, waiting until it accepts writes.
    pub async fn promote(&self) {
        self.admin(&["select pg_promote(true, 30)"]).await;
    }

    async fn admin(&self, statements: &[&str]) {
        use sqlx::{Connection, Executor};
        let url = format!("postgres://postgres@127.0.0.1:{}/postgres", self.port);
        let mut connection = sqlx::postgres::PgConnection::connect(&url).await.unwrap();
        for statement in statements {
            connection.execute(*statement).await.unwrap();
        }
    }
}

/// `durable` keeps fsync on (benchmarks); tests run with fsync off, for speed. With
/// `standby_of`, the server is a streaming standby of the server on that port.
fn start(durable: bool, tls: Option<(&Path, &Path)>, standby_of: Option<u16>) -> Server {
    let bin = bin_dir();
    let dir = std::env::temp_dir().join(format!("boardcast-pg-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    let mut ssl_options = String::new();
    if let Some((own_cert, own_key)) = tls {
        // PostgreSQL refuses a key others may read; copies get the server user as owner.
        let (cert, key) = (dir.join("server.pem"), dir.join("server.key"));
        std::fs::copy(own_cert, &cert).unwrap();
        std::fs::copy(own_key, &key).unwrap();
        std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600)).unwrap();
        ssl_options = format!(
            "-c ssl=on -c ssl_cert_file={} -c ssl_key_file={}",
            cert.display(),
            key.display()
        );
    }
    if is_root() {
        let status = Command::new("chown")
            .args(["-R", "postgres:postgres"])
            .arg(&dir)
            .status()
            .unwrap();
        assert!(status.success(), "chown of the PostgreSQL test dir failed");
    }
    let data = dir.join("data");
    let out = match standby_of {
        Some(primary) => as_server_user(bin.join("pg_basebackup"))
            .args(["-h", "127.0.0.1", "-U", "postgres", "-R", "--no-sync"])
            .args(["-p", &primary.to_string(), "-D"])
            .arg(&data)
            .output(),
        None => as_server_user(bin.join("initdb"))
            .args(["-A", "trust", "-U", "postgres", "--no-sync", "-E", "UTF8"])
            .arg("-D")
            .arg(&data)
            .output(),
    }
    .unwrap();
    assert!(
        out.status.success(),
        "creating the data directory failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    if tls.is_some() {
        std::fs::write(
            data.join("pg_hba.conf"),
            "local all all trust\nhostssl all all 127.0.0.1/32 trust\n",
        )
        .unwrap();
    }
    let port = free_port();
    let postgres = bin.join("postgres");
    let script = format!(
        "{} -D {} -h 127.0.0.1 -p {port} -k {} {} -c max_connections=300 -c shared_buffers=32MB {ssl_options} >{}/log 2>&1 & pid=$!; read _; kill -QUIT $pid 2>/dev/null; wait $pid; rm -rf {}",
        postgres.display(),
        data.display(),
        dir.display(),
        if durable { "" } else { "-F" },
        dir.display(),
        dir.display(),
    );
    let mut watchdog = if is_root() {
        let mut command = Command::new("runuser");
        command.args(["-u", "postgres", "--", "sh", "-c", &script]);
        command
    } else {
        let mut command = Command::new("sh");
        command.args(["-c", &script]);
        command
    };
    let watchdog = watchdog.stdin(Stdio::piped()).spawn().unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            Instant::now() < deadline,
            "PostgreSQL did not start; see {}/log",
            dir.display()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    Server {
        port,
        data,
        _watchdog: Mutex::new(watchdog),
    }
}

/// A free loopback port: bind port 0 and let go of it.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The URL of a new, empty database on the shared test server.
pub async fn fresh_database() -> String {
    database_on(SERVER.get_or_init(|| start(false, None, None))).await
}

/// As [`fresh_database`], on a server that fsyncs like a production one, for benchmarks. The
/// first call in a process decides which kind of server it gets.
#[allow(dead_code)] // used by the benchmarks only
pub async fn fresh_durable_database() -> String {
    database_on(SERVER.get_or_init(|| start(true, None, None))).await
}

/// The URL (without TLS parameters) of a new, empty database on `server`.
pub async fn database_on(server: &Server) -> String {
    let admin_url = format!("postgres://postgres@127.0.0.1:{}/postgres", server.port);
    let name = format!("test_{}", uuid::Uuid::new_v4().simple());
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        match <sqlx::postgres::PgConnection as sqlx::Connection>::connect(&admin_url).await {
            Ok(mut conn) => {
                sqlx::Executor::execute(&mut conn, format!("create database {name}").as_str())
                    .await
                    .unwrap();
                break;
            }
            Err(error) => {
                assert!(
                    Instant::now() < deadline,
                    "cannot reach the test PostgreSQL: {error}"
                );
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
    format!("postgres://postgres@127.0.0.1:{}/{name}", server.port)
}
