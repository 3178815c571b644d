//! A running `boardcast-load` and the lines it prints: the harness waits for its sockets,
//! then reads its JSON report.

use std::{net::SocketAddr, process::Stdio};

use serde_json::Value;
use tokio::io::{AsyncBufReadExt, BufReader};

use super::PASSWORD;

/// A running `boardcast-load`.
pub struct Load {
    child: tokio::process::Child,
    lines: tokio::io::Lines<BufReader<tokio::process::ChildStdout>>,
}

impl Load {
    /// Starts the generator as the teacher [`database`](super::database) creates.
    pub fn start(
        nodes: &[SocketAddr],
        boards: usize,
        controllers: usize,
        rate: f64,
        seconds: f64,
    ) -> Self {
        let mut command = Self::command(nodes, boards, controllers, rate, seconds);
        command.env("BOARDCAST_LOAD_PASSWORD", PASSWORD);
        Self::spawn(command)
    }

    /// The generator's command line for a run, to add options to before [`Load::spawn`].
    pub fn command(
        nodes: &[SocketAddr],
        boards: usize,
        controllers: usize,
        rate: f64,
        seconds: f64,
    ) -> tokio::process::Command {
        let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_boardcast-load"));
        for node in nodes {
            command.arg("--node").arg(node.to_string());
        }
        command
            .args(["--boards", &boards.to_string()])
            .args(["--controllers", &controllers.to_string()])
            .args(["--rate", &rate.to_string()])
            .args(["--seconds", &seconds.to_string()])
            .arg("--json");
        command
    }

    pub fn spawn(mut command: tokio::process::Command) -> Self {
        let mut child = command
            .stdout(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .unwrap();
        let lines = BufReader::new(child.stdout.take().unwrap()).lines();
        Self { child, lines }
    }

    /// Waits until every socket is open; their number.
    pub async fn connected(&mut self) -> usize {
        let line = self
            .lines
            .next_line()
            .await
            .unwrap()
            .expect("load generator ended");
        line.strip_prefix("connected ").unwrap().parse().unwrap()
    }

    pub async fn report(mut self) -> Value {
        let line = self.lines.next_line().await.unwrap().expect("no report");
        self.child.wait().await.unwrap();
        serde_json::from_str(&line).unwrap()
    }
}

pub fn latencies(report: &Value, which: &str) -> String {
    let l = &report[which];
    format!(
        "p50 {:6.2} ms  p90 {:6.2} ms  p99 {:6.2} ms  max {:7.2} ms",
        l["p50_ms"].as_f64().unwrap(),
        l["p90_ms"].as_f64().unwrap(),
        l["p99_ms"].as_f64().unwrap(),
        l["max_ms"].as_f64().unwrap()
    )
}

pub fn summary(report: &Value) {
    println!(
        "  {:.0} acks/s, {:.0} events/s, {} errors",
        report["acks_per_second"].as_f64().unwrap(),
        report["events_per_second"].as_f64().unwrap(),
        report["errors"]
    );
    println!("  ack      {}", latencies(report, "acks"));
    println!("  fan-out  {}", latencies(report, "fan_out"));
}
