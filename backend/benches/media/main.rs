//! Benchmarks of uploads and media sync with real `boardcast serve` processes (see
//! BENCHMARKS.md): upload ingest against `sha256sum` of the same file and the node's peak
//! memory meanwhile, peer sync of many files against a plain HTTP download of the same bytes,
//! and the time to first byte of a blob fetched on demand. Nodes, PostgreSQL and the client
//! share the machine's cores and disk.
//!
//! `cargo bench -p boardcast --bench media [-- NAME...]` runs all or the named benchmarks
//! (`ingest`, `sync`, `ttfb`); `BENCH_MEDIA_MIB` sets the data size (1024 MiB).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[allow(dead_code)]
#[path = "../../tests/api/node_process.rs"]
mod node_process;
#[allow(dead_code)]
#[path = "../../tests/api/postgres.rs"]
mod postgres;

use std::{
    path::Path,
    time::{Duration, Instant},
};

use boardcast::{
    auth::password::hash_password,
    clock::Clock,
    config::DatabaseUrl,
    store::{NewUser, Store},
};
use bytes::Bytes;
use futures_util::{stream, StreamExt};
use serde_json::Value;
use tokio::io::AsyncReadExt;

use self::node_process::NodeProcess;

const PASSWORD: &str = "bench-password";
const MIB: u64 = 1 << 20;
/// A PNG signature and header: the node checks only the first bytes of an upload.
const PNG_HEAD: &[u8] = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x10\0\0\0\x10\x08\x06\0\0\0";

fn total_mib() -> u64 {
    std::env::var("BENCH_MEDIA_MIB")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1024)
}

#[tokio::main]
async fn main() {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    println!(
        "boardcast media benchmarks on {cores} cores (nodes, database and client share them)\n"
    );
    let named: Vec<String> = std::env::args()
        .skip(1)
        .filter(|arg| !arg.starts_with('-'))
        .collect();
    let wanted = |name: &str| named.is_empty() || named.iter().any(|n| n == name);
    if wanted("ingest") {
        ingest().await;
    }
    if wanted("sync") {
        peer_sync().await;
    }
    if wanted("ttfb") {
        on_demand_first_byte().await;
    }
}

/// One upload of `BENCH_MEDIA_MIB` through a node vs `sha256sum` of the same file.
async fn ingest() {
    let scratch = tempfile::tempdir().unwrap();
    let file = scratch.path().join("video.bin");
    write_medium(&file, total_mib() * MIB, 1);
    let size_mib = total_mib() as f64;

    run_sha256sum(&file); // warm the page cache, as the upload will find it
    let started = Instant::now();
    run_sha256sum(&file);
    let baseline = started.elapsed();

    let database = tempfile::tempdir().unwrap();
    let url = database_with_teacher(sqlite_url(database.path())).await;
    let node = node("ingest", &url, &[]).await;
    let token = login(&node).await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let idle = node.rss_kib();
    let started = Instant::now();
    let created = upload_file(&node, &token, &file).await;
    let took = started.elapsed();
    let peak = node.peak_rss_kib();
    assert_eq!(created["size"].as_u64(), Some(total_mib() * MIB));

    let ours = size_mib / took.as_secs_f64();
    let theirs = size_mib / baseline.as_secs_f64();
    println!("upload ingest of {size_mib} MiB (node on SQLite, data on the same disk)");
    println!(
        "  sha256sum of the file        {theirs:>8.0} MiB/s  ({:.2} s)",
        baseline.as_secs_f64()
    );
    println!(
        "  POST /api/uploads            {ours:>8.0} MiB/s  ({:.2} s)",
        took.as_secs_f64()
    );
    println!(
        "  ratio                        {:>8.2}x  (goal >= 0.5x)",
        ours / theirs
    );
    println!(
        "  node memory: idle {:.1} MiB, peak {:.1} MiB, peak above idle {:.1} MiB (goal <= 64 MiB)\n",
        idle as f64 / 1024.0,
        peak as f64 / 1024.0,
        (peak.saturating_sub(idle)) as f64 / 1024.0
    );
}

/// 100 files uploaded to A; B starts empty and copies them all; against downloading the
/// same 100 files from A over plain HTTP (4 at once, as B's sync) into files.
async fn peer_sync() {
    let files = 100;
    let file_bytes = total_mib() * MIB / files;
    let url = database_with_teacher(postgres::fresh_durable_database().await).await;
    let fast = [("BOARDCAST_MEDIA__SYNC_INTERVAL", "200ms")];
    let a = node("sync-a", &url, &fast).await;
    let token = login(&a).await;
    let scratch = tempfile::tempdir().unwrap();
    let mut urls = Vec::new();
    for i in 0..files {
        let file = scratch.path().join(format!("{i}.bin"));
        write_medium(&file, file_bytes, i as u8);
        urls.push(format!(
            "http://{}{}",
            a.address,
            upload_file(&a, &token, &file).await["url"]
                .as_str()
                .unwrap()
        ));
        std::fs::remove_file(file).unwrap();
    }
    let total_mib = (file_bytes * files) as f64 / MIB as f64;

    let downloads = tempfile::tempdir().unwrap();
    let client = reqwest::Client::new();
    let started = Instant::now();
    stream::iter(urls.iter().enumerate())
        .for_each_concurrent(4, |(i, url)| {
            let client = client.clone();
            let path = downloads.path().join(format!("{i}.bin"));
            async move {
                let mut response = client.get(url).send().await.unwrap();
                let mut out = tokio::fs::File::create(path).await.unwrap();
                while let Some(chunk) = response.chunk().await.unwrap() {
                    tokio::io::AsyncWriteExt::write_all(&mut out, &chunk)
                        .await
                        .unwrap();
                }
            }
        })
        .await;
    let baseline = started.elapsed();
    drop(downloads);

    let b = node("sync-b", &url, &fast).await;
    let started = Instant::now();
    let objects = b.data_dir().join("blobs/objects");
    while count_files(&objects) < files as usize {
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert!(
            started.elapsed() < Duration::from_secs(600),
            "sync did not finish"
        );
    }
    let took = started.elapsed();
    let ours = total_mib / took.as_secs_f64();
    let theirs = total_mib / baseline.as_secs_f64();
    println!("peer sync of {total_mib:.0} MiB in {files} files from A to B (PostgreSQL, sync_interval 200ms)");
    println!(
        "  plain HTTP download, 4 at once {theirs:>7.0} MiB/s  ({:.2} s)",
        baseline.as_secs_f64()
    );
    println!(
        "  B's sync (hash, fsync, rename)  {ours:>7.0} MiB/s  ({:.2} s, from B serving)",
        took.as_secs_f64()
    );
    println!(
        "  ratio                          {:>7.2}x  (goal >= 0.5x)\n",
        ours / theirs
    );
}

/// Time to first byte of a blob C does not have yet (fetched from A while served) against
/// the same request to A, which has it.
async fn on_demand_first_byte() {
    let url = database_with_teacher(postgres::fresh_durable_database().await).await;
    let a = node("ttfb-a", &url, &[]).await;
    let slow = [("BOARDCAST_MEDIA__SYNC_INTERVAL", "1h")];
    let c = node("ttfb-c", &url, &slow).await;
    let token = login(&a).await;
    let scratch = tempfile::tempdir().unwrap();
    let client = reqwest::Client::new();
    let mut local = Vec::new();
    let mut remote = Vec::new();
    for i in 0..20u8 {
        let file = scratch.path().join("clip.bin");
        write_medium(&file, 50 * MIB, 100 + i);
        let created = upload_file(&a, &token, &file).await;
        let media = created["url"].as_str().unwrap();
        let path = &media[media.find("/media/").unwrap()..];
        remote.push(first_byte(&client, &format!("http://{}{path}", c.address)).await);
        local.push(first_byte(&client, &format!("http://{}{path}", a.address)).await);
    }
    local.sort();
    remote.sort();
    let ms = |d: &Duration| d.as_secs_f64() * 1e3;
    println!("time to first byte of a 50 MiB blob, 20 blobs");
    println!(
        "  node that has it     p50 {:>6.2} ms  max {:>6.2} ms",
        ms(&local[10]),
        ms(&local[19])
    );
    println!(
        "  node fetching it     p50 {:>6.2} ms  max {:>6.2} ms\n",
        ms(&remote[10]),
        ms(&remote[19])
    );
}

async fn first_byte(client: &reqwest::Client, url: &str) -> Duration {
    let started = Instant::now();
    let mut response = client.get(url).send().await.unwrap();
    assert_eq!(response.status(), 200, "{url}");
    response.chunk().await.unwrap().unwrap();
    let took = started.elapsed();
    while response.chunk().await.unwrap().is_some() {}
    took
}

/// A file that passes as an image: a PNG header, then pseudo-random bytes.
fn write_medium(path: &Path, len: u64, seed: u8) {
    use std::io::Write;
    let mut out =
        std::io::BufWriter::with_capacity(MIB as usize, std::fs::File::create(path).unwrap());
    out.write_all(PNG_HEAD).unwrap();
    let mut state = 0x9e37_79b9_7f4a_7c15u64 ^ u64::from(seed);
    let mut block = vec![0u8; MIB as usize];
    let mut left = len - PNG_HEAD.len() as u64;
    while left > 0 {
        for word in block.chunks_mut(8) {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            word.copy_from_slice(&state.to_le_bytes()[..word.len()]);
        }
        let n = left.min(MIB) as usize;
        out.write_all(&block[..n]).unwrap();
        left -= n as u64;
    }
    out.flush().unwrap();
}

fn run_sha256sum(path: &Path) {
    let status = std::process::Command::new("sha256sum")
        .arg(path)
        .stdout(std::process::Stdio::null())
        .status()
        .unwrap();
    assert!(status.success());
}

/// Streams a file to `POST /api/uploads` without holding it in memory.
async fn upload_file(node: &NodeProcess, token: &str, path: &Path) -> Value {
    let file = tokio::fs::File::open(path).await.unwrap();
    let len = file.metadata().await.unwrap().len();
    let chunks = stream::unfold(file, |mut file| async move {
        let mut buffer = vec![0u8; 256 * 1024];
        match file.read(&mut buffer).await {
            Ok(0) => None,
            Ok(n) => {
                buffer.truncate(n);
                Some((Ok::<_, std::io::Error>(Bytes::from(buffer)), file))
            }
            Err(e) => Some((Err(e), file)),
        }
    });
    let response = reqwest::Client::new()
        .post(format!(
            "http://{}/api/uploads?filename=medium.png",
            node.address
        ))
        .bearer_auth(token)
        .header("content-type", "image/png")
        .header("content-length", len)
        .body(reqwest::Body::wrap_stream(chunks))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
    response.json().await.unwrap()
}

fn count_files(dir: &Path) -> usize {
    std::fs::read_dir(dir).map_or(0, |fans| {
        fans.filter_map(Result::ok)
            .map(|fan| std::fs::read_dir(fan.path()).map_or(0, Iterator::count))
            .sum()
    })
}

async fn node(name: &str, url: &str, settings: &[(&str, &str)]) -> NodeProcess {
    let mut all = vec![("BOARDCAST_MEDIA__MAX_UPLOAD_SIZE", "4GiB")];
    all.extend_from_slice(settings);
    NodeProcess::start_with(name, url, &all).await
}

async fn login(node: &NodeProcess) -> String {
    let response: Value = reqwest::Client::new()
        .post(format!("http://{}/oauth/token", node.address))
        .form(&[
            ("grant_type", "password"),
            ("username", "teacher"),
            ("password", PASSWORD),
            ("client_id", "web"),
        ])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    response["access_token"].as_str().unwrap().to_string()
}

async fn database_with_teacher(url: String) -> String {
    let store = Store::connect(&DatabaseUrl::new(&url)).await.unwrap();
    store.migrate().await.unwrap();
    let teacher = NewUser {
        username: "teacher".into(),
        display_name: "Bench Teacher".into(),
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

fn sqlite_url(dir: &Path) -> String {
    format!("sqlite://{}?mode=rwc", dir.join("boardcast.db").display())
}
