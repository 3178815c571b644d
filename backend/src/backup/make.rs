//! `boardcast backup`: every backed-up table from one consistent read, then the blobs the
//! uploads in that read name, then the manifest; the backup appears under its final name only
//! once all of it is on disk.

use std::{
    collections::BTreeSet,
    fs,
    os::unix::fs::DirBuilderExt,
    path::{Path, PathBuf},
    time::{Duration, Instant},
};

use anyhow::{bail, Context};
use boardcast_sync::{object_path, ClusterKey, HttpPeer, Peer};
use futures_util::TryStreamExt;

use super::{
    blob_pool::{in_parallel, BadSource, BlobPool},
    lock,
    manifest::{
        BlobEntry, BlobsPart, Manifest, PartWriter, Source, TablePart, BLOB_LIST, FORMAT,
        FORMAT_VERSION, TABLES_DIR,
    },
    progress::{Progress, Unit},
    retention::{self, Retention},
};
use crate::{
    clock::Clock,
    config::Settings,
    media::is_alive,
    store::{BackupRecord, Column, Engine, Store, Value, BACKED_UP, LEFT_OUT},
    wire_time::to_rfc3339,
};

/// Prefix of a backup being written; a crash leaves it behind and the next backup clears it.
pub const PARTIAL: &str = ".partial-";

/// What one backup did.
#[derive(Debug)]
pub struct Summary {
    pub path: PathBuf,
    pub tables: usize,
    pub rows: u64,
    pub blobs: u64,
    pub blob_bytes: u64,
    /// Blobs this backup copied (the others were in the directory already).
    pub blobs_copied: u64,
    pub bytes_copied: u64,
    pub elapsed: Duration,
    pub retention: Option<Retention>,
}

/// Backs up the database of `store` and the blobs under `settings.data_dir` into the backups
/// directory `out`, then keeps the newest `keep` backups there.
pub async fn backup(
    store: &Store,
    settings: &Settings,
    out: &Path,
    keep: Option<usize>,
    progress: Progress,
) -> anyhow::Result<Summary> {
    let started = Instant::now();
    // Hashes of passwords and tokens are in there: readable by the admin only.
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(out)
        .with_context(|| format!("cannot create {}", out.display()))?;
    let _lock = lock::exclusive(out).context("cannot lock the backups directory")?;
    clear_partial(out)?;
    check_every_table_is_known(store).await?;
    let created_at = Clock::system().now_millis();
    let name = free_name(out, created_at);
    let partial = out.join(format!("{PARTIAL}{name}"));
    fs::create_dir_all(partial.join(TABLES_DIR))?;

    let schema_version = store.schema_version().await?;
    let (tables, blobs) = copy_tables(store, &partial, progress).await?;
    let pool = BlobPool::of(out);
    let (blobs_part, copied) = copy_blobs(store, settings, &pool, &partial, &blobs, progress)
        .await
        .context("cannot copy the blobs")?;
    let manifest = Manifest {
        format: FORMAT.into(),
        format_version: FORMAT_VERSION,
        schema_version,
        created_at: to_rfc3339(created_at),
        source: Source {
            node_id: settings.node_id.clone(),
            engine: engine_name(store.engine()).into(),
            boardcast_version: env!("CARGO_PKG_VERSION").into(),
        },
        tables,
        blobs: blobs_part,
    };
    manifest.write(&partial)?;
    sync_dir(&partial)?;
    let path = out.join(&name);
    fs::rename(&partial, &path)?;
    sync_dir(out)?;

    let summary_rows = manifest.rows();
    let path = fs::canonicalize(&path).unwrap_or(path);
    store
        .record_backup(&BackupRecord {
            id: uuid::Uuid::now_v7().to_string(),
            path: path.display().to_string(),
            node_id: settings.node_id.clone(),
            created_at,
            finished_at: Clock::system().now_millis(),
            rows: i64::try_from(summary_rows).unwrap_or(i64::MAX),
            blobs: i64::try_from(manifest.blobs.count).unwrap_or(i64::MAX),
            bytes: i64::try_from(manifest.blobs.total_bytes).unwrap_or(i64::MAX),
        })
        .await
        .context("the backup is complete, but recording it in the database failed")?;
    let retention = match keep {
        Some(keep) => Some(retention::keep_newest(out, keep)?),
        None => None,
    };
    Ok(Summary {
        path,
        tables: manifest.tables.len(),
        rows: summary_rows,
        blobs: manifest.blobs.count,
        blob_bytes: manifest.blobs.total_bytes,
        blobs_copied: copied.0,
        bytes_copied: copied.1,
        elapsed: started.elapsed(),
        retention,
    })
}

/// A table nobody decided about could hold data a restore would silently lose.
async fn check_every_table_is_known(store: &Store) -> anyhow::Result<()> {
    let known = |name: &str| {
        BACKED_UP.iter().any(|t| t.name == name) || LEFT_OUT.iter().any(|(t, _)| *t == name)
    };
    let unknown: Vec<String> = store
        .table_names()
        .await?
        .into_iter()
        .filter(|name| !known(name))
        .collect();
    if !unknown.is_empty() {
        bail!(
            "the database has tables this boardcast does not know ({}); back up with the \
             boardcast version the nodes run",
            unknown.join(", ")
        );
    }
    Ok(())
}

/// Writes every backed-up table from one snapshot; their parts, and the blobs the uploads in
/// that same snapshot name.
async fn copy_tables(
    store: &Store,
    dir: &Path,
    progress: Progress,
) -> anyhow::Result<(Vec<TablePart>, BTreeSet<BlobEntry>)> {
    let mut columns = Vec::new();
    for table in BACKED_UP {
        columns.push(store.columns(table.name).await?);
    }
    let step = progress.step("tables", 0, Unit::Rows);
    let mut snapshot = store.snapshot().await?;
    let mut parts = Vec::new();
    let mut blobs = BTreeSet::new();
    for (table, columns) in BACKED_UP.iter().zip(columns) {
        step.note(table.name);
        let file = format!("{TABLES_DIR}/{}.jsonl", table.name);
        let mut writer = PartWriter::create(&dir.join(&file))?;
        let blob_columns = (table.name == "uploads")
            .then(|| Some((position(&columns, "sha256")?, position(&columns, "size")?)))
            .flatten();
        snapshot
            .for_each_row(table, &columns, |row| -> anyhow::Result<()> {
                if let Some((sha256, size)) = blob_columns {
                    blobs.insert(blob_of(&row[sha256], &row[size])?);
                }
                writer.line(&row)?;
                step.advance(1);
                Ok(())
            })
            .await?;
        let rows = writer.lines();
        parts.push(TablePart {
            name: table.name.into(),
            columns,
            rows,
            part: writer.finish(file)?,
        });
    }
    snapshot.finish().await?;
    let rows: u64 = parts.iter().map(|p| p.rows).sum();
    step.finish(&format!("{rows} rows of {} tables", parts.len()));
    Ok((parts, blobs))
}

fn position(columns: &[Column], name: &str) -> Option<usize> {
    columns.iter().position(|c| c.name == name)
}

fn blob_of(sha256: &Value, size: &Value) -> anyhow::Result<BlobEntry> {
    match (sha256, size) {
        (Value::Text(hex), Value::Integer(size)) => Ok(BlobEntry {
            sha256: hex
                .parse()
                .context("an upload names a blob by a bad digest")?,
            size: u64::try_from(*size).context("an upload has a negative size")?,
        }),
        _ => bail!("an upload lacks its blob's digest or size"),
    }
}

/// Lists the blobs and copies those the pool lacks, from the node's store or, for a blob
/// this node has not synced yet, from a peer; the list's part and (blobs, bytes) copied.
async fn copy_blobs(
    store: &Store,
    settings: &Settings,
    pool: &BlobPool,
    dir: &Path,
    blobs: &BTreeSet<BlobEntry>,
    progress: Progress,
) -> anyhow::Result<(BlobsPart, (u64, u64))> {
    let mut list = PartWriter::create(&dir.join(BLOB_LIST))?;
    for blob in blobs {
        list.line(blob)?;
    }
    let total_bytes = blobs.iter().map(|b| b.size).sum();
    let blobs_part = BlobsPart {
        count: list.lines(),
        total_bytes,
        part: list.finish(BLOB_LIST.into())?,
    };
    let wanted: Vec<BlobEntry> = blobs.iter().filter(|b| !pool.has(b)).copied().collect();
    let wanted_bytes = wanted.iter().map(|b| b.size).sum();
    let step = progress.step("blobs", wanted_bytes, Unit::Bytes);
    let local = settings.data_dir.join("blobs");
    let copies = tokio::task::block_in_place(|| {
        in_parallel(&wanted, |blob| {
            let copied = pool.copy_in(blob, &object_path(&local, &blob.sha256))?;
            step.advance(blob.size);
            Ok(copied)
        })
    })?;
    let elsewhere: Vec<(BlobEntry, BadSource)> = wanted
        .iter()
        .zip(copies)
        .filter_map(|(blob, copied)| copied.err().map(|why| (*blob, why)))
        .collect();
    if !elsewhere.is_empty() {
        fetch_from_peers(store, settings, pool, &elsewhere).await?;
    }
    step.finish(&format!(
        "{} of {} blobs new here ({})",
        wanted.len(),
        blobs.len(),
        indicatif::HumanBytes(wanted_bytes)
    ));
    Ok((blobs_part, (wanted.len() as u64, wanted_bytes)))
}

/// Fetches blobs this node lacks (or holds damaged) from the other live nodes.
async fn fetch_from_peers(
    store: &Store,
    settings: &Settings,
    pool: &BlobPool,
    blobs: &[(BlobEntry, BadSource)],
) -> anyhow::Result<()> {
    let now = Clock::system().now_millis();
    let key = ClusterKey::new(settings.cluster_secret.expose());
    let client = HttpPeer::client(crate::tls::for_peers(settings)?)?;
    let peers: Vec<HttpPeer> = store
        .list_nodes()
        .await?
        .into_iter()
        .filter(|node| node.node_id != settings.node_id && is_alive(node, now))
        .map(|node| HttpPeer::new(&node.public_url, key.clone(), client.clone()))
        .collect();
    let mut lacking = Vec::new();
    for (blob, why) in blobs {
        let mut fetched = false;
        for peer in &peers {
            if fetch_one(peer, pool, blob).await.unwrap_or(false) {
                fetched = true;
                break;
            }
        }
        if !fetched {
            lacking.push(format!("{} ({why:?} here, on no live peer)", blob.sha256));
        }
    }
    if !lacking.is_empty() {
        bail!(
            "{} blob(s) could not be copied: {}",
            lacking.len(),
            lacking.join(", ")
        );
    }
    Ok(())
}

/// Copies one blob from a peer into the pool; false when the peer lacks it or sent bytes
/// that do not hash to its name.
async fn fetch_one(peer: &HttpPeer, pool: &BlobPool, blob: &BlobEntry) -> anyhow::Result<bool> {
    let Some(download) = peer.fetch(&blob.sha256).await? else {
        return Ok(false);
    };
    let (incoming, mut file) = pool.incoming(&blob.sha256)?;
    let mut hasher = boardcast_sync::Hasher::default();
    let mut body = download.body;
    while let Some(chunk) = body.try_next().await? {
        hasher.update(&chunk);
        std::io::Write::write_all(&mut file, &chunk)?;
    }
    if hasher.finish() != (blob.sha256, blob.size) {
        fs::remove_file(&incoming)?;
        return Ok(false);
    }
    file.sync_all()?;
    pool.place(&incoming, &blob.sha256)?;
    Ok(true)
}

/// Removes backups a crash left half-written; the lock says none is being written now.
fn clear_partial(out: &Path) -> anyhow::Result<()> {
    for entry in fs::read_dir(out)? {
        let entry = entry?;
        if entry.file_name().to_string_lossy().starts_with(PARTIAL) {
            fs::remove_dir_all(entry.path())?;
        }
    }
    Ok(())
}

/// `20261204T083015Z`, or with `-2`, `-3`… when a backup of that second exists.
fn free_name(out: &Path, millis: i64) -> String {
    let base: String = to_rfc3339(millis)
        .chars()
        .take(19)
        .filter(|c| c.is_ascii_digit() || *c == 'T')
        .chain(std::iter::once('Z'))
        .collect();
    let mut name = base.clone();
    for n in 2.. {
        if !out.join(&name).exists() {
            break;
        }
        name = format!("{base}-{n}");
    }
    name
}

pub fn engine_name(engine: Engine) -> &'static str {
    match engine {
        Engine::Sqlite => "sqlite",
        Engine::Postgres => "postgres",
    }
}

/// Makes a rename or new file in `dir` survive a power cut.
fn sync_dir(dir: &Path) -> std::io::Result<()> {
    fs::File::open(dir)?.sync_all()
}
