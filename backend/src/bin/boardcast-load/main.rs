//! `boardcast-load`: opens N boards and M controllers per board against one or more nodes,
//! sends commands at a fixed rate spread over the boards, and reports ack latency (command
//! sent → ack), fan-out latency (command sent → event at each socket of the board),
//! throughput and errors. Boards and their controllers are put on different nodes when
//! there are several, so fan-out crosses nodes; `--placement both` steers every other board
//! from its own node instead, and the events at the boards' sockets are timed apart by the
//! controller's node, so one run shows what crossing nodes costs.
//!
//! The nodes must allow the registrations (`pairing.max_boards_per_address_per_hour`) and
//! know the teacher given with `--username`/`--password`.

mod classroom;
mod drive;
mod http;
mod stats;

use std::{net::SocketAddr, time::Duration};

use anyhow::Context;
use clap::Parser;
use serde::Serialize;

use self::{classroom::Run, stats::Latencies};

#[derive(Parser, Debug, Clone)]
#[command(about = "Load generator for boardcast's realtime channel")]
pub struct Args {
    /// A node's address (host:port); repeat for several nodes.
    #[arg(long = "node", required = true)]
    pub nodes: Vec<SocketAddr>,
    /// Boards to open.
    #[arg(long, default_value_t = 10)]
    pub boards: usize,
    /// Controllers per board.
    #[arg(long, default_value_t = 1)]
    pub controllers: usize,
    /// Commands per second over all boards; 0 opens the sockets and holds them idle.
    #[arg(long, default_value_t = 100.0)]
    pub rate: f64,
    /// How long to send commands (or hold idle sockets), in seconds.
    #[arg(long, default_value_t = 10.0)]
    pub seconds: f64,
    /// The teacher who pairs with every board.
    #[arg(long, default_value = "teacher")]
    pub username: String,
    #[arg(long, env = "BOARDCAST_LOAD_PASSWORD")]
    pub password: String,
    /// Sockets opened at once while setting up.
    #[arg(long, default_value_t = 64)]
    pub concurrency: usize,
    /// Where each board's controllers connect.
    #[arg(long, value_enum, default_value_t = Placement::Across)]
    pub placement: Placement,
    /// Print the report as one JSON object.
    #[arg(long)]
    pub json: bool,
}

/// Where a board's controllers connect, relative to the board.
#[derive(clap::ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum Placement {
    /// On the nodes after the board's, so its events cross nodes (when there are several).
    Across,
    /// On the board's own node.
    Same,
    /// Every other board each way, so one run times both under the same load and host.
    Both,
}

/// What a run measured.
#[derive(Debug, Serialize)]
pub struct Report {
    pub sockets: usize,
    pub setup_seconds: f64,
    pub commands_sent: u64,
    pub acks: Latencies,
    pub fan_out: Latencies,
    /// The event at the board's own socket, for commands from a controller on the board's
    /// node and on another node: what crossing nodes costs.
    pub at_boards_same_node: Latencies,
    pub at_boards_across_nodes: Latencies,
    pub acks_per_second: f64,
    pub events_per_second: f64,
    pub errors: u64,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    anyhow::ensure!(args.boards > 0, "--boards must be at least 1");
    anyhow::ensure!(args.controllers > 0, "--controllers must be at least 1");
    let run = Run::set_up(&args).await.context("setting up the boards")?;
    // The harness waits for this line before it measures idle sockets.
    println!("connected {}", run.sockets());
    let report = run
        .drive(args.rate, Duration::from_secs_f64(args.seconds))
        .await;
    if args.json {
        println!("{}", serde_json::to_string(&report)?);
    } else {
        print_report(&args, &report);
    }
    Ok(())
}

fn print_report(args: &Args, report: &Report) {
    println!(
        "{} boards x {} controllers on {} node(s): {} sockets open in {:.1} s",
        args.boards,
        args.controllers,
        args.nodes.len(),
        report.sockets,
        report.setup_seconds
    );
    println!(
        "sent {} commands at {} /s for {} s; {:.0} acks/s, {:.0} events/s, {} errors",
        report.commands_sent,
        args.rate,
        args.seconds,
        report.acks_per_second,
        report.events_per_second,
        report.errors
    );
    println!("ack      {}", report.acks);
    println!("fan-out  {}", report.fan_out);
    println!(
        "at the boards, controller on the same node    {}",
        report.at_boards_same_node
    );
    println!(
        "at the boards, controller on another node     {}",
        report.at_boards_across_nodes
    );
}
