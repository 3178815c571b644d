//! `POST /api/boards` (a board registers), `GET /api/boards/{id}` (the board, its state and
//! offset, for the board itself, a paired teacher or an admin) and `POST /api/boards/{id}/code`
//! (a board asks for a pairing code to show, for boards that cannot keep a websocket open).

use axum::{
    extract::State,
    http::StatusCode,
    routing::{get, post},
    Json, Router,
};
use serde::{Deserialize, Serialize};

use super::{
    error::ApiError,
    extract::{BoardViewer, ClientAddress, CurrentBoard, PathId},
    json::JsonBody,
};
use crate::{
    boards::{is_online, BoardReader, Boards},
    clock::Clock,
    domain::board::BoardState,
    state::AppState,
    wire_time::to_rfc3339,
};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/boards", post(create_board))
        .route("/api/boards/{id}", get(show_board))
        .route("/api/boards/{id}/code", post(create_code))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewBoard {
    name: Option<String>,
}

#[derive(Serialize)]
struct BoardCredentials {
    board_id: String,
    board_secret: String,
}

#[derive(Serialize)]
struct Code {
    code: String,
    expires_at: String,
}

async fn create_board(
    State(boards): State<Boards>,
    State(clock): State<Clock>,
    ClientAddress(address): ClientAddress,
    JsonBody(new): JsonBody<NewBoard>,
) -> Result<(StatusCode, Json<BoardCredentials>), ApiError> {
    let registered = boards
        .register(new.name.as_deref(), address, clock.now_millis())
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(BoardCredentials {
            board_id: registered.board_id,
            board_secret: registered.board_secret,
        }),
    ))
}

#[derive(Serialize)]
struct BoardView {
    id: String,
    name: String,
    online: bool,
    last_seen_at: String,
    state: BoardState,
    offset: i64,
}

async fn show_board(
    State(boards): State<Boards>,
    State(clock): State<Clock>,
    viewer: BoardViewer,
    PathId(id): PathId,
) -> Result<Json<BoardView>, ApiError> {
    let reader = match &viewer {
        BoardViewer::Board(board) => BoardReader::Board(&board.id),
        BoardViewer::Person(user) => BoardReader::Person {
            user_id: &user.principal.user_id,
            is_teacher: user.roles.teacher,
            is_admin: user.roles.admin,
        },
    };
    let (board, snapshot) = boards
        .visible(reader, &id)
        .await?
        .ok_or_else(|| ApiError::NotFound("no such board".into()))?;
    Ok(Json(BoardView {
        online: is_online(board.last_seen_at, clock.now_millis()),
        last_seen_at: to_rfc3339(board.last_seen_at),
        id: board.id,
        name: board.name,
        state: snapshot.state,
        offset: snapshot.seq,
    }))
}

async fn create_code(
    State(boards): State<Boards>,
    State(clock): State<Clock>,
    CurrentBoard(board): CurrentBoard,
    PathId(id): PathId,
) -> Result<(StatusCode, Json<Code>), ApiError> {
    if board.id != id {
        return Err(ApiError::Forbidden(
            "a board may only ask for its own code".into(),
        ));
    }
    let issued = boards.issue_code(&board.id, clock.now_millis()).await?;
    Ok((
        StatusCode::CREATED,
        Json(Code {
            code: issued.code,
            expires_at: to_rfc3339(issued.expires_at),
        }),
    ))
}
