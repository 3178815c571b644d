//! What crossing nodes costs a command's fan-out, apart from the database's commit: on one
//! local cluster (`deploy/local-cluster`: PostgreSQL with a synchronous standby, slapd,
//! three release-built nodes), half the boards are steered from their own node and half from
//! another, in the same run, at the same rate, their commands interleaved. Both halves wait
//! for the same commit, standby included; only the crossing half's events then travel
//! PostgreSQL's notification to the board's node. The ratio of the two p99s is the figure.

use std::net::SocketAddr;

use serde_json::Value;

use super::{append_times::append_times, cluster::LocalCluster, load::latencies, load::Load};

/// The local cluster's default size, as a school's three servers.
const NODES: usize = 3;
/// Boards, each sent one command a second: 50 steered from their own node, 50 from another.
const BOARDS: usize = 100;
/// The goal for p99 across nodes over p99 on one node.
const GOAL: f64 = 1.5;

/// Starts a local cluster, runs the load on it for `seconds`, takes the cluster down.
pub async fn cost_of_crossing(seconds: f64) {
    let cluster = tokio::task::spawn_blocking(|| LocalCluster::up(NODES))
        .await
        .unwrap();
    let nodes: Vec<SocketAddr> = cluster
        .node_urls()
        .iter()
        .map(|url| url.trim_start_matches("http://").parse().unwrap())
        .collect();
    let teacher = cluster.user("teacher");
    let mut command = Load::command(&nodes, BOARDS, 1, BOARDS as f64, seconds);
    command
        .args(["--placement", "both", "--username", &teacher.username])
        // A pairing takes a slot of the teacher's wrong-code budget (10) until it succeeds:
        // fewer at once than that, as a teacher pairing a room's boards by hand.
        .args(["--concurrency", "8"])
        .env("BOARDCAST_LOAD_PASSWORD", &teacher.password);
    let mut load = Load::spawn(command);
    let sockets = load.connected().await;
    let report = load.report().await;
    println!(
        "Cost of crossing nodes (local cluster: {NODES} nodes, PostgreSQL with a synchronous standby): \
         {BOARDS} boards x 1 command/s, {sockets} sockets, errors {}",
        report["errors"]
    );
    println!(
        "  controller on the board's node  {}",
        at_boards(&report, "at_boards_same_node")
    );
    println!(
        "  controller on another node      {}",
        at_boards(&report, "at_boards_across_nodes")
    );
    println!(
        "  ack (all commands)              {}",
        latencies(&report, "acks")
    );
    println!("{}", append_times(&nodes).await);
    let p99 = |which: &str| report[which]["p99_ms"].as_f64().unwrap();
    println!(
        "  p99 across nodes / p99 on one node = {:.2}x  (goal <= {GOAL}x)\n",
        p99("at_boards_across_nodes") / p99("at_boards_same_node")
    );
    tokio::task::spawn_blocking(move || drop(cluster))
        .await
        .unwrap();
}

/// The latencies of events at the board sockets, with their number.
fn at_boards(report: &Value, which: &str) -> String {
    format!(
        "{}  ({} events)",
        latencies(report, which),
        report[which]["count"]
    )
}
