//! `POST /api/boards` (a board registers) and `POST /api/boards/{id}/code` (a board asks for
//! a pairing code to show, for boards that cannot keep a websocket open).

use axum::{
    extract::{Path, State},
    http::StatusCode,
    routing::post,
    Json, Router,
};
use serde::{Deserialize, Serialize};

use super::{
    error::ApiError,
    extract::{ClientAddress, CurrentBoard},
    json::JsonBody,
};
use crate::{boards::Boards, state::AppState, store::now_millis, wire_time::to_rfc3339};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/boards", post(create_board))
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
    ClientAddress(address): ClientAddress,
    JsonBody(new): JsonBody<NewBoard>,
) -> Result<(StatusCode, Json<BoardCredentials>), ApiError> {
    let registered = boards
        .register(new.name.as_deref(), address, now_millis())
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(BoardCredentials {
            board_id: registered.board_id,
            board_secret: registered.board_secret,
        }),
    ))
}

async fn create_code(
    State(boards): State<Boards>,
    CurrentBoard(board): CurrentBoard,
    Path(id): Path<String>,
) -> Result<(StatusCode, Json<Code>), ApiError> {
    if board.id != id {
        return Err(ApiError::Forbidden(
            "a board may only ask for its own code".into(),
        ));
    }
    let issued = boards.issue_code(&board.id, now_millis()).await?;
    Ok((
        StatusCode::CREATED,
        Json(Code {
            code: issued.code,
            expires_at: to_rfc3339(issued.expires_at),
        }),
    ))
}
