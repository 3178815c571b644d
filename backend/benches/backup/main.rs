//! Benchmarks of `boardcast backup`, `verify` and `restore` (see BENCHMARKS.md) on a
//! PostgreSQL database holding 100,000 board events and 1 GiB of uploaded blobs, against
//! `pg_dump -Fc` / `pg_restore` and `cp -r` of the same data in the same run; and the command
//! ack latency of a serving node while backups run back to back beside it, against the same
//! node without backups and beside `pg_dump` + `cp -r` + `sync`. The real `boardcast` binary
//! runs every step, as an admin would run it; PostgreSQL fsyncs like a production server.
//!
//! `cargo bench -p boardcast --features load --bench backup [-- NAME...]` runs all or the named benchmarks
//! (`backup`, `acks`). `BENCH_ROUNDS` (3) sets how often each step is timed (the median is
//! reported), `BENCH_SECONDS` (10) the length of each ack measurement and `BENCH_BLOB_MIB`
//! (1024) the size of the blobs, in 64 files.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[allow(dead_code)]
#[path = "../../tests/api/node_process.rs"]
mod node_process;
#[allow(dead_code)]
#[path = "../../tests/api/postgres.rs"]
mod postgres;

mod acks;
mod backup_restore;
mod commands;
mod school;

use self::{acks::acks_beside_backups, backup_restore::backup_and_restore, school::School};

const PASSWORD: &str = "bench-password";
const MIB: u64 = 1 << 20;

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(default)
}

#[tokio::main]
async fn main() {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    println!(
        "boardcast backup benchmarks on {cores} cores (boardcast, PostgreSQL, the baselines and \
         the load generator share them and one disk); warm page cache\n"
    );
    let named: Vec<String> = std::env::args()
        .skip(1)
        .filter(|arg| !arg.starts_with('-'))
        .collect();
    let wanted = |name: &str| named.is_empty() || named.iter().any(|n| n == name);
    let scratch = tempfile::tempdir().unwrap();
    let school = School::seed(scratch.path()).await;
    if wanted("backup") {
        backup_and_restore(&school, scratch.path()).await;
    }
    if wanted("acks") {
        acks_beside_backups(&school, scratch.path()).await;
    }
}

fn median(samples: &[f64]) -> f64 {
    let mut sorted = samples.to_vec();
    sorted.sort_by(f64::total_cmp);
    match sorted.len() {
        0 => f64::NAN,
        n if n % 2 == 0 => (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0,
        n => sorted[n / 2],
    }
}

fn rounds_of(samples: &[f64]) -> String {
    let each: Vec<String> = samples.iter().map(|s| format!("{s:.2}")).collect();
    each.join(" / ")
}
