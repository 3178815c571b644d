//! `boardcast status`: the nodes of the cluster as the registry knows them: alive or not,
//! and how far each one's copies of the uploaded media are behind; and how old the newest
//! backup is, which a monitoring script can alert on.

use serde::Serialize;

use crate::{
    clock::Clock,
    media::is_alive,
    store::{BackupRecord, NodeRow, Store},
    wire_time::to_rfc3339,
};

#[derive(Serialize)]
struct NodeStatus {
    node_id: String,
    public_url: String,
    healthy: bool,
    last_seen: String,
    blobs_missing: i64,
    bytes_behind: i64,
    last_sync: Option<String>,
}

#[derive(Serialize)]
struct BackupStatus {
    path: String,
    node_id: String,
    finished_at: String,
    age_seconds: i64,
    rows: i64,
    blobs: i64,
    bytes: i64,
}

#[derive(Serialize)]
struct ClusterStatus {
    nodes: Vec<NodeStatus>,
    last_backup: Option<BackupStatus>,
}

/// Prints one line per node and one on the last backup (or JSON with `json`).
pub async fn run(store: &Store, json: bool) -> anyhow::Result<()> {
    let now = Clock::system().now_millis();
    let nodes: Vec<NodeStatus> = store
        .list_nodes()
        .await?
        .into_iter()
        .map(|node| status(node, now))
        .collect();
    let last_backup = store
        .last_backup()
        .await?
        .map(|backup| backup_status(backup, now));
    if json {
        let status = ClusterStatus { nodes, last_backup };
        println!("{}", serde_json::to_string_pretty(&status)?);
        return Ok(());
    }
    print_nodes(&nodes, now);
    match last_backup {
        Some(backup) => println!(
            "\nlast backup: {} ({}) on {}, {} rows and {} blobs ({}), at {}",
            backup.finished_at,
            ago(&backup.finished_at, now),
            backup.node_id,
            backup.rows,
            backup.blobs,
            bytes(backup.bytes),
            backup.path
        ),
        None => println!("\nlast backup: none recorded (see `boardcast backup --help`)"),
    }
    Ok(())
}

fn print_nodes(nodes: &[NodeStatus], now: i64) {
    if nodes.is_empty() {
        println!("no node has reported yet (nodes register when `boardcast serve` starts)");
        return;
    }
    println!(
        "{:<16} {:<32} {:<9} {:>10} {:>14} {:>12} {:>10}",
        "NODE", "URL", "STATE", "SEEN", "BLOBS MISSING", "BEHIND", "SYNCED"
    );
    for node in nodes {
        println!(
            "{:<16} {:<32} {:<9} {:>10} {:>14} {:>12} {:>10}",
            node.node_id,
            node.public_url,
            if node.healthy { "healthy" } else { "silent" },
            ago(&node.last_seen, now),
            node.blobs_missing,
            bytes(node.bytes_behind),
            node.last_sync
                .as_deref()
                .map_or("never".into(), |t| ago(t, now)),
        );
    }
}

fn backup_status(backup: BackupRecord, now: i64) -> BackupStatus {
    BackupStatus {
        finished_at: to_rfc3339(backup.finished_at),
        age_seconds: (now - backup.finished_at).max(0) / 1000,
        path: backup.path,
        node_id: backup.node_id,
        rows: backup.rows,
        blobs: backup.blobs,
        bytes: backup.bytes,
    }
}

fn status(node: NodeRow, now: i64) -> NodeStatus {
    NodeStatus {
        healthy: is_alive(&node, now),
        last_seen: to_rfc3339(node.last_seen_at),
        last_sync: node.last_sync_at.map(to_rfc3339),
        node_id: node.node_id,
        public_url: node.public_url,
        blobs_missing: node.blobs_missing,
        bytes_behind: node.bytes_behind,
    }
}

/// `12s ago`, `5m ago`, `3h ago`, `2d ago` for an RFC 3339 time.
fn ago(time: &str, now: i64) -> String {
    let Ok(then) =
        time::OffsetDateTime::parse(time, &time::format_description::well_known::Rfc3339)
    else {
        return time.to_string();
    };
    let seconds = (now / 1000 - then.unix_timestamp()).max(0);
    match seconds {
        s if s < 120 => format!("{s}s ago"),
        s if s < 7200 => format!("{}m ago", s / 60),
        s if s < 172_800 => format!("{}h ago", s / 3600),
        s => format!("{}d ago", s / 86_400),
    }
}

fn bytes(count: i64) -> String {
    let count = count.max(0) as f64;
    match count {
        c if c < 1024.0 => format!("{c} B"),
        c if c < 1024.0 * 1024.0 => format!("{:.1} KiB", c / 1024.0),
        c if c < 1024.0 * 1024.0 * 1024.0 => format!("{:.1} MiB", c / 1048576.0),
        c => format!("{:.1} GiB", c / 1073741824.0),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_and_ages_read_like_an_operator_writes_them() {
        assert_eq!(bytes(0), "0 B");
        assert_eq!(bytes(1536), "1.5 KiB");
        assert_eq!(bytes(3 << 30), "3.0 GiB");
        let now = 1_800_000_000_000;
        assert_eq!(ago(&to_rfc3339(now - 5_000), now), "5s ago");
        assert_eq!(ago(&to_rfc3339(now - 600_000), now), "10m ago");
    }
}
