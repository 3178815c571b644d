//! `deploy/local-cluster` driven through its documented interface: `up`, `status`,
//! `restart-node`, `restart-ldap`, `down` and the `cluster.json` it writes. Dropping the
//! cluster takes it down.

use std::{path::PathBuf, process::Command};

use serde::Deserialize;
use tempfile::TempDir;

#[derive(Debug, Clone, Deserialize)]
pub struct Description {
    pub nodes: Vec<Node>,
    pub postgres: Vec<Member>,
    pub ldap: Directory,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Node {
    pub node_id: String,
    pub public_url: String,
    pub pid: Option<u32>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Member {
    pub name: String,
    pub role: String,
    pub port: u16,
    pub pid: Option<u32>,
    pub agent_pid: Option<u32>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Directory {
    /// Where slapd itself listens (`ldap://127.0.0.1:PORT`).
    pub url: String,
    pub pid: Option<u32>,
    pub users: Vec<DemoUser>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct DemoUser {
    pub username: String,
    pub password: String,
    pub role: String,
}

pub struct LocalCluster {
    dir: TempDir,
    pub description: Description,
}

impl LocalCluster {
    /// `up` with `nodes` nodes, the node binary of this build.
    pub fn up(nodes: usize) -> Self {
        Self::up_with(nodes, &[])
    }

    /// `up` with the nodes reaching the directory at `ldap_url` (a proxy the test runs)
    /// instead of at slapd.
    pub fn up_with_ldap_url(nodes: usize, ldap_url: &str) -> Self {
        Self::up_with(nodes, &["--ldap-url", ldap_url])
    }

    fn up_with(nodes: usize, options: &[&str]) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let out = script()
            .args(["up", "--dir"])
            .arg(dir.path())
            .args(["--nodes", &nodes.to_string()])
            .args(options)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "local-cluster up failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        let description = read_description(&dir);
        Self { dir, description }
    }

    /// `status`: the cluster as it is now (roles after a failover, pids after a restart).
    pub fn status(&mut self) -> &Description {
        let out = script()
            .args(["status", "--dir"])
            .arg(self.dir.path())
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "status failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        self.description = serde_json::from_slice(&out.stdout).unwrap();
        &self.description
    }

    pub fn restart_node(&mut self, node_id: &str) {
        let out = script()
            .args(["restart-node", "--dir"])
            .arg(self.dir.path())
            .arg(node_id)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "restart-node {node_id} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        self.description = read_description(&self.dir);
    }

    /// `restart-ldap`: slapd again, on its port with its data.
    pub fn restart_ldap(&mut self) {
        let out = script()
            .args(["restart-ldap", "--dir"])
            .arg(self.dir.path())
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "restart-ldap failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        self.description = read_description(&self.dir);
    }

    /// A node's `data_dir`, where the cluster puts it: `DIR/nodes/<node_id>/data`.
    pub fn data_dir(&self, node_id: &str) -> PathBuf {
        self.dir.path().join("nodes").join(node_id).join("data")
    }

    /// The current primary's database URL, for checking the log directly.
    pub fn primary_url(&mut self) -> String {
        let primary = self
            .status()
            .postgres
            .iter()
            .find(|member| member.role == "primary")
            .cloned()
            .expect("no primary");
        format!("postgres://postgres@127.0.0.1:{}/boardcast", primary.port)
    }

    pub fn user(&self, role: &str) -> DemoUser {
        self.description
            .ldap
            .users
            .iter()
            .find(|user| user.role == role)
            .cloned()
            .unwrap()
    }

    /// Where the cluster keeps its logs, for a failed check's message.
    pub fn dir(&self) -> &std::path::Path {
        self.dir.path()
    }

    pub fn node_urls(&self) -> Vec<String> {
        self.description
            .nodes
            .iter()
            .map(|node| node.public_url.clone())
            .collect()
    }
}

impl Drop for LocalCluster {
    fn drop(&mut self) {
        let _ = script()
            .args(["down", "--dir"])
            .arg(self.dir.path())
            .status();
    }
}

/// `kill -9`.
pub fn kill(pids: &[u32]) {
    let pids: Vec<String> = pids.iter().map(u32::to_string).collect();
    let status = Command::new("kill").arg("-9").args(&pids).status().unwrap();
    assert!(status.success(), "kill -9 {pids:?} failed");
}

fn read_description(dir: &TempDir) -> Description {
    let text = std::fs::read_to_string(dir.path().join("cluster.json")).unwrap();
    serde_json::from_str(&text).unwrap()
}

fn script() -> Command {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../deploy/local-cluster");
    let mut command = Command::new(path);
    command.env("LOCAL_CLUSTER_BINARY", env!("CARGO_BIN_EXE_boardcast"));
    command
}
