//! The blobs of one node, on its local disk, named by their SHA-256.
//!
//! Layout under the root: `objects/ab/abcd…` (256 fan-out directories, so no directory grows
//! huge), `incoming/` for writes in progress, `quarantine/` for copies that failed
//! verification. A blob appears under `objects/` only by an atomic rename after its bytes
//! were fsynced and hashed to its name, so a reader never sees a partial or wrong file; a
//! crash leaves at most a stray file in `incoming/`, cleared at the next open.
//!
//! Reads verify: the first time a blob is opened (and again whenever its size, inode or
//! modification time changes) it is re-hashed before anything is served, and a copy that does
//! not match its name is moved to `quarantine/` and reported missing, so the caller fetches a
//! good one from a peer. Copies hashed while being written count as verified.

use std::{
    collections::HashMap,
    fs,
    io::{self, Read, Write},
    os::unix::fs::MetadataExt,
    path::{Path, PathBuf},
    sync::{Arc, Mutex, MutexGuard},
    time::SystemTime,
};

use bytes::Bytes;
use futures_util::{Stream, StreamExt};
use tokio::sync::mpsc;

use crate::{digest::Hasher, Digest, SyncError, SyncResult};

/// Chunks queued between a writer and its disk thread; bounds the memory of one upload.
const WRITE_QUEUE: usize = 8;

/// Read size when re-hashing a blob.
const HASH_BUFFER: usize = 256 * 1024;

/// A handle on a node's blob directory; cheap to clone.
#[derive(Clone)]
pub struct BlobStore {
    pub(crate) inner: Arc<Inner>,
}

pub(crate) struct Inner {
    root: PathBuf,
    /// Blobs on disk and their sizes, so reconciling never lists directories.
    present: Mutex<HashMap<Digest, u64>>,
    /// Blobs whose file matched its name when last hashed, and how that file looked then.
    verified: Mutex<HashMap<Digest, Fingerprint>>,
    quarantined: std::sync::atomic::AtomicU64,
    /// Held while a file is renamed into `objects/` or deleted from it, so garbage
    /// collection never deletes a copy that a new upload just put in place.
    pub(crate) placing: Mutex<()>,
}

/// What identifies one version of a file without reading it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Fingerprint {
    len: u64,
    inode: u64,
    modified: Option<SystemTime>,
}

impl Fingerprint {
    pub(crate) fn of(meta: &fs::Metadata) -> Self {
        Self {
            len: meta.len(),
            inode: meta.ino(),
            modified: meta.modified().ok(),
        }
    }
}

/// A blob stored under its digest.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stored {
    pub digest: Digest,
    pub len: u64,
}

/// A verified local blob, ready to be served from `path`.
#[derive(Debug, Clone)]
pub struct Blob {
    pub digest: Digest,
    pub path: PathBuf,
    pub len: u64,
}

impl BlobStore {
    /// Opens (creating) the store under `root`, clears writes a crash left behind and takes
    /// stock of the blobs on disk.
    pub async fn open(root: impl Into<PathBuf>) -> SyncResult<Self> {
        let root = root.into();
        let scan_root = root.clone();
        let present = tokio::task::spawn_blocking(move || prepare(&scan_root))
            .await
            .map_err(|e| io::Error::other(e.to_string()))??;
        tracing::info!(blobs = present.len(), root = %root.display(), "blob store opened");
        Ok(Self {
            inner: Arc::new(Inner {
                root,
                present: Mutex::new(present),
                verified: Mutex::new(HashMap::new()),
                quarantined: Default::default(),
                placing: Mutex::new(()),
            }),
        })
    }

    /// Whether the blob is on disk, as far as this node knows without touching the disk.
    pub fn contains(&self, digest: &Digest) -> bool {
        self.inner.present().contains_key(digest)
    }

    /// Every blob on disk with its size.
    pub fn list(&self) -> Vec<Stored> {
        self.inner
            .present()
            .iter()
            .map(|(digest, len)| Stored {
                digest: *digest,
                len: *len,
            })
            .collect()
    }

    /// How many copies failed verification since the node started.
    pub fn quarantined(&self) -> u64 {
        self.inner
            .quarantined
            .load(std::sync::atomic::Ordering::Relaxed)
    }

    /// The blob, verified; `None` when it is not here or the copy here was corrupt (it is
    /// then quarantined).
    pub async fn open_blob(&self, digest: &Digest) -> SyncResult<Option<Blob>> {
        let path = self.inner.object_path(digest);
        let meta = match tokio::fs::metadata(&path).await {
            Ok(meta) => meta,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                self.inner.forget(digest);
                return Ok(None);
            }
            Err(e) => return Err(e.into()),
        };
        let fingerprint = Fingerprint::of(&meta);
        let blob = Blob {
            digest: *digest,
            path: path.clone(),
            len: meta.len(),
        };
        if self.inner.verified().get(digest) == Some(&fingerprint) {
            return Ok(Some(blob));
        }
        let actual = tokio::task::spawn_blocking(move || hash_file(&path))
            .await
            .map_err(|e| io::Error::other(e.to_string()))??;
        if actual == *digest {
            self.inner.verified().insert(*digest, fingerprint);
            self.inner.present().insert(*digest, meta.len());
            return Ok(Some(blob));
        }
        tracing::warn!(blob = %digest, %actual, "corrupt blob copy quarantined");
        self.quarantine(digest).await?;
        Ok(None)
    }

    /// Moves a bad copy out of the way, so it is never served and a good one can be fetched.
    pub async fn quarantine(&self, digest: &Digest) -> SyncResult<()> {
        let from = self.inner.object_path(digest);
        let to = self.inner.root.join("quarantine").join(digest.to_hex());
        self.inner.forget(digest);
        match tokio::fs::rename(&from, &to).await {
            Ok(()) => {
                self.inner
                    .quarantined
                    .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                Ok(())
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    /// Starts writing a new blob. Dropping the writer before [`BlobWriter::finish`] discards
    /// everything written.
    pub fn writer(&self) -> BlobWriter {
        let (chunks, queue) = mpsc::channel(WRITE_QUEUE);
        let inner = self.inner.clone();
        let disk = tokio::task::spawn_blocking(move || write_blob(&inner, queue));
        BlobWriter {
            chunks,
            disk,
            len: 0,
        }
    }

    /// Stores a whole stream: at most `limit` bytes, and only if it hashes to `expected`
    /// when one is given.
    pub async fn ingest<S, E>(
        &self,
        stream: S,
        limit: Option<u64>,
        expected: Option<Digest>,
    ) -> SyncResult<Stored>
    where
        S: Stream<Item = Result<Bytes, E>>,
        E: std::fmt::Display,
    {
        let mut writer = self.writer();
        let mut stream = std::pin::pin!(stream);
        while let Some(chunk) = stream.next().await {
            let chunk = match chunk {
                Ok(chunk) => chunk,
                Err(e) => return Err(writer.abort(SyncError::Interrupted(e.to_string())).await),
            };
            if let Some(limit) = limit.filter(|limit| writer.len() + chunk.len() as u64 > *limit) {
                return Err(writer.abort(SyncError::TooLarge { limit }).await);
            }
            writer.write(chunk).await?;
        }
        writer.finish(expected).await
    }
}

/// A blob being written: chunks go to a disk thread that hashes and writes them, so hashing
/// never holds up the async workers.
pub struct BlobWriter {
    chunks: mpsc::Sender<Message>,
    disk: tokio::task::JoinHandle<SyncResult<Stored>>,
    len: u64,
}

enum Message {
    Chunk(Bytes),
    Finish(Option<Digest>),
}

impl BlobWriter {
    /// Bytes written so far.
    pub fn len(&self) -> u64 {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    pub async fn write(&mut self, chunk: Bytes) -> SyncResult<()> {
        self.len += chunk.len() as u64;
        if self.chunks.send(Message::Chunk(chunk)).await.is_err() {
            // The disk thread stopped: its result says why.
            return Err(self.stopped().await);
        }
        Ok(())
    }

    /// Makes the blob durable and visible under its digest; when `expected` is given and the
    /// bytes hash to something else, nothing is stored.
    pub async fn finish(self, expected: Option<Digest>) -> SyncResult<Stored> {
        let _ = self.chunks.send(Message::Finish(expected)).await;
        self.disk
            .await
            .map_err(|e| SyncError::Io(io::Error::other(e.to_string())))?
    }

    /// Discards what was written and returns `reason` once the partial file is gone, so a
    /// caller that reports the failure leaves nothing behind.
    pub async fn abort(self, reason: SyncError) -> SyncError {
        drop(self.chunks);
        let _ = self.disk.await;
        reason
    }

    async fn stopped(&mut self) -> SyncError {
        match (&mut self.disk).await {
            Ok(Err(error)) => error,
            Ok(Ok(_)) => SyncError::Io(io::Error::other("blob writer already finished")),
            Err(join) => SyncError::Io(io::Error::other(join.to_string())),
        }
    }
}

/// Where the store under `root` keeps a blob. Other processes (a backup) read blobs here
/// without opening the store, which would clear a running node's writes in progress.
pub fn object_path(root: &Path, digest: &Digest) -> PathBuf {
    let hex = digest.to_hex();
    root.join("objects").join(&hex[..2]).join(hex)
}

impl Inner {
    pub(crate) fn object_path(&self, digest: &Digest) -> PathBuf {
        object_path(&self.root, digest)
    }

    fn present(&self) -> MutexGuard<'_, HashMap<Digest, u64>> {
        self.present.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub(crate) fn placing(&self) -> MutexGuard<'_, ()> {
        self.placing.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn verified(&self) -> MutexGuard<'_, HashMap<Digest, Fingerprint>> {
        self.verified.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub(crate) fn forget(&self, digest: &Digest) {
        self.present().remove(digest);
        self.verified().remove(digest);
    }
}

/// The disk side of a [`BlobWriter`]: a temp file in `incoming/`, renamed into `objects/`
/// once complete, fsynced and hashed to the expected name; removed on any other outcome.
fn write_blob(inner: &Inner, mut queue: mpsc::Receiver<Message>) -> SyncResult<Stored> {
    let temp = inner
        .root
        .join("incoming")
        .join(format!("{:032x}.part", rand::random::<u128>()));
    let result = write_and_place(inner, &temp, &mut queue);
    if result.is_err() {
        let _ = fs::remove_file(&temp);
    }
    result
}

fn write_and_place(
    inner: &Inner,
    temp: &Path,
    queue: &mut mpsc::Receiver<Message>,
) -> SyncResult<Stored> {
    let mut file = fs::File::create_new(temp)?;
    let mut hasher = Hasher::default();
    let expected = loop {
        match queue.blocking_recv() {
            Some(Message::Chunk(chunk)) => {
                hasher.update(&chunk);
                file.write_all(&chunk)?;
            }
            Some(Message::Finish(expected)) => break expected,
            None => return Err(SyncError::Interrupted("writer dropped".into())),
        }
    };
    file.sync_all()?;
    drop(file);
    let (digest, len) = hasher.finish();
    if let Some(expected) = expected.filter(|expected| *expected != digest) {
        return Err(SyncError::DigestMismatch {
            expected,
            actual: digest,
        });
    }
    let target = inner.object_path(&digest);
    let dir = target.parent().unwrap_or(&inner.root);
    fs::create_dir_all(dir)?;
    {
        let _placing = inner.placing();
        // Replacing an existing copy is fine: the new one was just hashed, the old one maybe not.
        fs::rename(temp, &target)?;
        let fingerprint = Fingerprint::of(&fs::metadata(&target)?);
        inner.verified().insert(digest, fingerprint);
        inner.present().insert(digest, len);
    }
    fs::File::open(dir)?.sync_all()?;
    Ok(Stored { digest, len })
}

/// Creates the layout, empties `incoming/` and lists `objects/`.
fn prepare(root: &Path) -> io::Result<HashMap<Digest, u64>> {
    for dir in ["objects", "incoming", "quarantine"] {
        fs::create_dir_all(root.join(dir))?;
    }
    for entry in fs::read_dir(root.join("incoming"))? {
        let _ = fs::remove_file(entry?.path());
    }
    let mut present = HashMap::new();
    for fan in fs::read_dir(root.join("objects"))? {
        let fan = fan?;
        if !fan.file_type()?.is_dir() {
            continue;
        }
        for entry in fs::read_dir(fan.path())? {
            let entry = entry?;
            let name = entry.file_name();
            let Some(digest) = name.to_str().and_then(|n| n.parse::<Digest>().ok()) else {
                continue;
            };
            present.insert(digest, entry.metadata()?.len());
        }
    }
    Ok(present)
}

fn hash_file(path: &Path) -> io::Result<Digest> {
    let mut file = fs::File::open(path)?;
    let mut hasher = Hasher::default();
    let mut buffer = vec![0; HASH_BUFFER];
    loop {
        let read = file.read(&mut buffer)?;
        if read == 0 {
            return Ok(hasher.finish().0);
        }
        hasher.update(&buffer[..read]);
    }
}
