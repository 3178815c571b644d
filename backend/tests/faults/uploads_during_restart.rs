//! Uploads while a node is killed (`kill -9`) and restarted, made as the app makes them: each
//! with an `Idempotency-Key`, its body streamed like a file over a school's network, and sent
//! again to the next node when its node stops answering. The node dies halfway through an
//! upload's body. Every upload ends 201 somewhere, every node ends with every blob and serves
//! it, and the restarted node has each blob on its disk within 2 s of its return (or of the
//! upload, for those made after it).

use std::{
    path::PathBuf,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use boardcast_sync::{object_path, Digest};
use futures_util::{future::join_all, StreamExt};
use serde_json::Value;
use tokio::sync::Notify;

use crate::{
    checks::print_table,
    cluster::{kill, LocalCluster},
    teacher::Session,
    SERIAL,
};

const UPLOADS: usize = 20;
/// A new upload starts this often; each takes longer than this to send, so they overlap.
const SPACING: Duration = Duration::from_millis(400);
/// Bodies go out `CHUNK` bytes every `CHUNK_PAUSE` (400 KB/s, a busy school uplink): an
/// upload of 100 to 290 KB is under way for a quarter to three quarters of a second.
const CHUNK: usize = 8 * 1024;
const CHUNK_PAUSE: Duration = Duration::from_millis(20);
/// The node killed, and the upload (one that starts on it) it dies in the middle of.
const VICTIM: usize = 1;
const CUT_UPLOAD: usize = 4;
/// How long the node stays dead before `restart-node`.
const DOWN_FOR: Duration = Duration::from_secs(2);
/// The promise: a blob reaches a node that comes back within this of its return.
const CAUGHT_UP_WITHIN: Duration = Duration::from_secs(2);
/// Every node has every blob this long after the last upload at the latest: announced
/// uploads are fetched at once, but a blob that only the killed node held when it died
/// reaches the others at their next sync pass (`[media] sync_interval`, 10 s).
const EVERYWHERE_WITHIN: Duration = Duration::from_secs(12);
/// Before an upload is sent again, to the next node.
const RETRY: Duration = Duration::from_millis(200);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn uploads_during_a_node_restart_end_on_every_node_and_reach_it_within_two_seconds() {
    let _one_at_a_time = SERIAL.lock().await;
    let mut cluster = tokio::task::spawn_blocking(|| LocalCluster::up(3))
        .await
        .unwrap();
    let nodes = cluster.node_urls();
    let victim = cluster.description.nodes[VICTIM].clone();
    let victim_disk = cluster.data_dir(&victim.node_id).join("blobs");
    let client = reqwest::Client::new();
    let (teacher, _) = Session::open(&client, &nodes[0], &cluster.user("teacher")).await;
    let token = teacher.access_token;
    let done: Done = Arc::new(Mutex::new(vec![None; UPLOADS]));
    let halfway = Arc::new(Notify::new());
    let watcher = tokio::spawn(watch_disk(victim_disk, Arc::clone(&done)));

    let started = tokio::time::Instant::now();
    let uploads: Vec<_> = (0..UPLOADS)
        .map(|n| {
            let (nodes, token, done) = (nodes.clone(), token.clone(), Arc::clone(&done));
            let halfway = (n == CUT_UPLOAD).then(|| Arc::clone(&halfway));
            tokio::spawn(async move {
                tokio::time::sleep_until(started + SPACING * n as u32).await;
                upload(&nodes, n, &token, halfway, &done).await
            })
        })
        .collect();
    halfway.notified().await;
    kill(&[victim.pid.expect("a running node")]);
    let killed_at = Instant::now();
    let ready = tokio::spawn(ready_again(victim.public_url.clone()));
    tokio::time::sleep(DOWN_FOR).await;
    cluster = tokio::task::spawn_blocking(move || {
        cluster.restart_node(&victim.node_id);
        cluster
    })
    .await
    .unwrap();
    let ready_at = ready.await.unwrap();
    let ends: Vec<End> = join_all(uploads)
        .await
        .into_iter()
        .map(Result::unwrap)
        .collect();
    let last_upload = ends.iter().map(|end| end.answered_at).max().unwrap();
    let on_victim = watcher.await.unwrap();

    // Made before its return: from /readyz. Made after: from the 201.
    let mut catch_up = Duration::ZERO;
    let mut after_return = Duration::ZERO;
    let mut missed = 0;
    for (end, seen) in ends.iter().zip(&on_victim) {
        let seen = seen.unwrap_or_else(|| panic!("upload {} never reached the node", end.n));
        if seen > killed_at && end.answered_at < ready_at {
            missed += 1;
        }
        let lag = seen.saturating_duration_since(ready_at.max(end.answered_at));
        assert!(
            lag <= CAUGHT_UP_WITHIN,
            "upload {} reached the restarted node {lag:?} after it could have",
            end.n
        );
        let worst = if end.answered_at < ready_at {
            &mut catch_up
        } else {
            &mut after_return
        };
        *worst = (*worst).max(lag);
    }
    let disks: Vec<PathBuf> = cluster
        .description
        .nodes
        .iter()
        .map(|node| cluster.data_dir(&node.node_id).join("blobs"))
        .collect();
    everywhere(&disks, &ends, last_upload + EVERYWHERE_WITHIN).await;
    let served = served_by_every_node(&nodes, &ends).await;

    let refused: usize = ends.iter().map(|end| end.refused).sum();
    let cut: usize = ends.iter().map(|end| end.cut).sum();
    assert!(cut > 0, "no upload was cut by the kill");
    let ms = |d: Duration| format!("{} ms", d.as_millis());
    print_table(
        "uploads while a node is killed and restarted",
        &[
            (
                "uploads (PNG, JPEG, PDF of 100-290 KB)",
                format!("{UPLOADS}, one every {} ms", SPACING.as_millis()),
            ),
            ("ended 201", format!("{UPLOADS} of {UPLOADS}")),
            (
                "sent again: cut mid-body / refused",
                format!("{cut} / {refused}"),
            ),
            (
                "node down (kill -9 → /readyz)",
                format!("{:.1} s", ready_at.duration_since(killed_at).as_secs_f64()),
            ),
            ("uploads it missed while down", missed.to_string()),
            ("/readyz → the last of them on its disk", ms(catch_up)),
            (
                "201 → on its disk, uploads after its return",
                ms(after_return),
            ),
            (
                "GET from every node: 200, same bytes",
                format!("{served} of {served}"),
            ),
        ],
    );
}

/// Per upload, in order of `n`, its blob once it has ended 201.
type Done = Arc<Mutex<Vec<Option<Digest>>>>;

/// How one upload ended: its blob, when the 201 came, how often it was sent again.
struct End {
    n: usize,
    digest: Digest,
    bytes: Vec<u8>,
    url_path: String,
    answered_at: Instant,
    /// Attempts that found their node not listening.
    refused: usize,
    /// Attempts cut off before an answer (the node died during the upload).
    cut: usize,
}

/// Upload `n`: a PNG, JPEG or PDF (recognised by its first bytes) of 100 to 290 KB.
fn file(n: usize) -> (&'static str, &'static str, Vec<u8>) {
    let (name, content_type, head): (_, _, &[u8]) = match n % 3 {
        0 => (
            "slide.png",
            "image/png",
            b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x10\0\0\0\x10\x08\x06\0\0\0",
        ),
        1 => ("photo.jpg", "image/jpeg", b"\xff\xd8\xff\xe0\0\x10JFIF\0"),
        _ => ("sheet.pdf", "application/pdf", b"%PDF-1.4\n"),
    };
    let mut bytes = head.to_vec();
    bytes.extend(
        (0..100_000 + n * 10_000).map(|i| (i as u8).wrapping_mul(31).wrapping_add(n as u8)),
    );
    (name, content_type, bytes)
}

/// Uploads file `n` to node `n % nodes`, then to the next node while it gets no answer or a
/// 5xx, with the same `Idempotency-Key`. `halfway` is told when the first attempt has sent
/// half of the body.
async fn upload(
    nodes: &[String],
    n: usize,
    token: &str,
    halfway: Option<Arc<Notify>>,
    done: &Done,
) -> End {
    let (name, content_type, bytes) = file(n);
    let key = uuid::Uuid::new_v4().to_string();
    let client = reqwest::Client::new();
    let (mut refused, mut cut) = (0, 0);
    for attempt in 0..10 {
        let node = &nodes[(n + attempt) % nodes.len()];
        let chunks: Vec<Vec<u8>> = bytes.chunks(CHUNK).map(<[u8]>::to_vec).collect();
        let middle = chunks.len() / 2;
        let halfway = halfway.clone().filter(|_| attempt == 0);
        let body =
            futures_util::stream::iter(chunks.into_iter().enumerate()).then(move |(i, chunk)| {
                let halfway = halfway.clone();
                async move {
                    tokio::time::sleep(CHUNK_PAUSE).await;
                    if let Some(halfway) = halfway.filter(|_| i == middle) {
                        halfway.notify_one();
                    }
                    Ok::<_, std::io::Error>(chunk)
                }
            });
        let sent = client
            .post(format!("{node}/api/uploads?filename={name}"))
            .bearer_auth(token)
            .header("content-type", content_type)
            .header("idempotency-key", &key)
            .body(reqwest::Body::wrap_stream(body))
            .send()
            .await;
        let answer = match sent {
            Ok(answer) if answer.status().is_server_error() => None,
            Ok(answer) => Some(answer),
            Err(error) if error.is_connect() => {
                refused += 1;
                None
            }
            Err(_) => {
                cut += 1;
                None
            }
        };
        if let Some(answer) = answer {
            let status = answer.status();
            let view: Value = answer.json().await.unwrap();
            assert_eq!(status, 201, "upload {n} on {node}: {view}");
            let answered_at = Instant::now();
            let digest = Digest::of(&bytes);
            assert_eq!(view["sha256"], digest.to_hex(), "upload {n}: another blob");
            done.lock().unwrap()[n] = Some(digest);
            let url = view["url"].as_str().unwrap();
            return End {
                n,
                digest,
                bytes,
                url_path: url[url.find("/media/").unwrap()..].to_string(),
                answered_at,
                refused,
                cut,
            };
        }
        tokio::time::sleep(RETRY).await;
    }
    panic!("upload {n} never ended");
}

/// When each upload's blob first appeared under `blobs` (polled every 10 ms), in order of
/// `n`; gives up a minute after the start.
async fn watch_disk(blobs: PathBuf, done: Done) -> Vec<Option<Instant>> {
    let mut seen = vec![None; UPLOADS];
    let give_up = Instant::now() + Duration::from_secs(60);
    while seen.iter().any(Option::is_none) && Instant::now() < give_up {
        let ended = done.lock().unwrap().clone();
        for (at, ended) in seen.iter_mut().zip(ended) {
            let Some(digest) = ended.filter(|_| at.is_none()) else {
                continue;
            };
            if object_path(&blobs, &digest).exists() {
                *at = Some(Instant::now());
            }
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    seen
}

/// When the node at `url` answers `/readyz` again, having first been seen not to.
async fn ready_again(url: String) -> Instant {
    let client = reqwest::Client::builder()
        .timeout(Duration::from_millis(500))
        .build()
        .unwrap();
    let mut was_down = false;
    loop {
        let answer = client.get(format!("{url}/readyz")).send().await;
        let is_ready = answer.is_ok_and(|answer| answer.status() == 200);
        if is_ready && was_down {
            return Instant::now();
        }
        was_down |= !is_ready;
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Waits until every node's disk holds every blob; fails past `deadline`.
async fn everywhere(disks: &[PathBuf], ends: &[End], deadline: Instant) {
    loop {
        let missing: Vec<String> = disks
            .iter()
            .flat_map(|disk| ends.iter().map(move |end| (disk, end)))
            .filter(|(disk, end)| !object_path(disk, &end.digest).exists())
            .map(|(disk, end)| format!("upload {} on {}", end.n, disk.display()))
            .collect();
        if missing.is_empty() {
            return;
        }
        assert!(Instant::now() < deadline, "blobs missing: {missing:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Fetches every upload's signed URL from every node; the number of GETs, each 200 with the
/// uploaded bytes.
async fn served_by_every_node(nodes: &[String], ends: &[End]) -> usize {
    let client = reqwest::Client::new();
    for node in nodes {
        for end in ends {
            let answer = client
                .get(format!("{node}{}", end.url_path))
                .send()
                .await
                .unwrap();
            assert_eq!(answer.status(), 200, "upload {} from {node}", end.n);
            let body = answer.bytes().await.unwrap();
            assert!(
                body[..] == end.bytes[..],
                "upload {} from {node}: other bytes",
                end.n
            );
        }
    }
    nodes.len() * ends.len()
}
