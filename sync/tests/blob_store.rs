//! The blob store on a real temporary directory.
// Fixtures are test code too: a panic there is a failed test with a location.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::{
    collections::HashSet,
    time::{Duration, Instant},
};

use boardcast_sync::{BlobStore, Digest, GarbageCollector, SyncError};
use bytes::Bytes;
use futures_util::stream;

fn chunks(parts: &[&'static [u8]]) -> impl futures_util::Stream<Item = Result<Bytes, String>> {
    stream::iter(
        parts
            .iter()
            .map(|p| Ok(Bytes::from_static(p)))
            .collect::<Vec<_>>(),
    )
}

async fn store() -> (tempfile::TempDir, BlobStore) {
    let dir = tempfile::tempdir().unwrap();
    let store = BlobStore::open(dir.path()).await.unwrap();
    (dir, store)
}

fn files_under(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            found.extend(files_under(&path));
        } else {
            found.push(path);
        }
    }
    found
}

#[tokio::test]
async fn a_stored_blob_is_found_under_its_digest_with_its_bytes() {
    let (_dir, store) = store().await;
    let stored = store
        .ingest(chunks(&[b"hello ", b"world"]), None, None)
        .await
        .unwrap();
    assert_eq!(stored.digest, Digest::of(b"hello world"));
    assert_eq!(stored.len, 11);
    assert!(store.contains(&stored.digest));
    let blob = store.open_blob(&stored.digest).await.unwrap().unwrap();
    assert_eq!(std::fs::read(&blob.path).unwrap(), b"hello world");
    let hex = stored.digest.to_hex();
    assert!(blob.path.ends_with(format!("objects/{}/{hex}", &hex[..2])));
}

#[tokio::test]
async fn a_blob_that_hashes_to_another_name_is_not_stored() {
    let (dir, store) = store().await;
    let expected = Digest::of(b"something else");
    let error = store
        .ingest(chunks(&[b"hello"]), None, Some(expected))
        .await
        .unwrap_err();
    assert!(
        matches!(error, SyncError::DigestMismatch { .. }),
        "{error:?}"
    );
    assert!(store.list().is_empty());
    assert!(files_under(dir.path()).is_empty(), "no file left behind");
}

#[tokio::test]
async fn content_over_the_limit_is_refused_and_leaves_nothing() {
    let (dir, store) = store().await;
    let error = store
        .ingest(chunks(&[b"0123456789", b"0"]), Some(10), None)
        .await
        .unwrap_err();
    assert!(
        matches!(error, SyncError::TooLarge { limit: 10 }),
        "{error:?}"
    );
    assert!(files_under(dir.path()).is_empty());
    let exactly = store
        .ingest(chunks(&[b"01234", b"56789"]), Some(10), None)
        .await;
    assert_eq!(exactly.unwrap().len, 10);
}

#[tokio::test]
async fn an_interrupted_source_leaves_no_partial_file() {
    let (dir, store) = store().await;
    let source = stream::iter(vec![
        Ok(Bytes::from_static(b"first half")),
        Err("connection reset".to_string()),
    ]);
    let error = store.ingest(source, None, None).await.unwrap_err();
    assert!(matches!(error, SyncError::Interrupted(_)), "{error:?}");
    assert!(files_under(dir.path()).is_empty());
}

#[tokio::test]
async fn a_writer_dropped_halfway_discards_what_it_wrote() {
    let (dir, store) = store().await;
    let mut writer = store.writer();
    writer.write(Bytes::from_static(b"half")).await.unwrap();
    drop(writer);
    // The disk thread notices the drop on its own; wait for it to clean up.
    for _ in 0..100 {
        if files_under(dir.path()).is_empty() {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    panic!("partial file left: {:?}", files_under(dir.path()));
}

#[tokio::test]
async fn a_corrupted_copy_is_never_served_and_is_quarantined() {
    let (dir, store) = store().await;
    let stored = store
        .ingest(chunks(&[b"lesson slide"]), None, None)
        .await
        .unwrap();
    let path = store.open_blob(&stored.digest).await.unwrap().unwrap().path;
    std::fs::write(&path, b"lesson slidX").unwrap();

    assert!(store.open_blob(&stored.digest).await.unwrap().is_none());
    assert!(!store.contains(&stored.digest));
    assert!(!path.exists());
    assert_eq!(store.quarantined(), 1);
    let kept = dir.path().join("quarantine").join(stored.digest.to_hex());
    assert_eq!(std::fs::read(kept).unwrap(), b"lesson slidX");
}

#[tokio::test]
async fn reopening_takes_stock_of_blobs_and_clears_unfinished_writes() {
    let dir = tempfile::tempdir().unwrap();
    let stored = {
        let store = BlobStore::open(dir.path()).await.unwrap();
        store.ingest(chunks(&[b"kept"]), None, None).await.unwrap()
    };
    std::fs::write(dir.path().join("incoming/crashed.part"), b"half").unwrap();
    std::fs::write(dir.path().join("objects/not-a-digest"), b"?").unwrap();

    let store = BlobStore::open(dir.path()).await.unwrap();
    assert_eq!(store.list(), vec![stored]);
    assert!(!dir.path().join("incoming/crashed.part").exists());
    // Opened again after a restart, the copy is re-hashed before it is served.
    assert!(store.open_blob(&stored.digest).await.unwrap().is_some());
}

#[tokio::test]
async fn storing_the_same_content_twice_keeps_one_file() {
    let (dir, store) = store().await;
    let first = store.ingest(chunks(&[b"same"]), None, None).await.unwrap();
    let second = store
        .ingest(chunks(&[b"sa", b"me"]), None, None)
        .await
        .unwrap();
    assert_eq!(first, second);
    assert_eq!(files_under(&dir.path().join("objects")).len(), 1);
}

#[tokio::test]
async fn an_unreferenced_blob_is_deleted_only_after_the_grace_period() {
    let (_dir, store) = store().await;
    let kept = store
        .ingest(chunks(&[b"in a lesson"]), None, None)
        .await
        .unwrap();
    let old = store
        .ingest(chunks(&[b"deleted upload"]), None, None)
        .await
        .unwrap();
    let referenced = HashSet::from([kept.digest]);
    let gc = GarbageCollector::default();
    let grace = Duration::from_secs(3600);
    let start = Instant::now();

    assert_eq!(
        gc.collect(&store, &referenced, grace, start).await.unwrap(),
        0
    );
    let early = start + grace - Duration::from_secs(1);
    assert_eq!(
        gc.collect(&store, &referenced, grace, early).await.unwrap(),
        0
    );
    assert!(store.contains(&old.digest));
    assert_eq!(
        gc.collect(&store, &referenced, grace, start + grace)
            .await
            .unwrap(),
        1
    );

    assert!(!store.contains(&old.digest));
    assert!(store.open_blob(&old.digest).await.unwrap().is_none());
    assert!(store.open_blob(&kept.digest).await.unwrap().is_some());
}

#[tokio::test]
async fn a_blob_uploaded_again_during_its_grace_period_survives() {
    let (_dir, store) = store().await;
    let blob = store
        .ingest(chunks(&[b"re-uploaded"]), None, None)
        .await
        .unwrap();
    let gc = GarbageCollector::default();
    let grace = Duration::from_secs(60);
    let start = Instant::now();
    gc.collect(&store, &HashSet::new(), grace, start)
        .await
        .unwrap();
    // The same content arrives again (its row is not committed yet): the file is replaced.
    store
        .ingest(chunks(&[b"re-uploaded"]), None, None)
        .await
        .unwrap();
    let later = start + grace;
    assert_eq!(
        gc.collect(&store, &HashSet::new(), grace, later)
            .await
            .unwrap(),
        0
    );
    assert!(store.open_blob(&blob.digest).await.unwrap().is_some());
}
