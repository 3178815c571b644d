//! A boardcast node as its own process (the real binary), for tests that `kill -9` it or
//! stop it with SIGTERM as an operator would.

use std::{
    net::SocketAddr,
    process::{ExitStatus, Stdio},
    time::Duration,
};

use tempfile::TempDir;
use tokio::{
    io::{AsyncBufReadExt, BufReader},
    process::{Child, Command},
};

/// The secret every test node shares, as the nodes of one cluster do.
pub const CLUSTER_SECRET: &str = "test cluster secret, long enough to be accepted";

pub struct NodeProcess {
    pub address: SocketAddr,
    child: Child,
    data_dir: TempDir,
    /// What the node was started with, so it can be started again the same way.
    node_id: String,
    environment: Vec<(String, String)>,
}

impl NodeProcess {
    /// Starts `boardcast serve` on a random loopback port against `database_url`, with
    /// `settings` as more `BOARDCAST_*` variables, and waits until it serves.
    pub async fn start_with(node_id: &str, database_url: &str, settings: &[(&str, &str)]) -> Self {
        let data_dir = tempfile::tempdir().unwrap();
        let mut environment: Vec<(String, String)> = settings
            .iter()
            .map(|(name, value)| (name.to_string(), value.to_string()))
            .collect();
        environment.push(("BOARDCAST_DATABASE_URL".into(), database_url.into()));
        let (child, address) = spawn(node_id, data_dir.path(), &environment).await;
        Self {
            address,
            child,
            data_dir,
            node_id: node_id.into(),
            environment,
        }
    }

    /// Starts the node again after [`kill`](Self::kill): same id, data directory and
    /// settings, a new port. Returns once it serves.
    pub async fn restart(&mut self) {
        let (child, address) = spawn(&self.node_id, self.data_dir.path(), &self.environment).await;
        self.child = child;
        self.address = address;
    }

    /// The node's resident memory, in KiB.
    #[allow(dead_code)] // used by the benchmarks only
    pub fn rss_kib(&self) -> u64 {
        self.memory_kib("VmRSS:")
    }

    /// The most resident memory the node has had since it started, in KiB.
    #[allow(dead_code)] // used by the benchmarks only
    pub fn peak_rss_kib(&self) -> u64 {
        self.memory_kib("VmHWM:")
    }

    fn memory_kib(&self, field: &str) -> u64 {
        let pid = self.child.id().unwrap();
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
        status
            .lines()
            .find_map(|line| line.strip_prefix(field))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap()
    }

    /// Where the node keeps its blobs and files.
    pub fn data_dir(&self) -> &std::path::Path {
        self.data_dir.path()
    }

    /// The node's process id, for tests that kill it from outside.
    pub fn pid(&self) -> u32 {
        self.child.id().unwrap()
    }

    /// `kill -9`: no shutdown, no goodbyes.
    pub async fn kill(&mut self) {
        self.child.kill().await.unwrap();
    }

    /// `kill -TERM`: how systemd and orchestrators stop a node for a rolling restart.
    pub fn terminate(&self) {
        let status = std::process::Command::new("kill")
            .args(["-TERM", &self.pid().to_string()])
            .status()
            .unwrap();
        assert!(status.success(), "kill -TERM failed");
    }

    /// Waits for the node to end by itself, at most `within`; how it ended.
    pub async fn exited(&mut self, within: Duration) -> ExitStatus {
        tokio::time::timeout(within, self.child.wait())
            .await
            .unwrap_or_else(|_| panic!("the node was still running after {within:?}"))
            .unwrap()
    }
}

/// Runs `boardcast serve` in `data_dir` and waits for its "serving" line.
async fn spawn(
    node_id: &str,
    data_dir: &std::path::Path,
    environment: &[(String, String)],
) -> (Child, SocketAddr) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_boardcast"))
        .arg("serve")
        .envs(environment.iter().map(|(name, value)| (name, value)))
        .env("BOARDCAST_NODE_ID", node_id)
        .env("BOARDCAST_LISTEN", "127.0.0.1:0")
        .env("BOARDCAST_DATA_DIR", data_dir)
        .env("BOARDCAST_CLUSTER_SECRET", CLUSTER_SECRET)
        .env("RUST_LOG", "info")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let address = tokio::time::timeout(std::time::Duration::from_secs(30), async {
        while let Some(line) = lines.next_line().await.unwrap() {
            if let Some(address) = serving_address(&line) {
                return address;
            }
        }
        panic!("node {node_id} ended before serving");
    })
    .await
    .expect("node did not start in time");
    // Keep reading the log so the node never blocks on a full pipe.
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    (child, address)
}

/// The address in the node's "serving" log line.
pub fn serving_address(line: &str) -> Option<SocketAddr> {
    if !line.contains("serving") {
        return None;
    }
    let start = line.find("127.0.0.1:")?;
    let rest = &line[start..];
    let end = rest
        .find(|c: char| !(c.is_ascii_digit() || c == '.' || c == ':'))
        .unwrap_or(rest.len());
    rest[..end].parse().ok()
}

/// Writes what the browser scenarios read (`frontend/e2e/cluster.ts`) into `dir`: each node's
/// id, URL and process id, and the accounts (`teacher`, `colleague`) to log in with. The
/// file's path, for `BOARDCAST_E2E_CLUSTER`.
#[allow(dead_code)] // used by the browser test and benchmark only
pub fn describe_for_browser(
    dir: &std::path::Path,
    nodes: &[(&str, &NodeProcess)],
    accounts: serde_json::Value,
) -> std::path::PathBuf {
    let nodes: Vec<serde_json::Value> = nodes
        .iter()
        .map(|(node_id, node)| {
            serde_json::json!({
                "node_id": node_id,
                "url": format!("http://{}", node.address),
                "pid": node.pid(),
            })
        })
        .collect();
    let mut description = accounts;
    description["nodes"] = serde_json::Value::Array(nodes);
    let path = dir.join("cluster.json");
    std::fs::write(&path, description.to_string()).unwrap();
    path
}
