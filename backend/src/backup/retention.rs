//! `--keep N`: the newest N backups stay, older ones go, and so do the blobs that no backup
//! left lists. Runs under the directory's exclusive lock, after the backup that made room.

use std::{
    collections::HashSet,
    fs,
    path::{Path, PathBuf},
};

use super::{
    blob_pool::{BlobPool, BLOBS_DIR},
    make::PARTIAL,
    manifest::Manifest,
    verify::read_blob_list,
};
use crate::wire_time::from_rfc3339;

/// What retention removed.
#[derive(Debug, Default)]
pub struct Retention {
    pub removed: Vec<PathBuf>,
    pub blobs_removed: u64,
    pub bytes_freed: u64,
}

/// Deletes all but the newest `keep` backups in `dir` and the blobs none of them needs.
/// Directories whose manifest cannot be read are left alone for a person to look at.
pub fn keep_newest(dir: &Path, keep: usize) -> anyhow::Result<Retention> {
    let mut backups = Vec::new();
    for entry in fs::read_dir(dir)? {
        let path = entry?.path();
        let name = path.file_name().map(|n| n.to_string_lossy().to_string());
        let hidden =
            name.is_none_or(|n| n.starts_with('.') || n.starts_with(PARTIAL) || n == BLOBS_DIR);
        if hidden || !path.is_dir() {
            continue;
        }
        match Manifest::read(&path) {
            // By time, not by text: RFC 3339 drops trailing zeros of the fraction.
            Ok(manifest) => backups.push((created_millis(&manifest), path, manifest)),
            Err(problem) => eprintln!("retention: leaving {} alone ({problem})", path.display()),
        }
    }
    backups.sort_by(|a, b| (a.0, &a.1).cmp(&(b.0, &b.1)));
    let remove = backups.len().saturating_sub(keep);
    let mut retention = Retention::default();
    for (_, path, _) in backups.drain(..remove) {
        fs::remove_dir_all(&path)?;
        retention.removed.push(path);
    }
    let mut needed = HashSet::new();
    for (_, path, manifest) in &backups {
        match read_blob_list(path, manifest) {
            Ok(blobs) => needed.extend(blobs.into_iter().map(|b| b.sha256)),
            Err(problem) => {
                eprintln!(
                    "retention: keeping every blob, since the blob list of {} is damaged ({problem})",
                    path.display()
                );
                return Ok(retention);
            }
        }
    }
    let (blobs, bytes) = BlobPool::of(dir).collect_garbage(&needed)?;
    retention.blobs_removed = blobs;
    retention.bytes_freed = bytes;
    Ok(retention)
}

/// When the backup was made; an unreadable time sorts it oldest.
fn created_millis(manifest: &Manifest) -> i64 {
    from_rfc3339(&manifest.created_at).unwrap_or(i64::MIN)
}
