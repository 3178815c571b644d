//! `GET /api/cluster`: the nodes of the cluster and whether they answer heartbeats, so the
//! SPA can refresh its list of API hosts.

use axum::{extract::State, routing::get, Json, Router};
use serde::Serialize;

use super::error::ApiError;
use crate::{media::is_alive, state::AppState, wire_time::to_rfc3339};

pub fn router() -> Router<AppState> {
    Router::new().route("/api/cluster", get(list_nodes))
}

#[derive(Serialize)]
struct NodeView {
    node_id: String,
    public_url: String,
    healthy: bool,
    last_seen: String,
}

async fn list_nodes(State(state): State<AppState>) -> Result<Json<Vec<NodeView>>, ApiError> {
    let now = state.clock.now_millis();
    let nodes = state.media.nodes().await?;
    Ok(Json(
        nodes
            .into_iter()
            .map(|node| NodeView {
                healthy: is_alive(&node, now),
                last_seen: to_rfc3339(node.last_seen_at),
                node_id: node.node_id,
                public_url: node.public_url,
            })
            .collect(),
    ))
}
