//! `boardcast verify`: a backup checked against its manifest, every byte of it, with no
//! database: each part's size, digest and row count, and each blob's hash.

use std::{
    fs,
    io::{self, BufRead, BufReader, Read},
    path::{Path, PathBuf},
};

use anyhow::Context;
use boardcast_sync::Hasher;

use super::{
    blob_pool::{in_parallel, BlobPool},
    manifest::{missing_or, BlobEntry, Manifest, Part},
    progress::{Progress, Unit},
};

/// A backup that checked out whole.
#[derive(Debug)]
pub struct Verified {
    pub manifest: Manifest,
    pub blobs: Vec<BlobEntry>,
    /// The backups directory the backup's blobs live in.
    pub backups_dir: PathBuf,
}

/// Checks the backup at `path`. `Err` when the check itself could not run; otherwise the
/// verified backup, or one line per missing or damaged part.
pub fn verify(path: &Path, progress: Progress) -> anyhow::Result<Result<Verified, Vec<String>>> {
    let backups_dir = backups_dir_of(path)?;
    let manifest = match Manifest::read(path) {
        Ok(manifest) => manifest,
        Err(problem) => return Ok(Err(vec![problem])),
    };
    let mut problems = Vec::new();
    let parts_bytes = manifest.tables.iter().map(|t| t.part.bytes).sum();
    let step = progress.step("tables", parts_bytes, Unit::Bytes);
    for table in &manifest.tables {
        step.note(&table.name);
        match check_part(path, &table.part) {
            Ok(lines) if lines != table.rows => problems.push(format!(
                "{}: damaged (it has {lines} rows, the manifest says {})",
                table.part.file, table.rows
            )),
            Ok(_) => {}
            Err(problem) => problems.push(problem),
        }
        step.advance(table.part.bytes);
    }
    step.finish(&format!("{} tables checked", manifest.tables.len()));
    let blobs = match read_blob_list(path, &manifest) {
        Ok(blobs) => blobs,
        Err(problem) => {
            problems.push(problem);
            return Ok(Err(problems));
        }
    };
    let pool = BlobPool::of(&backups_dir);
    let step = progress.step("blobs", manifest.blobs.total_bytes, Unit::Bytes);
    let checked = in_parallel(&blobs, |blob| {
        let problem = pool.check(blob);
        step.advance(blob.size);
        Ok(problem)
    })?;
    step.finish(&format!(
        "{} blobs checked ({})",
        blobs.len(),
        indicatif::HumanBytes(manifest.blobs.total_bytes)
    ));
    problems.extend(
        blobs
            .iter()
            .zip(checked)
            .filter_map(|(blob, problem)| Some(format!("blob {}: {}", blob.sha256, problem?))),
    );
    if problems.is_empty() {
        Ok(Ok(Verified {
            manifest,
            blobs,
            backups_dir,
        }))
    } else {
        Ok(Err(problems))
    }
}

/// A backup lives in its backups directory, beside the blobs it shares with the others.
pub fn backups_dir_of(path: &Path) -> anyhow::Result<PathBuf> {
    let path =
        fs::canonicalize(path).with_context(|| format!("no backup at {}", path.display()))?;
    path.parent()
        .map(Path::to_path_buf)
        .with_context(|| format!("{} is not a backup", path.display()))
}

/// Hashes a part; its number of lines, or what is wrong with it.
fn check_part(dir: &Path, part: &Part) -> Result<u64, String> {
    let mut file = fs::File::open(dir.join(&part.file))
        .map_err(|e| format!("{}: {}", part.file, missing_or(e)))?;
    let mut hasher = Hasher::default();
    let mut lines = 0;
    let mut buffer = vec![0; 1 << 20];
    loop {
        let read = file
            .read(&mut buffer)
            .map_err(|e| format!("{}: unreadable ({e})", part.file))?;
        if read == 0 {
            break;
        }
        hasher.update(&buffer[..read]);
        lines += buffer[..read].iter().filter(|b| **b == b'\n').count() as u64;
    }
    let (digest, bytes) = hasher.finish();
    if bytes != part.bytes {
        return Err(format!(
            "{}: damaged ({bytes} bytes, the manifest says {})",
            part.file, part.bytes
        ));
    }
    if digest.to_hex() != part.sha256 {
        return Err(format!(
            "{}: damaged (its SHA-256 differs from the manifest's)",
            part.file
        ));
    }
    Ok(lines)
}

/// The blob list, checked like any part, then read.
pub(super) fn read_blob_list(dir: &Path, manifest: &Manifest) -> Result<Vec<BlobEntry>, String> {
    let part = &manifest.blobs.part;
    let lines = check_part(dir, part)?;
    if lines != manifest.blobs.count {
        return Err(format!(
            "{}: damaged (it lists {lines} blobs, the manifest says {})",
            part.file, manifest.blobs.count
        ));
    }
    let file = fs::File::open(dir.join(&part.file)).map_err(|e| missing_or(e).to_string())?;
    BufReader::new(file)
        .lines()
        .map(|line| {
            let line = line.map_err(|e: io::Error| e.to_string())?;
            serde_json::from_str(&line).map_err(|e| e.to_string())
        })
        .collect::<Result<_, String>>()
        .map_err(|e| format!("{}: unreadable ({e})", part.file))
}
