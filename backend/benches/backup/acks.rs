//! `acks`: a serving node's command ack latency while backups run back to back beside it,
//! against the same node alone and beside `pg_dump` + `cp -r` + `sync`.

use std::{
    ffi::OsStr,
    net::SocketAddr,
    path::{Path, PathBuf},
    process::Stdio,
    sync::{
        atomic::{AtomicBool, Ordering},
        Arc,
    },
    time::Duration,
};

use serde_json::Value;
use sqlx::{Connection, PgConnection};
use tokio::io::{AsyncBufReadExt, BufReader};

use crate::node_process::NodeProcess;

use crate::{
    commands::{link_tree, run_boardcast, sync, timed},
    env_or, median, postgres, rounds_of,
    school::{table_counts, School},
    PASSWORD,
};

/// Command acks on a node serving the school, without backups and while backups run back to
/// back beside it, then without again (the host drifts).
pub(crate) async fn acks_beside_backups(school: &School, scratch: &Path) {
    let seconds = env_or("BENCH_SECONDS", 10.0f64);
    let settings = [
        (
            "BOARDCAST_PAIRING__MAX_BOARDS_PER_ADDRESS_PER_HOUR",
            "1000000",
        ),
        // The load runs more commands per socket than a teacher sends: measured here is the
        // node's throughput, not its per-socket budget.
        ("BOARDCAST_LIMITS__COMMANDS_PER_SECOND", "1000000"),
        ("RUST_LOG", "warn"),
    ];
    let node = NodeProcess::start_with("bench", &school.url, &settings).await;
    // The node's own copy of the blobs, as on a node that has synced them all.
    link_tree(
        &school.data_dir.join("blobs").join("objects"),
        &node.data_dir().join("blobs").join("objects"),
    );
    tokio::time::sleep(Duration::from_secs(1)).await;
    let node_data = node.data_dir().to_path_buf();
    let rows: i64 = table_counts(&school.url).await.iter().map(|(_, n)| n).sum();

    // What figure 1 wrote (databases made and dropped) is flushed before anything is timed,
    // and a first load warms the node and the database up; it is not counted.
    let mut db = PgConnection::connect(&school.url).await.unwrap();
    sqlx::query("checkpoint").execute(&mut db).await.unwrap();
    db.close().await.unwrap();
    sync();
    Load::start(node.address, 3.0).run().await;
    // Runs without backups between the others: this host drifts within a minute.
    let plan = [
        None,
        Some(Work::FullBackups),
        None,
        Some(Work::SecondBackups),
        None,
        Some(Work::DumpAndCopy),
        None,
    ];
    let mut runs = Vec::new();
    for (index, work) in plan.into_iter().enumerate() {
        let Some(work) = work else {
            runs.push((
                None,
                Load::start(node.address, seconds).run().await,
                Vec::new(),
            ));
            continue;
        };
        let jobs = Jobs {
            work,
            url: school.url.clone(),
            data_dir: node_data.clone(),
            scratch: scratch.join(format!("beside-{index}")),
        };
        jobs.prepare().await;
        let mut load = Load::start(node.address, seconds);
        load.connected().await;
        let stop = Arc::new(AtomicBool::new(false));
        let looping = tokio::spawn(jobs.run_until(stop.clone()));
        let report = load.report().await;
        stop.store(true, Ordering::Relaxed);
        runs.push((Some(work), report, looping.await.unwrap()));
        // The disk settles before the next run: a run right after 1 GiB of writes stalls
        // without any backup running.
        sync();
        tokio::time::sleep(Duration::from_secs(3)).await;
    }

    let p99 = |report: &Value| report["acks"]["p99_ms"].as_f64().unwrap();
    let quiet: Vec<f64> = runs
        .iter()
        .filter(|(work, _, _)| work.is_none())
        .map(|(_, report, _)| p99(report))
        .collect();
    let quiet_p99 = median(&quiet);
    println!(
        "Command acks on one node (PostgreSQL, fsync on, {rows} rows): {RATE:.0} commands/s over \
         {LOAD_BOARDS} boards x {LOAD_CONTROLLERS} controllers, {seconds:.0} s each, in this order"
    );
    for (work, report, _) in &runs {
        let acks = &report["acks"];
        println!(
            "  {:<38} ack p50 {:6.2} ms  p90 {:6.2} ms  p99 {:6.2} ms  max {:7.2} ms  \
             ({} acks, {} errors)",
            work.map_or("without backup", |w| w.label()),
            acks["p50_ms"].as_f64().unwrap(),
            acks["p90_ms"].as_f64().unwrap(),
            p99(report),
            acks["max_ms"].as_f64().unwrap(),
            acks["count"],
            report["errors"],
        );
    }
    println!(
        "  without backup: median p99 {quiet_p99:.2} ms ({} ms)",
        rounds_of(&quiet)
    );
    for (work, report, done) in &runs {
        let Some(work) = work else { continue };
        let seconds: Vec<f64> = done.iter().map(|job| job.seconds).collect();
        let step = |name: &str| {
            let seconds: Vec<f64> = done
                .iter()
                .filter_map(|job| job.steps.iter().find(|(n, _)| n == name).map(|s| s.1))
                .collect();
            median(&seconds)
        };
        println!(
            "  {}: p99 {:.2}x without; {} ran back to back, median {:.2} s{}",
            work.label(),
            p99(report) / quiet_p99,
            done.len(),
            median(&seconds),
            if matches!(work, Work::DumpAndCopy) {
                String::new()
            } else {
                format!(
                    " (steps: tables {:.1} s, blobs {:.1} s)",
                    step("tables"),
                    step("blobs")
                )
            }
        );
    }
    println!();
}

/// What runs beside the load, over and over.
#[derive(Clone, Copy)]
enum Work {
    /// `boardcast backup`, each into a new directory: all 1 GiB of blobs copied every time.
    FullBackups,
    /// `boardcast backup --keep 2` into one directory that holds every blob already: the
    /// nightly case, only the tables are copied.
    SecondBackups,
    /// The baseline: `pg_dump -Fc`, `cp -r` of the blobs and `sync`, each into a new directory.
    DumpAndCopy,
}

impl Work {
    fn label(&self) -> &'static str {
        match self {
            Self::FullBackups => "beside full backups",
            Self::SecondBackups => "beside second backups (no new blobs)",
            Self::DumpAndCopy => "beside pg_dump -Fc + cp -r + sync",
        }
    }
}

/// One run of the work: its seconds, and the steps `boardcast` reported.
struct Job {
    seconds: f64,
    steps: Vec<(String, f64)>,
}

struct Jobs {
    work: Work,
    url: String,
    data_dir: PathBuf,
    scratch: PathBuf,
}

impl Jobs {
    /// What the work needs before the load starts: a backup holding every blob already.
    async fn prepare(&self) {
        if let Work::SecondBackups = self.work {
            self.backup(&self.scratch, &[]).await;
            sync();
        }
    }

    async fn backup(&self, out: &Path, extra: &[&OsStr]) -> Job {
        let args = [
            &["backup".as_ref(), "--out".as_ref(), out.as_os_str()],
            extra,
        ]
        .concat();
        let ran = run_boardcast(&args, &self.url, &self.data_dir).await;
        let steps = ran
            .steps()
            .into_iter()
            .map(|(name, seconds)| (name.to_string(), seconds))
            .collect();
        Job {
            seconds: ran.seconds,
            steps,
        }
    }

    /// The work, one run after the other, until `stop`.
    async fn run_until(self, stop: Arc<AtomicBool>) -> Vec<Job> {
        let mut done = Vec::new();
        while !stop.load(Ordering::Relaxed) {
            let out = self.scratch.join(done.len().to_string());
            let job = match self.work {
                Work::FullBackups => {
                    let job = self.backup(&out, &[]).await;
                    std::fs::remove_dir_all(&out).unwrap();
                    job
                }
                Work::SecondBackups => {
                    self.backup(&self.scratch, &["--keep".as_ref(), "2".as_ref()])
                        .await
                }
                Work::DumpAndCopy => {
                    std::fs::create_dir_all(&out).unwrap();
                    let dump = out.join("boardcast.dump");
                    let blobs = self.data_dir.join("blobs");
                    let mut seconds = timed(
                        postgres::bin_dir().join("pg_dump"),
                        &[
                            "-Fc".as_ref(),
                            "-f".as_ref(),
                            dump.as_os_str(),
                            "-d".as_ref(),
                            self.url.as_ref(),
                        ],
                    )
                    .await;
                    seconds +=
                        timed("cp", &["-r".as_ref(), blobs.as_os_str(), out.as_os_str()]).await;
                    seconds += timed("sync", &[]).await;
                    std::fs::remove_dir_all(&out).unwrap();
                    Job {
                        seconds,
                        steps: Vec::new(),
                    }
                }
            };
            done.push(job);
        }
        done
    }
}

const RATE: f64 = 200.0;
const LOAD_BOARDS: usize = 10;
const LOAD_CONTROLLERS: usize = 2;

/// A running `boardcast-load`.
struct Load {
    child: tokio::process::Child,
    lines: tokio::io::Lines<BufReader<tokio::process::ChildStdout>>,
}

impl Load {
    fn start(node: SocketAddr, seconds: f64) -> Self {
        let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_boardcast-load"))
            .args(["--node", &node.to_string()])
            .args(["--boards", &LOAD_BOARDS.to_string()])
            .args(["--controllers", &LOAD_CONTROLLERS.to_string()])
            .args(["--rate", &RATE.to_string()])
            .args(["--seconds", &seconds.to_string()])
            .arg("--json")
            .env("BOARDCAST_LOAD_PASSWORD", PASSWORD)
            .stdout(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .unwrap();
        let lines = BufReader::new(child.stdout.take().unwrap()).lines();
        Self { child, lines }
    }

    /// Waits until every socket is open: commands start now.
    async fn connected(&mut self) {
        let line = self.lines.next_line().await.unwrap();
        assert!(
            line.as_deref().is_some_and(|l| l.starts_with("connected ")),
            "load generator: {line:?}"
        );
    }

    async fn report(mut self) -> Value {
        let line = self.lines.next_line().await.unwrap().expect("no report");
        self.child.wait().await.unwrap();
        serde_json::from_str(&line).unwrap()
    }

    async fn run(mut self) -> Value {
        self.connected().await;
        self.report().await
    }
}
