//! The example node configs in `deploy/config/` load through the node's own settings loader,
//! with their secrets from the environment as systemd hands them over, and describe one
//! cluster together with the browser app's `config.json`: the files an operator copies
//! cannot rot.

use std::path::{Path, PathBuf};

use boardcast::config::{ConfigError, Settings};
use serde_json::Value;

use crate::node_process::CLUSTER_SECRET;

const NODES: [&str; 3] = ["api1", "api2", "api3"];

/// A file under the repository's `deploy/`.
pub fn deploy_file(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../deploy")
        .join(path)
}

/// The variables of `secrets.env.example` as systemd's `EnvironmentFile=` reads them, with
/// the cluster secret an operator generates filled in.
fn secrets_env() -> Vec<(String, String)> {
    let text = std::fs::read_to_string(deploy_file("config/secrets.env.example")).unwrap();
    text.lines()
        .map(str::trim)
        .filter(|line| !line.is_empty() && !line.starts_with('#'))
        .map(|line| {
            let (name, value) = line.split_once('=').expect("a NAME=value line");
            let value = match (name, value) {
                ("BOARDCAST_CLUSTER_SECRET", "") => CLUSTER_SECRET,
                _ => value,
            };
            (name.to_string(), value.to_string())
        })
        .collect()
}

fn without(env: Vec<(String, String)>, name: &str) -> Vec<(String, String)> {
    env.into_iter().filter(|(key, _)| key != name).collect()
}

fn load(node: &str, env: Vec<(String, String)>) -> Result<Settings, ConfigError> {
    let file = deploy_file(&format!("config/{node}.toml"));
    Settings::from_sources(Some(&file), env)
}

fn cluster() -> Vec<Settings> {
    NODES
        .iter()
        .map(|node| load(node, secrets_env()).unwrap_or_else(|e| panic!("{node}.toml: {e}")))
        .collect()
}

#[test]
fn every_example_node_config_loads_with_the_secrets_file() {
    for (node, settings) in NODES.iter().zip(cluster()) {
        assert_eq!(settings.node_id, *node);
        assert!(settings.database_url().is_postgres(), "{node}");
        assert!(settings.ldap.is_some(), "{node}: no [ldap]");
        assert!(
            settings.web.static_dir.is_none(),
            "{node}: the app comes from nginx"
        );
    }
}

#[test]
fn the_example_nodes_form_one_cluster() {
    let nodes = cluster();
    let public_urls: Vec<&str> = nodes.iter().map(|n| n.public_url.as_str()).collect();
    for (i, node) in nodes.iter().enumerate() {
        assert!(node.public_url.starts_with("https://"), "{}", node.node_id);
        let mut others: Vec<&str> = public_urls.clone();
        others.remove(i);
        let mut peers: Vec<&str> = node.peers.iter().map(String::as_str).collect();
        peers.sort_unstable();
        assert_eq!(peers, others, "{}: peers are the other nodes", node.node_id);
        for other in &nodes[i + 1..] {
            assert_ne!(node.node_id, other.node_id);
            assert_eq!(
                node.database_url().expose(),
                other.database_url().expose(),
                "{} and {} share one database",
                node.node_id,
                other.node_id
            );
            assert_eq!(node.web.allowed_origins, other.web.allowed_origins);
            assert_eq!(node.web.cookie_domain, other.web.cookie_domain);
            assert_eq!(
                node.ldap.as_ref().map(|l| &l.urls),
                other.ldap.as_ref().map(|l| &l.urls)
            );
        }
    }
}

#[test]
fn the_cluster_secret_is_not_in_the_example_configs() {
    for node in NODES {
        let err = load(node, without(secrets_env(), "BOARDCAST_CLUSTER_SECRET")).unwrap_err();
        assert!(err.to_string().contains("cluster_secret"), "{node}: {err}");
    }
}

#[test]
fn the_secrets_file_carries_the_configs_database_url_with_its_password() {
    let env = secrets_env();
    let from_file = load("api1", without(env.clone(), "BOARDCAST_DATABASE_URL")).unwrap();
    let with_password = load("api1", env).unwrap();
    assert_eq!(
        with_password.database_url().expose().replacen(
            "boardcast:DATABASE-PASSWORD@",
            "boardcast@",
            1
        ),
        from_file.database_url().expose()
    );
}

#[test]
fn the_apps_config_json_lists_the_example_nodes_and_its_origin_is_allowed() {
    let nodes = cluster();
    let text = std::fs::read_to_string(deploy_file("nginx/config.json")).unwrap();
    let config: Value = serde_json::from_str(&text).unwrap();
    let listed: Vec<&str> = config["api"]
        .as_array()
        .expect("config.json has an \"api\" list")
        .iter()
        .map(|url| url.as_str().unwrap())
        .collect();
    let public_urls: Vec<&str> = nodes.iter().map(|n| n.public_url.as_str()).collect();
    assert_eq!(listed, public_urls);

    let site = std::fs::read_to_string(deploy_file("nginx/boardcast-spa.conf")).unwrap();
    for origin in &nodes[0].web.allowed_origins {
        let host = origin.trim_start_matches("https://");
        assert!(
            site.contains(&format!("server_name {host};")),
            "{origin} is allowed but nginx does not serve the app there"
        );
    }
}
