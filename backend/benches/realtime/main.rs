//! Benchmarks of the realtime channel with real `boardcast serve` processes and the
//! `boardcast-load` generator (see BENCHMARKS.md): memory per idle socket, fan-out latency
//! on one node and across two (against a raw PostgreSQL NOTIFY round trip measured in the
//! same run), the highest command rate one node sustains, and on the local cluster what
//! crossing nodes adds to fan-out. Nodes, database and load generator share the machine's
//! cores.
//!
//! `cargo bench -p boardcast --features load --bench realtime [-- NAME...]` runs all or the named benchmarks
//! (`idle`, `fanout`, `cluster`, `max`, `crossing`); `BENCH_SECONDS` sets the length of each
//! run (10 s).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod append_times;
#[allow(dead_code)]
#[path = "../../tests/faults/cluster.rs"]
mod cluster;
mod crossing;
mod load;
#[allow(dead_code)]
#[path = "../../tests/api/node_process.rs"]
mod node_process;
#[allow(dead_code)]
#[path = "../../tests/api/postgres.rs"]
mod postgres;

use std::time::Duration;

use boardcast::{
    auth::password::hash_password,
    clock::Clock,
    config::DatabaseUrl,
    store::{NewUser, Store},
};

use self::{
    append_times::append_times,
    load::{latencies, summary, Load},
    node_process::NodeProcess,
};

const PASSWORD: &str = "load-test-password";
/// 1,000 boards with 9 controllers each: 10,000 sockets.
const BOARDS: usize = 1_000;
const CONTROLLERS: usize = 9;

fn seconds() -> f64 {
    std::env::var("BENCH_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(10.0)
}

#[tokio::main]
async fn main() {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    println!("boardcast realtime benchmarks on {cores} cores (nodes, database and load generator share them)\n");
    let named: Vec<String> = std::env::args()
        .skip(1)
        .filter(|arg| !arg.starts_with('-'))
        .collect();
    let wanted = |name: &str| named.is_empty() || named.iter().any(|n| n == name);
    if wanted("idle") {
        idle_sockets().await;
    }
    if wanted("fanout") {
        fan_out_on_one_node().await;
    }
    if wanted("cluster") {
        fan_out_across_nodes().await;
    }
    if wanted("max") {
        highest_sustained_rate().await;
    }
    if wanted("crossing") {
        crossing::cost_of_crossing(seconds()).await;
    }
}

/// A database with the load generator's teacher in it.
async fn database(url: String) -> String {
    let store = Store::connect(&DatabaseUrl::new(&url)).await.unwrap();
    store.migrate().await.unwrap();
    let teacher = NewUser {
        username: "teacher".into(),
        display_name: "Load Teacher".into(),
        password_hash: hash_password(PASSWORD.into()).await.unwrap(),
        roles: "teacher".into(),
    };
    store
        .create_user(teacher, Clock::system().now_millis())
        .await
        .unwrap();
    store.close().await;
    url
}

fn sqlite_url(dir: &tempfile::TempDir) -> String {
    format!(
        "sqlite://{}?mode=rwc",
        dir.path().join("boardcast.db").display()
    )
}

async fn node(name: &str, url: &str) -> NodeProcess {
    let settings = [
        (
            "BOARDCAST_PAIRING__MAX_BOARDS_PER_ADDRESS_PER_HOUR",
            "1000000",
        ),
        // Each pairing holds a slot of the teacher's and the address's wrong-code budgets
        // until it succeeds, and the load pairs 64 boards at once.
        ("BOARDCAST_PAIRING__MAX_FAILURES_PER_USER", "1000000"),
        ("BOARDCAST_PAIRING__MAX_FAILURES_PER_ADDRESS", "1000000"),
        // All 10,000 sockets come from one address, and the setup's requests beside them.
        ("BOARDCAST_LIMITS__MAX_CONNECTIONS", "20000"),
        ("BOARDCAST_LIMITS__MAX_CONNECTIONS_PER_ADDRESS", "20000"),
        // The load runs more commands per socket than a teacher sends: measured here is the
        // node's throughput, not its per-socket budget.
        ("BOARDCAST_LIMITS__COMMANDS_PER_SECOND", "1000000"),
        ("RUST_LOG", "warn"),
    ];
    let node = NodeProcess::start_with(name, url, &settings).await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    node
}

/// Resident memory per socket: 10,000 sockets held open and idle on one node.
async fn idle_sockets() {
    let dir = tempfile::tempdir().unwrap();
    let url = database(sqlite_url(&dir)).await;
    let node = node("idle", &url).await;
    let before = node.rss_kib();
    let mut load = Load::start(&[node.address], BOARDS, CONTROLLERS, 0.0, 6.0);
    let sockets = load.connected().await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    let after = node.rss_kib();
    load.report().await;
    let per_socket = (after.saturating_sub(before)) as f64 / sockets as f64;
    println!("Idle websockets on one node (SQLite)");
    println!(
        "  {sockets} sockets: RSS {:.1} MiB -> {:.1} MiB = {per_socket:.1} KiB per socket  (goal <= 16 KiB)\n",
        before as f64 / 1024.0,
        after as f64 / 1024.0
    );
}

/// 1,000 commands/s over 1,000 boards with 10,000 sockets open, one node.
async fn fan_out_on_one_node() {
    let dir = tempfile::tempdir().unwrap();
    let url = database(sqlite_url(&dir)).await;
    let node = node("one", &url).await;
    let mut load = Load::start(&[node.address], BOARDS, CONTROLLERS, 1_000.0, seconds());
    let sockets = load.connected().await;
    let report = load.report().await;
    println!(
        "Fan-out on one node (SQLite): 1,000 commands/s over {BOARDS} boards, {sockets} sockets"
    );
    summary(&report);
    println!(
        "  fan-out p99 {:.2} ms  (goal <= 25 ms)\n",
        report["fan_out"]["p99_ms"].as_f64().unwrap()
    );
}

/// The same across two nodes on PostgreSQL, against a raw NOTIFY round trip, and against the
/// same round trip with a durable write in it (what an event must cost at least: it is
/// announced only once committed).
async fn fan_out_across_nodes() {
    let url = database(postgres::fresh_durable_database().await).await;
    let raw = notify_round_trips(&url, Baseline::Notify, seconds()).await;
    let durable = notify_round_trips(&url, Baseline::DurableNotify, seconds()).await;
    let a = node("a", &url).await;
    let b = node("b", &url).await;
    let mut load = Load::start(
        &[a.address, b.address],
        BOARDS,
        CONTROLLERS,
        1_000.0,
        seconds(),
    );
    let sockets = load.connected().await;
    // The raw round trip again while boardcast carries its load: what the database and the
    // shared cores give anyone at that moment. The durable one is measured alone only: beside
    // the load it would double the commits and fsyncs the nodes compete with.
    let (report, raw_loaded) = tokio::join!(
        load.report(),
        notify_round_trips(&url, Baseline::Notify, seconds() - 1.0)
    );
    let fan_out = report["fan_out"]["p99_ms"].as_f64().unwrap();
    println!("Fan-out across two nodes (PostgreSQL, fsync on): 1,000 commands/s, {sockets} sockets, boards and controllers on different nodes");
    println!(
        "  raw NOTIFY      round trip at 1,000/s: alone p50 {:.2} ms  p99 {:.2} ms; beside the load p50 {:.2} ms  p99 {:.2} ms",
        raw.0, raw.1, raw_loaded.0, raw_loaded.1
    );
    println!(
        "  insert + NOTIFY round trip at 1,000/s: alone p50 {:.2} ms  p99 {:.2} ms",
        durable.0, durable.1
    );
    summary(&report);
    println!("{}", append_times(&[a.address, b.address]).await);
    println!(
        "  fan-out p99 / raw NOTIFY p99 = {:.2}x alone, {:.2}x beside the load  (goal <= 3x)",
        fan_out / raw.1,
        fan_out / raw_loaded.1
    );
    println!(
        "  fan-out p99 / insert + NOTIFY p99 alone = {:.2}x\n",
        fan_out / durable.1
    );
}

/// What a baseline round trip sends.
#[derive(Clone, Copy)]
enum Baseline {
    /// `pg_notify` alone: no write, so its commit waits for no disk.
    Notify,
    /// A row inserted and `pg_notify` in the same statement, committed with fsync.
    DurableNotify,
}

/// p50 and p99 in milliseconds of a notification sent at 1,000/s → its arrival on another
/// connection.
async fn notify_round_trips(url: &str, baseline: Baseline, seconds: f64) -> (f64, f64) {
    use sqlx::{postgres::PgListener, Connection};
    let mut listener = PgListener::connect(url).await.unwrap();
    listener.listen("bench").await.unwrap();
    let mut sender = sqlx::PgConnection::connect(url).await.unwrap();
    let statement = match baseline {
        Baseline::Notify => "select pg_notify('bench', $1)",
        Baseline::DurableNotify => {
            sqlx::query("create table if not exists bench_log (id bigserial primary key, payload text not null)")
                .execute(&mut sender)
                .await
                .unwrap();
            "with written as (insert into bench_log (payload) values ($1) returning payload) \
             select pg_notify('bench', payload) from written"
        }
    };
    let started = std::time::Instant::now();
    let receiving = tokio::spawn(async move {
        let mut samples = Vec::new();
        while let Ok(Ok(notification)) =
            tokio::time::timeout(Duration::from_secs(2), listener.recv()).await
        {
            let sent: f64 = notification.payload().parse().unwrap();
            samples.push(started.elapsed().as_secs_f64() - sent);
        }
        samples
    });
    let mut ticks = tokio::time::interval(Duration::from_secs_f64(1.0 / 1_000.0));
    while started.elapsed().as_secs_f64() < seconds {
        ticks.tick().await;
        let payload = started.elapsed().as_secs_f64().to_string();
        sqlx::query(statement)
            .bind(payload)
            .execute(&mut sender)
            .await
            .unwrap();
    }
    let mut samples = receiving.await.unwrap();
    samples.sort_by(f64::total_cmp);
    let at = |q: f64| samples[((samples.len() as f64 * q) as usize).min(samples.len() - 1)] * 1e3;
    (at(0.5), at(0.99))
}

/// Rising command rates on one node (1,000 boards, one controller each) until p99 fan-out
/// passes 100 ms or the node stops keeping up.
async fn highest_sustained_rate() {
    let dir = tempfile::tempdir().unwrap();
    let url = database(sqlite_url(&dir)).await;
    let node = node("max", &url).await;
    println!(
        "Highest sustained command rate on one node (SQLite; {BOARDS} boards, 1 controller each)"
    );
    let mut best = 0.0;
    for rate in [
        500.0, 1_000.0, 2_000.0, 3_000.0, 4_000.0, 5_000.0, 6_000.0, 8_000.0,
    ] {
        let mut load = Load::start(&[node.address], BOARDS, 1, rate, seconds() / 2.0);
        load.connected().await;
        let report = load.report().await;
        let p99 = report["fan_out"]["p99_ms"].as_f64().unwrap();
        let acks = report["acks_per_second"].as_f64().unwrap();
        println!(
            "  {rate:5.0}/s: {acks:6.0} acks/s  fan-out {}  errors {}",
            latencies(&report, "fan_out"),
            report["errors"]
        );
        if p99 > 100.0 || acks < rate * 0.95 || report["errors"] != 0 {
            break;
        }
        best = rate;
    }
    println!("  highest sustained: {best:.0} commands/s with p99 <= 100 ms\n");
}
