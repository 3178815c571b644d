//! A teacher's uploads, from the bytes that arrive to the row that records them, and the rules
//! that hold for them whichever way they are reached: the first bytes must be an accepted
//! medium of the declared type; a retry with the same `Idempotency-Key` answers with the first
//! upload instead of storing a second; an upload is seen only by its owner and by admins (to
//! anyone else it does not exist, so ids cannot be probed); and an upload a lesson shows
//! cannot be deleted from under it.

use boardcast_sync::SyncError;
use bytes::Bytes;
use futures_util::{stream, Stream, StreamExt};

use super::{Media, MediaKind, SNIFF_LEN};
use crate::{
    domain::people::Viewer,
    store::{Store, StoreError, UploadRow},
};

/// Longest filename kept; longer ones are cut (on a character boundary).
const MAX_FILENAME_BYTES: usize = 255;

/// Why an upload was refused or not found; each becomes one status code.
#[derive(Debug, thiserror::Error)]
pub enum UploadError {
    /// 415: not an accepted medium, or not the declared one.
    #[error("{0}")]
    Unsupported(String),
    /// 413: larger than `media.max_upload_size`.
    #[error("the upload is too large")]
    TooLarge,
    /// 400: the client went away (or its body broke off) before the end; nothing was stored.
    #[error("the upload was interrupted; nothing was stored")]
    Interrupted,
    /// 404: no such upload, or not one this person may see.
    #[error("no such upload")]
    NotFound,
    /// 409: a lesson (this title) shows the upload.
    #[error("the lesson “{0}” shows this upload; remove it from the lesson first")]
    InUse(String),
    /// 409: a retry's key collided with an upload that then vanished.
    #[error("a retried upload conflicted")]
    Conflict,
    /// 500: the blob store failed (disk full, say).
    #[error("cannot store upload: {0}")]
    Storage(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// An upload on its way in, as the client described it.
#[derive(Debug, Clone)]
pub struct NewUpload {
    pub owner_id: String,
    /// The declared content type, reduced to its essence (`image/png`).
    pub declared: String,
    pub filename: String,
    pub idempotency_key: Option<String>,
}

/// An upload stored, or found again for a retry.
#[derive(Debug)]
pub struct Stored {
    pub row: UploadRow,
    /// False when a retry found the upload its key had stored before.
    pub is_new: bool,
}

/// The uploads of the cluster as this node serves them; cheap to clone.
#[derive(Clone)]
pub struct Uploads {
    media: Media,
    store: Store,
    node_id: String,
}

impl Uploads {
    pub fn new(media: Media, store: Store, node_id: String) -> Self {
        Self {
            media,
            store,
            node_id,
        }
    }

    /// What a retry of `key` by `owner_id` stored before, answered before its body is read.
    pub async fn replay(&self, owner_id: &str, key: &str) -> Result<Option<Stored>, UploadError> {
        let found = self.store.find_upload_by_key(owner_id, key).await?;
        Ok(found.map(|row| Stored { row, is_new: false }))
    }

    /// Streams `body` into the blob store (hashed on the way, never whole in memory) and
    /// records it, at `now` (milliseconds). A client gone halfway leaves no row and no blob.
    pub async fn store<E: std::fmt::Display>(
        &self,
        upload: NewUpload,
        body: impl Stream<Item = Result<Bytes, E>> + Unpin,
        now: i64,
    ) -> Result<Stored, UploadError> {
        if let Some(key) = &upload.idempotency_key {
            if let Some(stored) = self.replay(&upload.owner_id, key).await? {
                return Ok(stored);
            }
        }
        let mut body = body;
        let mut head: Vec<Bytes> = Vec::new();
        while head.iter().map(Bytes::len).sum::<usize>() < SNIFF_LEN {
            match body.next().await {
                Some(Ok(chunk)) => head.push(chunk),
                Some(Err(error)) => return Err(interrupted(error)),
                None => break,
            }
        }
        let kind = MediaKind::sniff(&head.concat()).ok_or_else(|| {
            UploadError::Unsupported(
                "the content is not a supported image, PDF, video or audio file".into(),
            )
        })?;
        if !kind.matches_declared(&upload.declared) {
            return Err(UploadError::Unsupported(format!(
                "the content is {} but was declared as {}",
                kind.content_type(),
                upload.declared
            )));
        }
        let content = stream::iter(head.into_iter().map(Ok)).chain(body);
        let limit = self.media.settings().max_upload_size;
        let blob = self
            .media
            .blobs()
            .ingest(content, Some(limit), None)
            .await
            .map_err(|error| match error {
                SyncError::TooLarge { .. } => UploadError::TooLarge,
                SyncError::Interrupted(reason) => interrupted(reason),
                other => UploadError::Storage(other.to_string()),
            })?;
        let row = UploadRow {
            id: uuid::Uuid::new_v4().to_string(),
            owner_id: upload.owner_id,
            sha256: blob.digest.to_hex(),
            size: i64::try_from(blob.len).unwrap_or(i64::MAX),
            content_type: kind.content_type().to_string(),
            filename: upload.filename,
            stored_by: self.node_id.clone(),
            idempotency_key: upload.idempotency_key,
            created_at: now,
        };
        match self.store.insert_upload(&row).await {
            Ok(()) => Ok(Stored { row, is_new: true }),
            // The same key raced in from a retry on another connection: answer with its row.
            Err(StoreError::Conflict { .. }) if row.idempotency_key.is_some() => {
                let key = row.idempotency_key.as_deref().unwrap_or_default();
                self.replay(&row.owner_id, key)
                    .await?
                    .ok_or(UploadError::Conflict)
            }
            Err(error) => Err(error.into()),
        }
    }

    /// The uploads this person may see, newest first.
    pub async fn list(&self, viewer: Viewer<'_>) -> Result<Vec<UploadRow>, UploadError> {
        let owner = (!viewer.is_admin).then_some(viewer.user_id);
        Ok(self.store.list_uploads(owner).await?)
    }

    /// The upload if this person may see it; [`UploadError::NotFound`] otherwise.
    pub async fn visible(&self, viewer: Viewer<'_>, id: &str) -> Result<UploadRow, UploadError> {
        self.store
            .find_upload(id)
            .await?
            .filter(|row| viewer.may_see(&row.owner_id))
            .ok_or(UploadError::NotFound)
    }

    /// Deletes the upload's row unless a lesson shows it. Its blob goes once no upload names
    /// it and its grace period has passed (another teacher may have uploaded the same bytes).
    pub async fn delete(&self, viewer: Viewer<'_>, id: &str) -> Result<(), UploadError> {
        let row = self.visible(viewer, id).await?;
        if let Some(title) = self.store.lesson_showing_upload(&row.id).await? {
            return Err(UploadError::InUse(title));
        }
        self.store.delete_upload(&row.id).await?;
        Ok(())
    }
}

/// A client-given filename reduced to a plain name: no directories, no control characters,
/// at most 255 bytes; `upload` when nothing is left.
pub fn clean_filename(given: &str) -> String {
    let base = given.rsplit(['/', '\\']).next().unwrap_or_default();
    let mut clean: String = base.chars().filter(|c| !c.is_control()).collect();
    let mut end = clean.len().min(MAX_FILENAME_BYTES);
    while !clean.is_char_boundary(end) {
        end -= 1;
    }
    clean.truncate(end);
    match clean.trim() {
        "" | "." | ".." => "upload".to_string(),
        name => name.to_string(),
    }
}

fn interrupted(reason: impl std::fmt::Display) -> UploadError {
    tracing::info!(%reason, "upload interrupted: nothing stored");
    UploadError::Interrupted
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filenames_lose_directories_and_control_characters() {
        assert_eq!(clean_filename("photo.png"), "photo.png");
        assert_eq!(clean_filename("../../etc/passwd"), "passwd");
        assert_eq!(clean_filename("C:\\fakepath\\slides.pdf"), "slides.pdf");
        assert_eq!(clean_filename("a\nb\0c.png"), "abc.png");
        assert_eq!(clean_filename(".."), "upload");
        assert_eq!(clean_filename(""), "upload");
        assert_eq!(clean_filename(&"é".repeat(200)).len(), 254);
    }
}
