//! `POST /api/pairings` (a teacher types the code a board shows), `GET /api/pairings` (the
//! teacher's boards) and `DELETE /api/pairings/{id}` (the teacher, or the board's "not me").

use axum::{
    extract::State,
    http::StatusCode,
    routing::{delete, get},
    Json, Router,
};
use serde::{Deserialize, Serialize};

use super::{
    error::ApiError,
    extract::{ClientAddress, PathId, Teacher, TeacherOrBoard},
    json::JsonBody,
};
use crate::{
    boards::{is_online, Boards},
    clock::Clock,
    realtime::Realtime,
    state::AppState,
    store::PairingRow,
    wire_time::to_rfc3339,
};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/pairings", get(list_pairings).post(create_pairing))
        .route("/api/pairings/{id}", delete(delete_pairing))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewPairing {
    code: String,
    label: Option<String>,
}

#[derive(Serialize)]
struct PairedBoard {
    id: String,
    name: String,
}

#[derive(Serialize)]
struct CreatedPairing {
    pairing_id: String,
    board: PairedBoard,
}

#[derive(Serialize)]
struct ListedBoard {
    id: String,
    name: String,
    online: bool,
}

#[derive(Serialize)]
struct ListedPairing {
    pairing_id: String,
    board: ListedBoard,
    label: Option<String>,
    created_at: String,
}

async fn create_pairing(
    State(boards): State<Boards>,
    State(realtime): State<Realtime>,
    State(clock): State<Clock>,
    Teacher(teacher): Teacher,
    ClientAddress(address): ClientAddress,
    JsonBody(new): JsonBody<NewPairing>,
) -> Result<(StatusCode, Json<CreatedPairing>), ApiError> {
    let pairing = boards
        .pair(
            &teacher.principal.user_id,
            new.code.trim(),
            new.label.as_deref(),
            address,
            clock.now_millis(),
        )
        .await?;
    realtime.paired(
        &pairing.board_id,
        &pairing.id,
        &teacher.principal.display_name,
    );
    Ok((
        StatusCode::CREATED,
        Json(CreatedPairing {
            pairing_id: pairing.id,
            board: PairedBoard {
                id: pairing.board_id,
                name: pairing.board_name,
            },
        }),
    ))
}

async fn list_pairings(
    State(boards): State<Boards>,
    State(clock): State<Clock>,
    Teacher(teacher): Teacher,
) -> Result<Json<Vec<ListedPairing>>, ApiError> {
    let now = clock.now_millis();
    let pairings = boards.list(&teacher.principal.user_id).await?;
    Ok(Json(
        pairings
            .into_iter()
            .map(|pairing| listed(pairing, now))
            .collect(),
    ))
}

fn listed(pairing: PairingRow, now: i64) -> ListedPairing {
    ListedPairing {
        pairing_id: pairing.id,
        board: ListedBoard {
            online: is_online(pairing.board_last_seen_at, now),
            id: pairing.board_id,
            name: pairing.board_name,
        },
        label: pairing.label,
        created_at: to_rfc3339(pairing.created_at),
    }
}

async fn delete_pairing(
    State(boards): State<Boards>,
    State(realtime): State<Realtime>,
    caller: TeacherOrBoard,
    PathId(id): PathId,
) -> Result<StatusCode, ApiError> {
    let pairing = match caller {
        TeacherOrBoard::Teacher(teacher) => {
            boards
                .unpair_as_teacher(&teacher.principal.user_id, &id)
                .await?
        }
        TeacherOrBoard::Board(board) => boards.unpair_as_board(&board.id, &id).await?,
    };
    realtime.unpaired(&pairing.board_id, &pairing.id);
    Ok(StatusCode::NO_CONTENT)
}
