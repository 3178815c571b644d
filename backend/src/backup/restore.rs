//! `boardcast restore`: a verified backup into the configured database and blob store.
//!
//! Order matters for what a failure leaves behind: the backup is verified before anything is
//! touched; blobs go in first (extra blobs harm nobody); then the database, in one
//! transaction, so it holds either all of the backup or what it held before.

use std::{
    fs,
    io::{BufRead, BufReader},
    path::Path,
    time::{Duration, Instant},
};

use anyhow::{bail, Context};
use boardcast_sync::BlobStore;
use bytes::BytesMut;
use futures_util::{StreamExt, TryStreamExt};
use tokio::io::AsyncReadExt;

use super::{
    blob_pool::BlobPool,
    lock,
    manifest::BlobEntry,
    progress::{Progress, Unit},
    verify::{verify, Verified},
};
use crate::{
    config::Settings,
    store::{Loader, Store, Value},
};

/// What one restore did.
#[derive(Debug)]
pub struct Restored {
    pub tables: usize,
    pub rows: u64,
    pub blobs: u64,
    /// Blobs the node's store lacked.
    pub blobs_added: u64,
    pub elapsed: Duration,
}

/// Restores the backup at `path` into the database and data directory of `settings`;
/// a database holding data is replaced only with `force`.
pub async fn restore(
    settings: &Settings,
    path: &Path,
    force: bool,
    progress: Progress,
) -> anyhow::Result<Restored> {
    let started = Instant::now();
    let backups_dir = super::verify::backups_dir_of(path)?;
    let _lock = lock::shared(&backups_dir).context("cannot lock the backups directory")?;
    let backup = match tokio::task::block_in_place(|| verify(path, progress))? {
        Ok(backup) => backup,
        Err(problems) => bail!(
            "the backup is damaged; nothing was restored:\n  {}",
            problems.join("\n  ")
        ),
    };
    let store = Store::connect(&settings.database_url()).await?;
    let latest = store.latest_schema_version();
    if backup.manifest.schema_version > latest {
        bail!(
            "the backup was made by a newer boardcast (schema {}, this one knows up to {latest}); \
             restore it with that version",
            backup.manifest.schema_version
        );
    }
    store.migrate_to(backup.manifest.schema_version).await?;
    let held = store.data_rows().await?;
    if !held.is_empty() {
        let held: Vec<String> = held.iter().map(|(t, n)| format!("{n} {t}")).collect();
        if !force {
            bail!(
                "the database already holds data ({}); restoring would replace all of it. \
                 Run again with --force to replace it",
                held.join(", ")
            );
        }
        eprintln!(
            "warning: replacing everything in the database ({}) with the backup",
            held.join(", ")
        );
    }
    let blobs_added = restore_blobs(settings, &backup, progress).await?;
    let rows = load_tables(&store, path, &backup, progress).await?;
    store.migrate().await?;
    store.close().await;
    Ok(Restored {
        tables: backup.manifest.tables.len(),
        rows,
        blobs: backup.blobs.len() as u64,
        blobs_added,
        elapsed: started.elapsed(),
    })
}

/// Copies the blobs the node's store lacks into it; peers then fetch them from this node.
async fn restore_blobs(
    settings: &Settings,
    backup: &Verified,
    progress: Progress,
) -> anyhow::Result<u64> {
    let blobs = BlobStore::open(settings.data_dir.join("blobs")).await?;
    let pool = BlobPool::of(&backup.backups_dir);
    let step = progress.step("blobs", backup.manifest.blobs.total_bytes, Unit::Bytes);
    let missing: Vec<&BlobEntry> = backup
        .blobs
        .iter()
        .filter(|blob| !blobs.contains(&blob.sha256))
        .collect();
    // One copy per core: each hashes on its own thread while the others read and write.
    let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
    let copies = futures_util::stream::iter(&missing)
        .map(|blob| {
            let (blobs, step) = (&blobs, &step);
            let source = pool.path(&blob.sha256);
            async move {
                copy_into_store(blobs, &source, blob).await?;
                step.advance(blob.size);
                anyhow::Ok(())
            }
        })
        .buffer_unordered(cores);
    copies.try_collect::<Vec<()>>().await?;
    let added = missing.len() as u64;
    step.finish(&format!("{added} of {} blobs added", backup.blobs.len()));
    Ok(added)
}

/// Writes one blob into the node's store, which hashes it again before it appears there.
async fn copy_into_store(blobs: &BlobStore, source: &Path, blob: &BlobEntry) -> anyhow::Result<()> {
    let mut writer = blobs.writer();
    let mut file = tokio::fs::File::open(source).await?;
    loop {
        let mut buffer = BytesMut::zeroed(1 << 20);
        let read = file.read(&mut buffer).await?;
        if read == 0 {
            break;
        }
        buffer.truncate(read);
        writer.write(buffer.freeze()).await?;
    }
    writer.finish(Some(blob.sha256)).await?;
    Ok(())
}

/// Replaces the backed-up tables with the backup's rows, in one transaction.
async fn load_tables(
    store: &Store,
    path: &Path,
    backup: &Verified,
    progress: Progress,
) -> anyhow::Result<u64> {
    let mut targets = Vec::new();
    for table in &backup.manifest.tables {
        targets.push(store.columns(&table.name).await?);
    }
    let existing = store.table_names().await?;
    let step = progress.step("tables", backup.manifest.rows(), Unit::Rows);
    let mut loader = store.begin_load().await?;
    loader.clear(&existing).await?;
    let mut rows_loaded = 0;
    for (table, target) in backup.manifest.tables.iter().zip(&targets) {
        step.note(&table.name);
        let file = fs::File::open(path.join(&table.part.file))?;
        let batch_rows = Loader::batch_rows(table.columns.len());
        let mut batch: Vec<Vec<Value>> = Vec::with_capacity(batch_rows);
        for (number, line) in BufReader::with_capacity(1 << 20, file).lines().enumerate() {
            let row = serde_json::from_str(&line?).with_context(|| {
                format!(
                    "{} line {}: not a row of values",
                    table.part.file,
                    number + 1
                )
            })?;
            batch.push(row);
            if batch.len() == batch_rows {
                loader
                    .insert(&table.name, &table.columns, target, &batch)
                    .await?;
                step.advance(batch.len() as u64);
                rows_loaded += batch.len() as u64;
                batch.clear();
            }
        }
        loader
            .insert(&table.name, &table.columns, target, &batch)
            .await?;
        step.advance(batch.len() as u64);
        rows_loaded += batch.len() as u64;
    }
    loader.commit().await?;
    step.finish(&format!(
        "{rows_loaded} rows into {} tables",
        backup.manifest.tables.len()
    ));
    Ok(rows_loaded)
}
