//! The blobs of a backups directory: each one once, under `blobs/ab/abcd…` named by its
//! SHA-256, however many backups need it, so a nightly backup copies only the day's uploads.
//!
//! A blob appears under its name only by a rename after its bytes were flushed and hashed to
//! that name; copies in progress live in `blobs/.incoming/`. Blob files are never changed
//! once placed, only deleted by retention when no backup lists them.

use std::{
    collections::HashSet,
    fs,
    io::{self, Read, Write},
    path::{Path, PathBuf},
    sync::atomic::{AtomicBool, Ordering},
};

use boardcast_sync::{Digest, Hasher};

use super::manifest::{missing_or, BlobEntry};

/// The pool's directory inside the backups directory.
pub const BLOBS_DIR: &str = "blobs";

/// Read size when copying or hashing a blob.
const CHUNK: usize = 1 << 20;

pub struct BlobPool {
    root: PathBuf,
}

/// Why a blob could not be copied in from a source file.
#[derive(Debug)]
pub enum BadSource {
    Missing,
    /// The file's bytes do not hash to its name.
    Damaged,
}

impl BlobPool {
    /// The pool of the backups directory `backups`.
    pub fn of(backups: &Path) -> Self {
        Self {
            root: backups.join(BLOBS_DIR),
        }
    }

    pub fn path(&self, digest: &Digest) -> PathBuf {
        let hex = digest.to_hex();
        self.root.join(&hex[..2]).join(hex)
    }

    /// Whether the pool holds the blob, as far as its size tells: placed files were hashed
    /// when they were written, and `verify` hashes them again.
    pub fn has(&self, blob: &BlobEntry) -> bool {
        fs::metadata(self.path(&blob.sha256)).is_ok_and(|meta| meta.len() == blob.size)
    }

    /// A file to write a new copy of `digest` into, before [`BlobPool::place`].
    pub fn incoming(&self, digest: &Digest) -> io::Result<(PathBuf, fs::File)> {
        let dir = self.root.join(".incoming");
        fs::create_dir_all(&dir)?;
        let path = dir.join(digest.to_hex());
        let file = fs::File::create(&path)?;
        Ok((path, file))
    }

    /// Puts a flushed copy that hashed to `digest` under its name.
    pub fn place(&self, incoming: &Path, digest: &Digest) -> io::Result<()> {
        let path = self.path(digest);
        if let Some(fan) = path.parent() {
            fs::create_dir_all(fan)?;
        }
        fs::rename(incoming, path)
    }

    /// Copies the blob from `source`, hashing it on the way; a source that is missing or
    /// does not hash to the blob's name leaves nothing behind.
    pub fn copy_in(&self, blob: &BlobEntry, source: &Path) -> io::Result<Result<(), BadSource>> {
        let mut from = match fs::File::open(source) {
            Ok(file) => file,
            Err(error) if error.kind() == io::ErrorKind::NotFound => {
                return Ok(Err(BadSource::Missing))
            }
            Err(error) => return Err(error),
        };
        let (incoming, mut to) = self.incoming(&blob.sha256)?;
        let mut hasher = Hasher::default();
        let mut buffer = vec![0; CHUNK];
        loop {
            let read = from.read(&mut buffer)?;
            if read == 0 {
                break;
            }
            hasher.update(&buffer[..read]);
            to.write_all(&buffer[..read])?;
        }
        if hasher.finish() != (blob.sha256, blob.size) {
            fs::remove_file(&incoming)?;
            return Ok(Err(BadSource::Damaged));
        }
        to.sync_all()?;
        self.place(&incoming, &blob.sha256)?;
        Ok(Ok(()))
    }

    /// What is wrong with the pool's copy of the blob, if anything.
    pub fn check(&self, blob: &BlobEntry) -> Option<String> {
        match hash_file(&self.path(&blob.sha256)) {
            Err(error) => Some(missing_or(error)),
            Ok(found) if found == (blob.sha256, blob.size) => None,
            Ok(_) => Some("damaged (its bytes do not hash to its name)".into()),
        }
    }

    /// Deletes every blob not in `needed`, and copies a crash left in `.incoming/`; the
    /// number of files and bytes freed.
    pub fn collect_garbage(&self, needed: &HashSet<Digest>) -> io::Result<(u64, u64)> {
        let (mut files, mut bytes) = (0, 0);
        let _ = fs::remove_dir_all(self.root.join(".incoming"));
        let Ok(fans) = fs::read_dir(&self.root) else {
            return Ok((0, 0));
        };
        for fan in fans {
            let fan = fan?.path();
            if !fan.is_dir() {
                continue;
            }
            for entry in fs::read_dir(&fan)? {
                let entry = entry?;
                let name = entry.file_name();
                let keep = name
                    .to_str()
                    .and_then(|hex| hex.parse::<Digest>().ok())
                    .is_some_and(|digest| needed.contains(&digest));
                if !keep {
                    bytes += entry.metadata()?.len();
                    fs::remove_file(entry.path())?;
                    files += 1;
                }
            }
        }
        Ok((files, bytes))
    }
}

/// A file's SHA-256 and length.
pub fn hash_file(path: &Path) -> io::Result<(Digest, u64)> {
    let mut file = fs::File::open(path)?;
    let mut hasher = Hasher::default();
    let mut buffer = vec![0; CHUNK];
    loop {
        let read = file.read(&mut buffer)?;
        if read == 0 {
            return Ok(hasher.finish());
        }
        hasher.update(&buffer[..read]);
    }
}

/// Runs `work` on every item on as many threads as the machine has cores (blobs are hashed
/// and copied in parallel); results in the items' order. Stops early after an error.
pub fn in_parallel<T: Sync, R: Send>(
    items: &[T],
    work: impl Fn(&T) -> io::Result<R> + Sync,
) -> io::Result<Vec<R>> {
    let threads = std::thread::available_parallelism().map_or(2, |n| n.get());
    let next = std::sync::atomic::AtomicUsize::new(0);
    let failed = AtomicBool::new(false);
    let results: Vec<Vec<(usize, io::Result<R>)>> = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..threads)
            .map(|_| {
                scope.spawn(|| {
                    let mut done = Vec::new();
                    while !failed.load(Ordering::Relaxed) {
                        let index = next.fetch_add(1, Ordering::Relaxed);
                        let Some(item) = items.get(index) else { break };
                        let result = work(item);
                        if result.is_err() {
                            failed.store(true, Ordering::Relaxed);
                        }
                        done.push((index, result));
                    }
                    done
                })
            })
            .collect();
        workers
            .into_iter()
            .map(|worker| worker.join().unwrap_or_default())
            .collect()
    });
    let mut results: Vec<(usize, io::Result<R>)> = results.into_iter().flatten().collect();
    results.sort_by_key(|(index, _)| *index);
    results.into_iter().map(|(_, result)| result).collect()
}
