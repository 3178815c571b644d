//! `POST /api/uploads` (a teacher uploads a medium), `GET /api/uploads` (their media),
//! `GET|DELETE /api/uploads/{id}`.
//!
//! The body streams to the blob store while it is hashed, never whole in memory. Its first
//! bytes must be an accepted medium of the declared type (415 otherwise), and it may not pass
//! `media.max_upload_size` (413, checked against `Content-Length` first). A client that goes
//! away halfway leaves no row and no blob. With an `Idempotency-Key`, a retried upload answers
//! with the first one's row. Once an upload is stored the other nodes are told, and copy it
//! at once.

use axum::{
    body::Body,
    extract::{DefaultBodyLimit, State},
    http::{header, HeaderMap, StatusCode, Uri},
    routing::{get, post},
    Json, Router,
};
use boardcast_sync::SyncError;
use bytes::Bytes;
use futures_util::{stream, StreamExt};
use serde::Serialize;

use super::{
    error::ApiError,
    extract::{CurrentUser, PathId, Teacher},
    idempotency,
};
use crate::{
    media::{essence, Media, MediaKind, SNIFF_LEN},
    state::AppState,
    store::{now_millis, now_secs, StoreError, UploadRow},
    wire_time::to_rfc3339,
};

/// Longest filename kept; longer ones are cut (on a character boundary).
const MAX_FILENAME_BYTES: usize = 255;

pub fn router() -> Router<AppState> {
    Router::new()
        .route(
            "/api/uploads",
            post(create_upload)
                .layer(DefaultBodyLimit::disable())
                .get(list_uploads),
        )
        .route("/api/uploads/{id}", get(show_upload).delete(delete_upload))
}

/// An upload as clients see it, with a signed URL to its bytes.
#[derive(Debug, Serialize)]
pub struct UploadView {
    id: String,
    sha256: String,
    size: i64,
    content_type: String,
    filename: String,
    url: String,
    created_at: String,
}

impl UploadView {
    pub fn new(row: UploadRow, media: &Media) -> Self {
        Self {
            url: media.url(&row.sha256, now_secs()),
            created_at: to_rfc3339(row.created_at),
            id: row.id,
            sha256: row.sha256,
            size: row.size,
            content_type: row.content_type,
            filename: row.filename,
        }
    }
}

#[tracing::instrument(skip_all)]
async fn create_upload(
    State(state): State<AppState>,
    Teacher(user): Teacher,
    uri: Uri,
    headers: HeaderMap,
    body: Body,
) -> Result<(StatusCode, Json<UploadView>), ApiError> {
    let limit = state.media.settings().max_upload_size;
    let declared = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(essence)
        .ok_or_else(|| unsupported("a Content-Type naming the medium is required"))?;
    let announced = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if announced.is_some_and(|len| len > limit) {
        return Err(ApiError::PayloadTooLarge);
    }
    let filename = filename(&uri);
    let key = idempotency::key(&headers)?.map(str::to_owned);
    let owner = user.principal.user_id;
    if let Some(key) = &key {
        if let Some(row) = state.store.find_upload_by_key(&owner, key).await? {
            return Ok((
                StatusCode::CREATED,
                Json(UploadView::new(row, &state.media)),
            ));
        }
    }

    let mut body = body.into_data_stream();
    let mut head: Vec<Bytes> = Vec::new();
    while head.iter().map(Bytes::len).sum::<usize>() < SNIFF_LEN {
        match body.next().await {
            Some(Ok(chunk)) => head.push(chunk),
            Some(Err(error)) => return Err(interrupted(error)),
            None => break,
        }
    }
    let kind = MediaKind::sniff(&head.concat()).ok_or_else(|| {
        unsupported("the content is not a supported image, PDF, video or audio file")
    })?;
    if !kind.matches_declared(&declared) {
        return Err(unsupported(&format!(
            "the content is {} but was declared as {declared}",
            kind.content_type()
        )));
    }
    let content = stream::iter(head.into_iter().map(Ok)).chain(body);
    let stored = state
        .media
        .blobs()
        .ingest(content, Some(limit), None)
        .await
        .map_err(|error| match error {
            SyncError::TooLarge { .. } => ApiError::PayloadTooLarge,
            SyncError::Interrupted(reason) => interrupted(reason),
            other => ApiError::Internal(format!("cannot store upload: {other}")),
        })?;

    let row = UploadRow {
        id: uuid::Uuid::new_v4().to_string(),
        owner_id: owner.clone(),
        sha256: stored.digest.to_hex(),
        size: i64::try_from(stored.len).unwrap_or(i64::MAX),
        content_type: kind.content_type().to_string(),
        filename,
        stored_by: state.settings.node_id.clone(),
        idempotency_key: key.clone(),
        created_at: now_millis(),
    };
    let row = match state.store.insert_upload(&row).await {
        Ok(()) => {
            state.realtime.blob_stored(&row.sha256, stored.len);
            row
        }
        // The same key raced in from a retry on another connection: answer with its row.
        Err(StoreError::Conflict { .. }) if key.is_some() => {
            let key = key.as_deref().unwrap_or_default();
            state
                .store
                .find_upload_by_key(&owner, key)
                .await?
                .ok_or_else(|| ApiError::Conflict("a retried upload conflicted".into()))?
        }
        Err(error) => return Err(error.into()),
    };
    tracing::info!(
        upload.id = row.id,
        size = row.size,
        content_type = row.content_type,
        "upload stored"
    );
    Ok((
        StatusCode::CREATED,
        Json(UploadView::new(row, &state.media)),
    ))
}

async fn list_uploads(
    State(state): State<AppState>,
    user: CurrentUser,
) -> Result<Json<Vec<UploadView>>, ApiError> {
    let owner = (!user.roles.admin).then_some(user.principal.user_id.as_str());
    let rows = state.store.list_uploads(owner).await?;
    Ok(Json(
        rows.into_iter()
            .map(|row| UploadView::new(row, &state.media))
            .collect(),
    ))
}

async fn show_upload(
    State(state): State<AppState>,
    user: CurrentUser,
    PathId(id): PathId,
) -> Result<Json<UploadView>, ApiError> {
    let row = visible_upload(&state, &user, &id).await?;
    Ok(Json(UploadView::new(row, &state.media)))
}

async fn delete_upload(
    State(state): State<AppState>,
    user: CurrentUser,
    PathId(id): PathId,
) -> Result<StatusCode, ApiError> {
    let row = visible_upload(&state, &user, &id).await?;
    if let Some(title) = state.store.lesson_showing_upload(&row.id).await? {
        return Err(ApiError::Conflict(format!(
            "the lesson “{title}” shows this upload; remove it from the lesson first"
        )));
    }
    state.store.delete_upload(&row.id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The upload if this person may see it (its owner or an admin); 404 otherwise, so ids of
/// other teachers' uploads cannot be probed.
async fn visible_upload(
    state: &AppState,
    user: &CurrentUser,
    id: &str,
) -> Result<UploadRow, ApiError> {
    state
        .store
        .find_upload(id)
        .await?
        .filter(|row| user.roles.admin || row.owner_id == user.principal.user_id)
        .ok_or_else(|| ApiError::NotFound("no such upload".into()))
}

/// The `filename` query parameter reduced to a plain name: no directories, no control
/// characters, at most 255 bytes; `upload` when absent or empty.
fn filename(uri: &Uri) -> String {
    let given = form_urlencoded::parse(uri.query().unwrap_or_default().as_bytes())
        .find(|(name, _)| name == "filename")
        .map(|(_, value)| value.into_owned())
        .unwrap_or_default();
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

fn unsupported(message: &str) -> ApiError {
    ApiError::UnsupportedMediaType(message.to_string())
}

fn interrupted(reason: impl std::fmt::Display) -> ApiError {
    tracing::info!(%reason, "upload interrupted: nothing stored");
    ApiError::BadRequest {
        code: "invalid_request",
        message: "the upload was interrupted; nothing was stored".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn name(query: &str) -> String {
        filename(&format!("/api/uploads?{query}").parse().unwrap())
    }

    #[test]
    fn filenames_lose_directories_and_control_characters() {
        assert_eq!(name("filename=photo.png"), "photo.png");
        assert_eq!(name("filename=..%2F..%2Fetc%2Fpasswd"), "passwd");
        assert_eq!(name("filename=C:%5Cfakepath%5Cslides.pdf"), "slides.pdf");
        assert_eq!(name("filename=a%0Ab%00c.png"), "abc.png");
        assert_eq!(name("filename=.."), "upload");
        assert_eq!(name(""), "upload");
        assert_eq!(name(&format!("filename={}", "é".repeat(200))).len(), 254);
    }
}
