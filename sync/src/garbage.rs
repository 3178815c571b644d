//! Deleting blobs no upload refers to any more. A blob becomes a candidate when first seen
//! unreferenced and is deleted only if it stayed unreferenced, and its file unchanged, for the
//! whole grace period: an upload of the same content in the meantime replaces the file (or
//! makes it referenced again) and so saves it.

use std::{
    collections::{HashMap, HashSet},
    fs, io,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use crate::{
    blob_store::{Fingerprint, Inner},
    BlobStore, Digest, SyncResult,
};

/// Candidates for deletion, remembered between passes; cheap to clone.
#[derive(Clone, Default)]
pub struct GarbageCollector {
    candidates: Arc<Mutex<HashMap<Digest, (Instant, Fingerprint)>>>,
}

impl GarbageCollector {
    /// One pass at `now`: deletes what has been unreferenced for `grace`, returns how many.
    pub async fn collect(
        &self,
        store: &BlobStore,
        referenced: &HashSet<Digest>,
        grace: Duration,
        now: Instant,
    ) -> SyncResult<usize> {
        let inner = store.inner.clone();
        let candidates = self.candidates.clone();
        let unreferenced: HashSet<Digest> = store
            .list()
            .into_iter()
            .map(|stored| stored.digest)
            .filter(|digest| !referenced.contains(digest))
            .collect();
        let deleted = tokio::task::spawn_blocking(move || {
            let mut candidates = candidates.lock().unwrap_or_else(|p| p.into_inner());
            candidates.retain(|digest, _| unreferenced.contains(digest));
            let mut deleted = 0;
            for digest in unreferenced {
                if sweep(&inner, &mut candidates, digest, grace, now)? {
                    deleted += 1;
                }
            }
            Ok::<_, io::Error>(deleted)
        })
        .await
        .map_err(|e| io::Error::other(e.to_string()))??;
        Ok(deleted)
    }
}

/// Marks or deletes one unreferenced blob; `true` when deleted.
fn sweep(
    inner: &Inner,
    candidates: &mut HashMap<Digest, (Instant, Fingerprint)>,
    digest: Digest,
    grace: Duration,
    now: Instant,
) -> io::Result<bool> {
    let path = inner.object_path(&digest);
    let _placing = inner.placing();
    let current = match fs::metadata(&path) {
        Ok(meta) => Fingerprint::of(&meta),
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            inner.forget(&digest);
            candidates.remove(&digest);
            return Ok(false);
        }
        Err(e) => return Err(e),
    };
    match candidates.get(&digest) {
        Some((since, seen)) if *seen == current && now.duration_since(*since) >= grace => {
            fs::remove_file(&path)?;
            inner.forget(&digest);
            candidates.remove(&digest);
            tracing::info!(blob = %digest, "unreferenced blob deleted");
            Ok(true)
        }
        Some((_, seen)) if *seen == current => Ok(false),
        _ => {
            candidates.insert(digest, (now, current));
            Ok(false)
        }
    }
}
