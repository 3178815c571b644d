//! `boardcast backup`, `verify` and `restore`: what an admin types, and what a timer runs.
//! Progress and summaries go to stderr; stdout carries only what scripts read.

use std::path::Path;

use anyhow::bail;
use indicatif::{HumanBytes, HumanCount};

use super::open_store;
use crate::{
    backup::{self, Progress},
    config::Settings,
};

/// Backs up into `out`; the new backup's path is the last line on stdout.
pub async fn run_backup(
    settings: &Settings,
    out: &Path,
    keep: Option<usize>,
) -> anyhow::Result<()> {
    let store = open_store(settings).await?;
    let summary = backup::backup(&store, settings, out, keep, Progress::detect()).await?;
    store.close().await;
    eprintln!(
        "backed up {} rows of {} tables and {} blobs ({}; {} new, {} copied) in {:.1} s",
        HumanCount(summary.rows),
        summary.tables,
        HumanCount(summary.blobs),
        HumanBytes(summary.blob_bytes),
        HumanCount(summary.blobs_copied),
        HumanBytes(summary.bytes_copied),
        summary.elapsed.as_secs_f64()
    );
    if let Some(retention) = &summary.retention {
        eprintln!(
            "kept the newest {} backups: removed {} older ones and {} blobs ({})",
            keep.unwrap_or_default(),
            retention.removed.len(),
            retention.blobs_removed,
            HumanBytes(retention.bytes_freed)
        );
    }
    println!("{}", summary.path.display());
    Ok(())
}

/// Checks a backup; fails naming every missing or damaged part.
pub fn run_verify(path: &Path) -> anyhow::Result<()> {
    match tokio::task::block_in_place(|| backup::verify(path, Progress::detect()))? {
        Ok(verified) => {
            println!(
                "{}: whole ({} rows of {} tables, {} blobs, {})",
                path.display(),
                HumanCount(verified.manifest.rows()),
                verified.manifest.tables.len(),
                HumanCount(verified.blobs.len() as u64),
                HumanBytes(verified.manifest.blobs.total_bytes)
            );
            Ok(())
        }
        Err(problems) => {
            for problem in &problems {
                println!("{problem}");
            }
            bail!(
                "{} is damaged: {} part(s) missing or damaged",
                path.display(),
                problems.len()
            )
        }
    }
}

pub async fn run_restore(settings: &Settings, path: &Path, force: bool) -> anyhow::Result<()> {
    let restored = backup::restore(settings, path, force, Progress::detect()).await?;
    eprintln!(
        "restored {} rows of {} tables and {} blobs ({} added to this node) in {:.1} s",
        HumanCount(restored.rows),
        restored.tables,
        HumanCount(restored.blobs),
        HumanCount(restored.blobs_added),
        restored.elapsed.as_secs_f64()
    );
    Ok(())
}
