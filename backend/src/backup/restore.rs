//! `boardcast restore`: a verified backup into the configured database and blob store.
//!
//! Order matters for what a failure leaves behind: the backup is verified before anything is
//! touched; blobs go in first (extra blobs harm nobody); then the database, in one
//! transaction, so it holds either all of the backup or what it held before.

use std::{
    fs,
    io::{BufRead, BufReader, Read},
    path::Path,
    time::{Duration, Instant},
};

use anyhow::{bail, Context};
use boardcast_sync::BlobStore;
use bytes::Bytes;

use super::{
    blob_pool::BlobPool,
    lock,
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
    let mut added = 0;
    for blob in &backup.blobs {
        if !blobs.contains(&blob.sha256) {
            let mut writer = blobs.writer();
            let mut file = fs::File::open(pool.path(&blob.sha256))?;
            let mut buffer = vec![0; 1 << 20];
            loop {
                let read = file.read(&mut buffer)?;
                if read == 0 {
                    break;
                }
                writer
                    .write(Bytes::copy_from_slice(&buffer[..read]))
                    .await?;
            }
            writer.finish(Some(blob.sha256)).await?;
            added += 1;
        }
        step.advance(blob.size);
    }
    step.finish(&format!("{added} of {} blobs added", backup.blobs.len()));
    Ok(added)
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
