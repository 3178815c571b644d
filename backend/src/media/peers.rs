//! The peers this node may fetch blobs from: the live nodes of the registry (refreshed with
//! every heartbeat) plus the `peers` of the settings, never itself.

use std::sync::{Arc, RwLock};

use boardcast_sync::{ClusterKey, HttpPeer, Peer};

use crate::{config::Settings, store::NodeRow};

pub struct Peers {
    own_node_id: String,
    own_url: String,
    configured: Vec<String>,
    key: ClusterKey,
    client: reqwest::Client,
    known: RwLock<Vec<Known>>,
}

#[derive(Clone)]
struct Known {
    node_id: Option<String>,
    peer: Arc<HttpPeer>,
}

impl Peers {
    pub fn new(settings: &Settings, key: ClusterKey) -> anyhow::Result<Self> {
        let peers = Self {
            own_node_id: settings.node_id.clone(),
            own_url: normalize(&settings.public_url),
            configured: settings.peers.iter().map(|url| normalize(url)).collect(),
            key,
            client: HttpPeer::client(crate::tls::for_peers(settings)?)?,
            known: RwLock::new(Vec::new()),
        };
        peers.refresh(&[]);
        Ok(peers)
    }

    /// Takes the registry's live nodes as the current peers, with the configured ones.
    pub fn refresh(&self, live_nodes: &[NodeRow]) {
        let mut known: Vec<Known> = Vec::new();
        let registry = live_nodes
            .iter()
            .filter(|node| node.node_id != self.own_node_id)
            .map(|node| (Some(node.node_id.clone()), normalize(&node.public_url)));
        let configured = self.configured.iter().map(|url| (None, url.clone()));
        for (node_id, url) in registry.chain(configured) {
            if url == self.own_url || known.iter().any(|k| k.peer.name() == url) {
                continue;
            }
            known.push(Known {
                node_id,
                peer: Arc::new(HttpPeer::new(&url, self.key.clone(), self.client.clone())),
            });
        }
        *self.known.write().unwrap_or_else(|p| p.into_inner()) = known;
    }

    /// Whether `accepts` holds for the base URL of any peer.
    pub fn any_url(&self, accepts: impl Fn(&str) -> bool) -> bool {
        self.known
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .any(|k| accepts(k.peer.name()))
    }

    /// Whether the registry node `node_id` is among the peers.
    pub fn knows(&self, node_id: &str) -> bool {
        self.known
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .any(|k| k.node_id.as_deref() == Some(node_id))
    }

    /// The peers to ask for a blob, the node that received its upload first.
    pub fn ordered_for(&self, stored_by: Option<&str>) -> Vec<Arc<dyn Peer>> {
        let known = self.known.read().unwrap_or_else(|p| p.into_inner()).clone();
        let (first, rest): (Vec<Known>, Vec<Known>) = known
            .into_iter()
            .partition(|k| stored_by.is_some() && k.node_id.as_deref() == stored_by);
        first
            .into_iter()
            .chain(rest)
            .map(|k| k.peer as Arc<dyn Peer>)
            .collect()
    }
}

fn normalize(url: &str) -> String {
    url.trim_end_matches('/').to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(node_id: &str, url: &str) -> NodeRow {
        NodeRow {
            node_id: node_id.into(),
            public_url: url.into(),
            started_at: 0,
            last_seen_at: 0,
            blobs_missing: 0,
            bytes_behind: 0,
            last_sync_at: None,
        }
    }

    fn names(peers: &[Arc<dyn Peer>]) -> Vec<&str> {
        peers.iter().map(|p| p.name()).collect()
    }

    #[test]
    fn peers_are_the_registry_and_the_settings_without_this_node() {
        let settings = Settings {
            node_id: "a".into(),
            public_url: "http://a:8080".into(),
            peers: vec!["http://c:8080/".into(), "http://b:8080".into()],
            ..Settings::default()
        };
        let peers = Peers::new(&settings, ClusterKey::new("s")).unwrap();
        assert_eq!(
            names(&peers.ordered_for(None)),
            ["http://c:8080", "http://b:8080"]
        );

        peers.refresh(&[
            row("a", "http://a:8080"),
            row("b", "http://b:8080"),
            row("d", "http://d:8080"),
        ]);
        assert_eq!(
            names(&peers.ordered_for(None)),
            ["http://b:8080", "http://d:8080", "http://c:8080"]
        );
        assert!(peers.knows("d") && !peers.knows("a"), "never itself");
        // The node an upload arrived at is asked first.
        assert_eq!(
            names(&peers.ordered_for(Some("d"))),
            ["http://d:8080", "http://b:8080", "http://c:8080"]
        );
    }
}
