//! `GET|POST /api/lessons`, `GET|PUT|DELETE /api/lessons/{id}`.
//!
//! A teacher sees and edits their own lessons, an admin every lesson; anyone else gets 404,
//! as if the lesson did not exist. A board reads the lesson open on it, without the speaker
//! notes, and gets 403 for any other. Every response carries the lesson's version as its `ETag`;
//! `PUT` must name the version it edited in `If-Match` (428 without it) and a stale version
//! gets 409 with nothing overwritten.

use axum::{
    extract::{DefaultBodyLimit, State},
    http::{header, HeaderMap, HeaderValue, StatusCode},
    response::{IntoResponse, Response},
    routing::get,
    Json, Router,
};
use serde::Serialize;

use super::{
    error::ApiError,
    extract::{BoardViewer, CurrentUser, PathId, Teacher},
    json::JsonBody,
};
use crate::{
    domain::people::Viewer,
    lessons::{Lesson, LessonInput, Slide, UploadsById},
    state::AppState,
    store::LessonRow,
    wire_time::to_rfc3339,
};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/lessons", get(list_lessons).post(create_lesson))
        .route(
            "/api/lessons/{id}",
            get(show_lesson).put(update_lesson).delete(delete_lesson),
        )
        .layer(DefaultBodyLimit::max(super::LESSON_BODY_LIMIT))
}

#[derive(Serialize)]
struct LessonView {
    id: String,
    title: String,
    version: i64,
    owner_id: String,
    slides: Vec<SlideView>,
    created_at: String,
    updated_at: String,
}

#[derive(Serialize)]
struct SlideView {
    #[serde(flatten)]
    slide: Slide,
    #[serde(skip_serializing_if = "Option::is_none")]
    media_url: Option<String>,
}

async fn list_lessons(
    State(state): State<AppState>,
    user: CurrentUser,
) -> Result<Json<Vec<LessonView>>, ApiError> {
    let (lessons, uploads) = state.lessons.list(viewer(&user)).await?;
    Ok(Json(
        lessons
            .into_iter()
            .map(|lesson| view(&state, lesson, &uploads))
            .collect(),
    ))
}

async fn create_lesson(
    State(state): State<AppState>,
    Teacher(user): Teacher,
    JsonBody(input): JsonBody<LessonInput>,
) -> Result<Response, ApiError> {
    let (lesson, uploads) = state
        .lessons
        .create(viewer(&user), input, state.clock.now_millis())
        .await?;
    tracing::info!(lesson.id = lesson.row.id, "lesson created");
    respond(&state, StatusCode::CREATED, lesson, &uploads)
}

async fn show_lesson(
    State(state): State<AppState>,
    reader: BoardViewer,
    PathId(id): PathId,
) -> Result<Response, ApiError> {
    let (lesson, uploads) = match reader {
        BoardViewer::Person(user) => state.lessons.visible(viewer(&user), &id).await?,
        BoardViewer::Board(board) => state.lessons.open_on(&board.id, &id).await?,
    };
    respond(&state, StatusCode::OK, lesson, &uploads)
}

async fn update_lesson(
    State(state): State<AppState>,
    user: CurrentUser,
    PathId(id): PathId,
    headers: HeaderMap,
    JsonBody(input): JsonBody<LessonInput>,
) -> Result<Response, ApiError> {
    let expected = if_match(&headers)?.ok_or_else(|| {
        ApiError::PreconditionRequired(
            "send If-Match with the version you edited, so no one's changes are lost".into(),
        )
    })?;
    let (lesson, uploads) = state
        .lessons
        .update(
            viewer(&user),
            &id,
            expected,
            input,
            state.clock.now_millis(),
        )
        .await?;
    announce_update(&state, &lesson.row).await;
    respond(&state, StatusCode::OK, lesson, &uploads)
}

async fn delete_lesson(
    State(state): State<AppState>,
    user: CurrentUser,
    PathId(id): PathId,
    headers: HeaderMap,
) -> Result<StatusCode, ApiError> {
    state
        .lessons
        .delete(viewer(&user), &id, if_match(&headers)?)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Tells the boards showing the lesson (and their controllers) to read it again. The save
/// has succeeded whatever happens here: a board that misses this sees the edit when it next
/// opens the lesson.
async fn announce_update(state: &AppState, lesson: &LessonRow) {
    match state.lessons.boards_showing(&lesson.id).await {
        Ok(boards) => state
            .realtime
            .lesson_updated(&boards, &lesson.id, lesson.version),
        Err(error) => {
            tracing::warn!(%error, lesson.id = lesson.id, "boards showing an edited lesson were not told");
        }
    }
}

fn viewer(user: &CurrentUser) -> Viewer<'_> {
    Viewer {
        user_id: &user.principal.user_id,
        is_admin: user.roles.admin,
    }
}

fn respond(
    state: &AppState,
    status: StatusCode,
    lesson: Lesson,
    uploads: &UploadsById,
) -> Result<Response, ApiError> {
    let etag = HeaderValue::from_str(&format!("\"{}\"", lesson.row.version))
        .map_err(|e| ApiError::Internal(e.to_string()))?;
    let body = view(state, lesson, uploads);
    Ok((status, [(header::ETAG, etag)], Json(body)).into_response())
}

fn view(state: &AppState, Lesson { row, slides }: Lesson, uploads: &UploadsById) -> LessonView {
    let now_secs = state.clock.now_secs();
    let slides = slides
        .into_iter()
        .map(|slide| SlideView {
            media_url: slide
                .upload_id
                .as_ref()
                .and_then(|id| uploads.get(id))
                .map(|upload| state.media.url(&upload.sha256, now_secs)),
            slide,
        })
        .collect();
    LessonView {
        id: row.id,
        title: row.title,
        version: row.version,
        owner_id: row.owner_id,
        slides,
        created_at: to_rfc3339(row.created_at),
        updated_at: to_rfc3339(row.updated_at),
    }
}

/// The version named by `If-Match` (`3` or `"3"`); 400 when it names none.
fn if_match(headers: &HeaderMap) -> Result<Option<i64>, ApiError> {
    let Some(value) = headers.get(header::IF_MATCH) else {
        return Ok(None);
    };
    value
        .to_str()
        .ok()
        .map(|v| v.trim().trim_start_matches("W/").trim_matches('"'))
        .and_then(|v| v.parse::<i64>().ok())
        .map(Some)
        .ok_or_else(|| ApiError::BadRequest {
            code: "invalid_request",
            message: "If-Match must be the lesson's version, as in its ETag".into(),
        })
}
