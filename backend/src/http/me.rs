//! `GET /api/me`: who the token belongs to, for the SPA's header and role checks.

use axum::{routing::get, Json, Router};
use serde::Serialize;

use super::extract::CurrentUser;
use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new().route("/api/me", get(get_me))
}

#[derive(Serialize)]
struct Me {
    id: String,
    username: String,
    display_name: String,
    roles: Vec<&'static str>,
}

async fn get_me(user: CurrentUser) -> Json<Me> {
    let principal = user.principal;
    Json(Me {
        id: principal.user_id,
        username: principal.username,
        display_name: principal.display_name,
        roles: user.roles.names(),
    })
}
