//! Liveness and readiness for load balancers: `/healthz` says the process runs, `/readyz`
//! says it can do useful work (its database answers), so traffic moves away when it cannot.

use axum::{extract::State, http::StatusCode, routing::get, Router};

use crate::{state::AppState, store::Store};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
}

async fn healthz() -> &'static str {
    "ok"
}

async fn readyz(State(store): State<Store>) -> (StatusCode, &'static str) {
    match store.ping().await {
        Ok(()) => (StatusCode::OK, "ready"),
        Err(error) => {
            tracing::warn!(%error, "not ready: database unreachable");
            (StatusCode::SERVICE_UNAVAILABLE, "database unreachable")
        }
    }
}
