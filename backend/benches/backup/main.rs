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

use std::{
    ffi::OsStr,
    io::Write,
    net::SocketAddr,
    path::{Path, PathBuf},
    process::Stdio,
    sync::{
        atomic::{AtomicBool, Ordering},
        Arc,
    },
    time::{Duration, Instant},
};

use boardcast::{
    auth::password::hash_password,
    config::DatabaseUrl,
    store::{now_millis, NewUser, Store},
};
use serde_json::Value;
use sha2::{Digest, Sha256};
use sqlx::{Connection, PgConnection};
use tokio::io::{AsyncBufReadExt, BufReader};

use self::node_process::{NodeProcess, CLUSTER_SECRET};

const PASSWORD: &str = "bench-password";
const MIB: u64 = 1 << 20;
const USERS: i64 = 200;
const BOARDS: i64 = 1_000;
/// 1,000 boards of 100 events: 100,000 events.
const EVENTS_PER_BOARD: i64 = 100;
const LESSONS: i64 = 100;
const TOKENS: i64 = 2_000;
const BLOBS: u64 = 64;
/// Every table a backup carries, for the comparison of a restored database with its source.
const TABLES: &[&str] = &[
    "users",
    "oauth_clients",
    "tokens",
    "revoked_families",
    "boards",
    "pairings",
    "board_states",
    "board_events",
    "uploads",
    "lessons",
    "lesson_media",
];

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

/// The database and data directory every benchmark backs up.
struct School {
    url: String,
    data_dir: PathBuf,
    rows: i64,
    blob_bytes: u64,
}

impl School {
    /// A PostgreSQL database of users, tokens, boards with their pairings, states and 100,000
    /// events, lessons and uploads, and the uploads' blobs of random bytes.
    async fn seed(scratch: &Path) -> Self {
        let started = Instant::now();
        let url = postgres::fresh_durable_database().await;
        let store = Store::connect(&DatabaseUrl::new(&url)).await.unwrap();
        store.migrate().await.unwrap();
        let teacher = NewUser {
            username: "teacher".into(),
            display_name: "Bench Teacher".into(),
            password_hash: hash_password(PASSWORD.into()).await.unwrap(),
            roles: "teacher".into(),
        };
        store.create_user(teacher, now_millis()).await.unwrap();
        store.close().await;

        let data_dir = scratch.join("node");
        let blob_bytes = env_or("BENCH_BLOB_MIB", 1024u64) * MIB;
        let blobs = {
            let objects = data_dir.join("blobs").join("objects");
            tokio::task::spawn_blocking(move || write_blobs(&objects, blob_bytes / BLOBS))
                .await
                .unwrap()
        };
        let mut db = PgConnection::connect(&url).await.unwrap();
        for statement in seed_statements(now_millis()) {
            sqlx::query(&statement).execute(&mut db).await.unwrap();
        }
        let (hashes, sizes): (Vec<String>, Vec<i64>) = blobs.into_iter().unzip();
        sqlx::query(
            "insert into uploads (id, owner_id, sha256, size, content_type, filename, stored_by, \
             idempotency_key, created_at) \
             select md5('upload' || (n - 1))::uuid::text, md5('user' || n)::uuid::text, sha256, \
             size, 'video/mp4', 'clip-' || n || '.mp4', 'bench', null, 1780000000000 + n \
             from unnest($1::text[], $2::bigint[]) with ordinality as blob(sha256, size, n)",
        )
        .bind(&hashes)
        .bind(&sizes)
        .execute(&mut db)
        .await
        .unwrap();
        sqlx::query("vacuum analyze")
            .execute(&mut db)
            .await
            .unwrap();
        db.close().await.unwrap();
        let rows = table_counts(&url).await.iter().map(|(_, n)| n).sum();
        sync();
        println!(
            "Seeded in {:.1} s: {rows} rows ({} board events) and {} blobs of {} MiB\n",
            started.elapsed().as_secs_f64(),
            BOARDS * EVENTS_PER_BOARD,
            BLOBS,
            blob_bytes / BLOBS / MIB
        );
        Self {
            url,
            data_dir,
            rows,
            blob_bytes,
        }
    }
}

/// Rows as nodes write them: ids are UUIDs, board states are the state after the board's
/// last event, lessons show the uploads of their owners. The school started a month before
/// `now`; its events are of the last hours, as a node keeps a day of them.
fn seed_statements(now: i64) -> Vec<String> {
    let t0 = now - 30 * 86_400_000;
    let events_t0 = now - 3 * 3_600_000;
    let user = |n: &str| format!("md5('user' || ({n}))::uuid::text");
    let board = |n: &str| format!("md5('board' || ({n}))::uuid::text");
    vec![
        format!(
            "insert into users (id, username, display_name, password_hash, roles, source, created_at) \
             select {}, 'user' || i, 'Teacher ' || i, null, 'teacher', 'ldap', {t0} + i \
             from generate_series(1, {}) i",
            user("i"),
            USERS - 1
        ),
        format!(
            "insert into tokens (digest, kind, family_id, user_id, client_id, scope, expires_at, \
             used_at, revoked_at) \
             select encode(sha256(('token' || i)::bytea), 'hex'), \
             case when i % 2 = 0 then 'access' else 'refresh' end, md5('family' || (i / 2))::uuid::text, \
             {}, 'web', 'boardcast', {} + i, null, null from generate_series(1, {TOKENS}) i",
            user(&format!("i % {} + 1", USERS - 1)),
            t0 + 60 * 86_400_000
        ),
        format!(
            "insert into revoked_families (family_id, revoked_at) \
             select md5('family' || i)::uuid::text, {t0} + i from generate_series(1, 50) i"
        ),
        format!(
            "insert into boards (id, name, secret_digest, created_at, last_seen_at) \
             select {}, 'Room ' || i, encode(sha256(('secret' || i)::bytea), 'hex'), {t0} + i, \
             {} + i from generate_series(1, {BOARDS}) i",
            board("i"),
            t0 + 29 * 86_400_000
        ),
        format!(
            "insert into pairings (id, board_id, user_id, label, created_at) \
             select md5('pairing' || i)::uuid::text, {}, {}, 'Room ' || i, {t0} + 1000 + i \
             from generate_series(1, {BOARDS}) i",
            board("i"),
            user(&format!("i % {} + 1", USERS - 1))
        ),
        format!(
            "insert into board_events (board_id, seq, command_id, action, by_user_id, at) \
             select {}, s, md5('command' || b || '-' || s)::uuid::text, \
             case when s % 2 = 1 then '{{\"kind\":\"blank\",\"on\":true}}' \
             else '{{\"kind\":\"blank\",\"on\":false}}' end, {}, {} + b * 1000 + s \
             from generate_series(1, {BOARDS}) b, generate_series(1, {EVENTS_PER_BOARD}) s",
            board("b"),
            user(&format!("b % {} + 1", USERS - 1)),
            events_t0
        ),
        format!(
            "insert into board_states (board_id, seq, state, updated_at) \
             select {}, {EVENTS_PER_BOARD}, \
             '{{\"lesson_id\":null,\"slide\":0,\"blank\":{},\"timer_ends_at\":null}}', \
             {} + b * 1000 + {EVENTS_PER_BOARD} from generate_series(1, {BOARDS}) b",
            board("b"),
            EVENTS_PER_BOARD % 2 == 1,
            events_t0
        ),
        format!(
            "insert into lessons (id, owner_id, title, version, slides, slide_count, created_at, \
             updated_at) \
             select md5('lesson' || i)::uuid::text, {}, 'Lesson ' || i, 1, \
             '[{{\"id\":\"' || md5('slide-a' || i)::uuid || '\",\"kind\":\"video\",\"upload_id\":\"' \
             || md5('upload' || (i % {BLOBS}))::uuid || '\"}},{{\"id\":\"' || md5('slide-b' || i)::uuid \
             || '\",\"kind\":\"text\",\"text\":\"Questions?\"}}]', 2, {t0} + i, {t0} + i \
             from generate_series(0, {}) i",
            user(&format!("i % {BLOBS} + 1")),
            LESSONS - 1
        ),
        format!(
            "insert into lesson_media (lesson_id, upload_id) \
             select md5('lesson' || i)::uuid::text, md5('upload' || (i % {BLOBS}))::uuid::text \
             from generate_series(0, {}) i",
            LESSONS - 1
        ),
    ]
}

/// Writes `BLOBS` files of `size` pseudo-random bytes where a node keeps them; their SHA-256
/// in hex and sizes.
fn write_blobs(objects: &Path, size: u64) -> Vec<(String, i64)> {
    let mut block = vec![0u8; MIB as usize];
    (0..BLOBS)
        .map(|n| {
            let mut state = 0x9e37_79b9_7f4a_7c15u64 ^ (n + 1).wrapping_mul(0xff51_afd7_ed55_8ccd);
            let mut hasher = Sha256::new();
            let incoming = objects.join("incoming");
            std::fs::create_dir_all(objects).unwrap();
            let mut file = std::io::BufWriter::new(std::fs::File::create(&incoming).unwrap());
            let mut left = size;
            while left > 0 {
                for word in block.chunks_mut(8) {
                    state ^= state << 13;
                    state ^= state >> 7;
                    state ^= state << 17;
                    word.copy_from_slice(&state.to_le_bytes()[..word.len()]);
                }
                let len = left.min(MIB) as usize;
                hasher.update(&block[..len]);
                file.write_all(&block[..len]).unwrap();
                left -= len as u64;
            }
            file.flush().unwrap();
            drop(file);
            let hex = hex::encode(hasher.finalize());
            let fan = objects.join(&hex[..2]);
            std::fs::create_dir_all(&fan).unwrap();
            std::fs::rename(&incoming, fan.join(&hex)).unwrap();
            (hex, size as i64)
        })
        .collect()
}

/// Rows per backed-up table.
async fn table_counts(url: &str) -> Vec<(&'static str, i64)> {
    let mut db = PgConnection::connect(url).await.unwrap();
    let mut counts = Vec::new();
    for table in TABLES {
        let n: i64 = sqlx::query_scalar(&format!("select count(*) from {table}"))
            .fetch_one(&mut db)
            .await
            .unwrap();
        counts.push((*table, n));
    }
    db.close().await.unwrap();
    counts
}

/// A digest of the whole board log, to tell a restored log from its source.
async fn log_digest(url: &str) -> String {
    let mut db = PgConnection::connect(url).await.unwrap();
    let digest: String = sqlx::query_scalar(
        "select md5(string_agg(concat_ws('|', board_id, seq, command_id, action, by_user_id, at), \
         ',' order by board_id, seq)) from board_events",
    )
    .fetch_one(&mut db)
    .await
    .unwrap();
    db.close().await.unwrap();
    digest
}

/// What a run of the `boardcast` binary printed, and how long it took.
struct Ran {
    seconds: f64,
    stdout: String,
    stderr: String,
}

impl Ran {
    /// The steps the command reported on stderr ("blobs: ... in 3.2 s"), with their seconds.
    fn steps(&self) -> Vec<(&str, f64)> {
        self.stderr
            .lines()
            .filter_map(|line| {
                let (name, rest) = line.split_once(": ")?;
                let seconds = rest.strip_suffix(" s")?.rsplit_once(" in ")?.1;
                (!name.contains(' ')).then_some((name, seconds.parse().ok()?))
            })
            .collect()
    }

    fn steps_line(&self) -> String {
        let steps: Vec<String> = self
            .steps()
            .iter()
            .map(|(name, seconds)| format!("{name} {seconds:.1} s"))
            .collect();
        steps.join(", ")
    }

    /// The last line on stdout: the new backup's path, for `backup`.
    fn last_line(&self) -> PathBuf {
        PathBuf::from(self.stdout.lines().last().unwrap_or_default())
    }
}

/// Runs `boardcast ARGS` against a database and data directory as an admin would, and
/// requires it to succeed.
async fn boardcast(args: &[&OsStr], database_url: &str, data_dir: &Path) -> Ran {
    let started = Instant::now();
    let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_boardcast"))
        .args(args)
        .env("BOARDCAST_DATABASE_URL", database_url)
        .env("BOARDCAST_DATA_DIR", data_dir)
        .env("BOARDCAST_CLUSTER_SECRET", CLUSTER_SECRET)
        .env("BOARDCAST_NODE_ID", "admin-shell")
        .env("RUST_LOG", "warn")
        .output()
        .await
        .unwrap();
    let seconds = started.elapsed().as_secs_f64();
    let ran = Ran {
        seconds,
        stdout: String::from_utf8_lossy(&output.stdout).into(),
        stderr: String::from_utf8_lossy(&output.stderr).into(),
    };
    assert!(
        output.status.success(),
        "boardcast {args:?} failed ({}):\n{}\n{}",
        output.status,
        ran.stdout,
        ran.stderr
    );
    ran
}

/// Seconds a program took; it must succeed.
async fn timed(program: impl AsRef<OsStr>, args: &[&OsStr]) -> f64 {
    let started = Instant::now();
    let output = tokio::process::Command::new(program.as_ref())
        .args(args)
        .stdout(Stdio::null())
        .output()
        .await
        .unwrap();
    assert!(
        output.status.success(),
        "{:?} {args:?} failed: {}",
        program.as_ref(),
        String::from_utf8_lossy(&output.stderr)
    );
    started.elapsed().as_secs_f64()
}

/// Writes every dirty page to disk, so no step pays for the one before it.
fn sync() {
    let status = std::process::Command::new("sync").status().unwrap();
    assert!(status.success());
}

async fn drop_database(url: &str) {
    let (server, name) = url.rsplit_once('/').unwrap();
    let mut admin = PgConnection::connect(&format!("{server}/postgres"))
        .await
        .unwrap();
    sqlx::query(&format!("drop database if exists {name} with (force)"))
        .execute(&mut admin)
        .await
        .unwrap();
    admin.close().await.unwrap();
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

/// Times of one round, in seconds.
#[derive(Default)]
struct Round {
    full: f64,
    incremental: f64,
    verify: f64,
    pg_dump: f64,
    cp_out: f64,
    sync_out: f64,
    restore: f64,
    pg_restore: f64,
    cp_in: f64,
    sync_in: f64,
    steps: [String; 4],
}

/// Backup, incremental backup, verify and restore, each against its baseline, in rounds.
async fn backup_and_restore(school: &School, scratch: &Path) {
    let rounds = env_or("BENCH_ROUNDS", 3usize).max(1);
    let source_counts = table_counts(&school.url).await;
    let source_log = log_digest(&school.url).await;
    let blobs = school.data_dir.join("blobs");
    let mut all = Vec::new();
    for round in 0..rounds {
        let ours_dir = scratch.join(format!("ours-{round}"));
        let base_dir = scratch.join(format!("base-{round}"));
        let dump = base_dir.join("boardcast.dump");
        let mut r = Round::default();

        // Out: ours and the baseline, in turns first, each after a sync.
        for ours_first in [round % 2 == 0, round % 2 == 1] {
            sync();
            if ours_first {
                let ran = boardcast(
                    &["backup".as_ref(), "--out".as_ref(), ours_dir.as_os_str()],
                    &school.url,
                    &school.data_dir,
                )
                .await;
                r.full = ran.seconds;
                r.steps[0] = ran.steps_line();
            } else {
                std::fs::create_dir_all(&base_dir).unwrap();
                r.pg_dump = timed(
                    postgres::bin_dir().join("pg_dump"),
                    &[
                        "-Fc".as_ref(),
                        "-f".as_ref(),
                        dump.as_os_str(),
                        "-d".as_ref(),
                        school.url.as_ref(),
                    ],
                )
                .await;
                r.cp_out = timed(
                    "cp",
                    &["-r".as_ref(), blobs.as_os_str(), base_dir.as_os_str()],
                )
                .await;
                r.sync_out = timed("sync", &[]).await;
            }
        }
        sync();
        let ran = boardcast(
            &["backup".as_ref(), "--out".as_ref(), ours_dir.as_os_str()],
            &school.url,
            &school.data_dir,
        )
        .await;
        r.incremental = ran.seconds;
        r.steps[1] = ran.steps_line();
        let backup = ran.last_line();
        sync();
        let ran = boardcast(
            &["verify".as_ref(), backup.as_os_str()],
            &school.url,
            &school.data_dir,
        )
        .await;
        r.verify = ran.seconds;
        r.steps[2] = ran.steps_line();

        // In: into fresh databases and data directories.
        let ours_url = postgres::fresh_durable_database().await;
        let ours_data = scratch.join(format!("restored-ours-{round}"));
        let base_url = postgres::fresh_durable_database().await;
        let base_data = scratch.join(format!("restored-base-{round}"));
        std::fs::create_dir_all(&base_data).unwrap();
        for ours_first in [round % 2 == 0, round % 2 == 1] {
            sync();
            if ours_first {
                let ran = boardcast(
                    &["restore".as_ref(), backup.as_os_str()],
                    &ours_url,
                    &ours_data,
                )
                .await;
                r.restore = ran.seconds;
                r.steps[3] = ran.steps_line();
            } else {
                r.pg_restore = timed(
                    postgres::bin_dir().join("pg_restore"),
                    &["-d".as_ref(), base_url.as_ref(), dump.as_os_str()],
                )
                .await;
                r.cp_in = timed(
                    "cp",
                    &[
                        "-r".as_ref(),
                        base_dir.join("blobs").as_os_str(),
                        base_data.as_os_str(),
                    ],
                )
                .await;
                r.sync_in = timed("sync", &[]).await;
            }
        }
        let restored = table_counts(&ours_url).await;
        assert_eq!(restored, source_counts, "the restored database differs");
        assert_eq!(
            log_digest(&ours_url).await,
            source_log,
            "the restored log differs"
        );
        let restored_blobs = count_files(&ours_data.join("blobs").join("objects"));
        assert_eq!(restored_blobs, BLOBS, "blobs restored");

        for dir in [&ours_dir, &base_dir, &ours_data, &base_data] {
            std::fs::remove_dir_all(dir).unwrap();
        }
        drop_database(&ours_url).await;
        drop_database(&base_url).await;
        println!(
            "  round {}: backup {:.2} s ({}) | pg_dump {:.2} + cp -r {:.2} (+ sync {:.2}) | incremental {:.2} s ({}) | verify {:.2} s ({}) | restore {:.2} s ({}) | pg_restore {:.2} + cp -r {:.2} (+ sync {:.2})",
            round + 1,
            r.full,
            r.steps[0],
            r.pg_dump,
            r.cp_out,
            r.sync_out,
            r.incremental,
            r.steps[1],
            r.verify,
            r.steps[2],
            r.restore,
            r.steps[3],
            r.pg_restore,
            r.cp_in,
            r.sync_in
        );
        all.push(r);
    }

    let of = |pick: fn(&Round) -> f64| all.iter().map(pick).collect::<Vec<f64>>();
    let full = of(|r| r.full);
    let incremental = of(|r| r.incremental);
    let verify = of(|r| r.verify);
    let restore = of(|r| r.restore);
    let pg_dump = of(|r| r.pg_dump);
    let dump_and_cp = of(|r| r.pg_dump + r.cp_out);
    let dump_cp_sync = of(|r| r.pg_dump + r.cp_out + r.sync_out);
    let restore_and_cp = of(|r| r.pg_restore + r.cp_in);
    let restore_cp_sync = of(|r| r.pg_restore + r.cp_in + r.sync_in);
    println!(
        "\nBackup and restore of {} rows ({} board events) and {} blobs, {} MiB, PostgreSQL \
         with fsync on; median of {rounds} round(s) (each round's figures above)",
        school.rows,
        BOARDS * EVENTS_PER_BOARD,
        BLOBS,
        school.blob_bytes / MIB
    );
    let line = |what: &str, samples: &[f64]| {
        println!(
            "  {what:<42} {:7.2} s   ({})",
            median(samples),
            rounds_of(samples)
        );
    };
    line("boardcast backup, first (full)", &full);
    line("pg_dump -Fc + cp -r", &dump_and_cp);
    line("pg_dump -Fc + cp -r + sync", &dump_cp_sync);
    line("boardcast backup, second (no new blobs)", &incremental);
    line("pg_dump -Fc alone", &pg_dump);
    line("boardcast verify", &verify);
    line("boardcast restore", &restore);
    line("pg_restore + cp -r", &restore_and_cp);
    line("pg_restore + cp -r + sync", &restore_cp_sync);
    println!(
        "  ratios (ours / baseline): full backup {:.2}x ({:.2}x against the baseline with sync); \
         second backup {:.2}x pg_dump alone; restore {:.2}x ({:.2}x with sync)\n",
        median(&full) / median(&dump_and_cp),
        median(&full) / median(&dump_cp_sync),
        median(&incremental) / median(&pg_dump),
        median(&restore) / median(&restore_and_cp),
        median(&restore) / median(&restore_cp_sync)
    );
}

fn count_files(dir: &Path) -> u64 {
    let mut files = 0;
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            files += count_files(&path);
        } else {
            files += 1;
        }
    }
    files
}

/// Command acks on a node serving the school, without backups and while backups run back to
/// back beside it, then without again (the host drifts).
async fn acks_beside_backups(school: &School, scratch: &Path) {
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
        let ran = boardcast(&args, &self.url, &self.data_dir).await;
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

/// Hard links of every file under `from`, at the same places under `to`.
fn link_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let path = entry.unwrap().path();
        let target = to.join(path.file_name().unwrap());
        if path.is_dir() {
            link_tree(&path, &target);
        } else {
            std::fs::hard_link(&path, &target).unwrap();
        }
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
