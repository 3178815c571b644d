//! `POST /api/uploads` (a teacher uploads a medium), `GET /api/uploads` (their media),
//! `GET|DELETE /api/uploads/{id}`.
//!
//! The body streams to the blob store while it is hashed, never whole in memory, and may not
//! pass `media.max_upload_size` (413, checked against `Content-Length` first). The rules of
//! uploads (accepted media, retries, who sees what, uploads in use) are in `media::uploads`;
//! this file reads the request and writes the answer. Once an upload is stored the other
//! nodes are told, and copy it at once.

use axum::{
    body::Body,
    extract::{DefaultBodyLimit, State},
    http::{header, HeaderMap, StatusCode, Uri},
    routing::{get, post},
    Json, Router,
};
use serde::Serialize;

use super::{
    error::ApiError,
    extract::{CurrentUser, PathId, Teacher},
    idempotency,
};
use crate::{
    domain::people::Viewer,
    media::{clean_filename, essence, Media, NewUpload, UploadError},
    state::AppState,
    store::UploadRow,
    wire_time::to_rfc3339,
};

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
            url: media.url(&row.sha256, media.clock().now_secs()),
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
    let declared = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(essence)
        .ok_or_else(|| {
            UploadError::Unsupported("a Content-Type naming the medium is required".into())
        })?;
    let announced = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if announced.is_some_and(|len| len > state.media.settings().max_upload_size) {
        return Err(UploadError::TooLarge.into());
    }
    let upload = NewUpload {
        owner_id: user.principal.user_id,
        declared,
        filename: clean_filename(&query_value(&uri, "filename")),
        idempotency_key: idempotency::key(&headers)?.map(str::to_owned),
    };
    let stored = state
        .uploads
        .store(upload, body.into_data_stream(), state.clock.now_millis())
        .await?;
    if stored.is_new {
        let row = &stored.row;
        state
            .realtime
            .blob_stored(&row.sha256, u64::try_from(row.size).unwrap_or(0));
        tracing::info!(
            upload.id = row.id,
            size = row.size,
            content_type = row.content_type,
            "upload stored"
        );
    }
    Ok((
        StatusCode::CREATED,
        Json(UploadView::new(stored.row, &state.media)),
    ))
}

async fn list_uploads(
    State(state): State<AppState>,
    user: CurrentUser,
) -> Result<Json<Vec<UploadView>>, ApiError> {
    let rows = state.uploads.list(viewer(&user)).await?;
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
    let row = state.uploads.visible(viewer(&user), &id).await?;
    Ok(Json(UploadView::new(row, &state.media)))
}

async fn delete_upload(
    State(state): State<AppState>,
    user: CurrentUser,
    PathId(id): PathId,
) -> Result<StatusCode, ApiError> {
    state.uploads.delete(viewer(&user), &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

fn viewer(user: &CurrentUser) -> Viewer<'_> {
    Viewer {
        user_id: &user.principal.user_id,
        is_admin: user.roles.admin,
    }
}

/// A query parameter's decoded value; empty when absent.
fn query_value(uri: &Uri, name: &str) -> String {
    form_urlencoded::parse(uri.query().unwrap_or_default().as_bytes())
        .find(|(key, _)| key == name)
        .map(|(_, value)| value.into_owned())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_filename_comes_decoded_from_the_query() {
        let uri: Uri = "/api/uploads?x=1&filename=..%2F..%2Fetc%2Fpasswd"
            .parse()
            .unwrap();
        assert_eq!(query_value(&uri, "filename"), "../../etc/passwd");
        assert_eq!(clean_filename(&query_value(&uri, "filename")), "passwd");
        assert_eq!(
            query_value(&"/api/uploads".parse().unwrap(), "filename"),
            ""
        );
    }
}
