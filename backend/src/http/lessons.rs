//! `GET|POST /api/lessons`, `GET|PUT|DELETE /api/lessons/{id}`.
//!
//! A teacher sees and edits their own lessons, an admin every lesson; anyone else gets 404,
//! as if the lesson did not exist. A board reads the lesson open on it, without the speaker
//! notes, and gets 403 for any other. Every response carries the lesson's version as its `ETag`;
//! `PUT` must name the version it edited in `If-Match` (428 without it) and a stale version
//! gets 409 with nothing overwritten.

use std::collections::HashMap;

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
    lessons::{self, InvalidLesson, LessonInput, Slide},
    state::AppState,
    store::{LessonRow, LessonUpdate, UploadRow},
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
    let owner = (!user.roles.admin).then_some(user.principal.user_id.as_str());
    let rows = state.store.list_lessons(owner).await?;
    let parsed: Vec<(LessonRow, Vec<Slide>)> = rows
        .into_iter()
        .map(|row| {
            let slides = stored_slides(&row)?;
            Ok((row, slides))
        })
        .collect::<Result<_, ApiError>>()?;
    let uploads = uploads_of(&state, parsed.iter().flat_map(|(_, slides)| slides)).await?;
    Ok(Json(
        parsed
            .into_iter()
            .map(|(row, slides)| view(&state, row, slides, &uploads))
            .collect(),
    ))
}

async fn create_lesson(
    State(state): State<AppState>,
    Teacher(user): Teacher,
    JsonBody(input): JsonBody<LessonInput>,
) -> Result<Response, ApiError> {
    let owner_id = user.principal.user_id.clone();
    let (title, slides, uploads) = checked(&state, &user, &owner_id, input).await?;
    let now = state.clock.now_millis();
    let row = LessonRow {
        id: uuid::Uuid::new_v4().to_string(),
        owner_id,
        title,
        version: 1,
        slide_count: slides.len() as i64,
        slides: encode(&slides)?,
        created_at: now,
        updated_at: now,
    };
    state
        .store
        .insert_lesson(&row, &lessons::media_ids(&slides))
        .await?;
    tracing::info!(lesson.id = row.id, "lesson created");
    respond(&state, StatusCode::CREATED, row, slides, &uploads)
}

async fn show_lesson(
    State(state): State<AppState>,
    viewer: BoardViewer,
    PathId(id): PathId,
) -> Result<Response, ApiError> {
    let (row, slides) = match viewer {
        BoardViewer::Person(user) => {
            let row = visible_lesson(&state, &user, &id).await?;
            let slides = stored_slides(&row)?;
            (row, slides)
        }
        BoardViewer::Board(board) => {
            let row = lesson_open_on(&state, &board.id, &id).await?;
            let mut slides = stored_slides(&row)?;
            for slide in &mut slides {
                slide.notes = None;
            }
            (row, slides)
        }
    };
    let uploads = uploads_of(&state, &slides).await?;
    respond(&state, StatusCode::OK, row, slides, &uploads)
}

/// The lesson `id` if it is the one open on the board; 403 otherwise, so a board's
/// credentials never reveal another lesson.
async fn lesson_open_on(state: &AppState, board_id: &str, id: &str) -> Result<LessonRow, ApiError> {
    let open = state.store.board_snapshot(board_id).await?.state.lesson_id;
    if open.as_deref() != Some(id) {
        return Err(ApiError::Forbidden(
            "a board may read only the lesson open on it".into(),
        ));
    }
    state
        .store
        .find_lesson(id)
        .await?
        .ok_or_else(no_such_lesson)
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
    let current = visible_lesson(&state, &user, &id).await?;
    if current.version != expected {
        return Err(stale(current.version));
    }
    let (title, slides, uploads) = checked(&state, &user, &current.owner_id, input).await?;
    let row = LessonRow {
        title,
        version: expected + 1,
        slide_count: slides.len() as i64,
        slides: encode(&slides)?,
        updated_at: state.clock.now_millis().max(current.updated_at),
        ..current
    };
    match state
        .store
        .update_lesson(&row, expected, &lessons::media_ids(&slides))
        .await?
    {
        LessonUpdate::Updated => {
            announce_update(&state, &row).await;
            respond(&state, StatusCode::OK, row, slides, &uploads)
        }
        LessonUpdate::Stale => Err(stale(expected)),
        LessonUpdate::NotFound => Err(no_such_lesson()),
    }
}

async fn delete_lesson(
    State(state): State<AppState>,
    user: CurrentUser,
    PathId(id): PathId,
    headers: HeaderMap,
) -> Result<StatusCode, ApiError> {
    let current = visible_lesson(&state, &user, &id).await?;
    if let Some(expected) = if_match(&headers)? {
        if expected != current.version {
            return Err(stale(current.version));
        }
    }
    state.store.delete_lesson(&id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Tells the boards showing the lesson (and their controllers) to read it again. The save
/// has succeeded whatever happens here: a board that misses this sees the edit when it next
/// opens the lesson.
async fn announce_update(state: &AppState, lesson: &LessonRow) {
    match state.store.boards_showing_lesson(&lesson.id).await {
        Ok(boards) => state
            .realtime
            .lesson_updated(&boards, &lesson.id, lesson.version),
        Err(error) => {
            tracing::warn!(%error, lesson.id = lesson.id, "boards showing an edited lesson were not told");
        }
    }
}

/// The lesson if this person may see it; 404 otherwise.
async fn visible_lesson(
    state: &AppState,
    user: &CurrentUser,
    id: &str,
) -> Result<LessonRow, ApiError> {
    state
        .store
        .find_lesson(id)
        .await?
        .filter(|row| user.roles.admin || row.owner_id == user.principal.user_id)
        .ok_or_else(no_such_lesson)
}

/// Validates the input for a lesson of `owner_id`: its slides may show the owner's uploads
/// (and any upload when an admin saves). Also returns the uploads looked up, which the
/// response needs for its media URLs.
async fn checked(
    state: &AppState,
    user: &CurrentUser,
    owner_id: &str,
    input: LessonInput,
) -> Result<(String, Vec<Slide>, HashMap<String, UploadRow>), ApiError> {
    let ids = lessons::upload_ids(&input);
    let uploads: HashMap<String, UploadRow> = state
        .store
        .uploads_by_ids(&ids)
        .await?
        .into_iter()
        .map(|row| (row.id.clone(), row))
        .collect();
    let admin = user.roles.admin;
    let (title, slides) = lessons::validate(input, &uploads, |upload| {
        admin || upload.owner_id == owner_id
    })
    .map_err(|InvalidLesson(message)| ApiError::BadRequest {
        code: "invalid_request",
        message,
    })?;
    Ok((title, slides, uploads))
}

fn respond(
    state: &AppState,
    status: StatusCode,
    row: LessonRow,
    slides: Vec<Slide>,
    uploads: &HashMap<String, UploadRow>,
) -> Result<Response, ApiError> {
    let etag = HeaderValue::from_str(&format!("\"{}\"", row.version))
        .map_err(|e| ApiError::Internal(e.to_string()))?;
    let body = view(state, row, slides, uploads);
    Ok((status, [(header::ETAG, etag)], Json(body)).into_response())
}

fn view(
    state: &AppState,
    row: LessonRow,
    slides: Vec<Slide>,
    uploads: &HashMap<String, UploadRow>,
) -> LessonView {
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

/// The uploads the slides show, by id.
async fn uploads_of<'a>(
    state: &AppState,
    slides: impl IntoIterator<Item = &'a Slide>,
) -> Result<HashMap<String, UploadRow>, ApiError> {
    Ok(state
        .store
        .uploads_by_ids(&lessons::media_ids(slides))
        .await?
        .into_iter()
        .map(|row| (row.id.clone(), row))
        .collect())
}

fn stored_slides(row: &LessonRow) -> Result<Vec<Slide>, ApiError> {
    serde_json::from_str(&row.slides)
        .map_err(|e| ApiError::Internal(format!("lesson {} has unreadable slides: {e}", row.id)))
}

fn encode(slides: &[Slide]) -> Result<String, ApiError> {
    serde_json::to_string(slides).map_err(|e| ApiError::Internal(e.to_string()))
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

fn stale(current: i64) -> ApiError {
    ApiError::Conflict(format!(
        "the lesson was changed meanwhile (now version {current}); reload it and edit again"
    ))
}

fn no_such_lesson() -> ApiError {
    ApiError::NotFound("no such lesson".into())
}
