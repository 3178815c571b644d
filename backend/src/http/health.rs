//! Liveness and readiness for load balancers: `/healthz` says the process runs, `/readyz`
//! says it can do useful work (its database answers), so traffic moves away when it cannot;
//! `/metrics` is the Prometheus text, on `listen` or on `metrics_listen` when that is set.

use std::sync::atomic::Ordering;

use axum::{
    extract::State,
    http::{header, StatusCode},
    response::IntoResponse,
    routing::get,
    Router,
};

use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
}

pub fn metrics_router() -> Router<AppState> {
    Router::new().route("/metrics", get(metrics))
}

async fn metrics(State(state): State<AppState>) -> impl IntoResponse {
    let text = state.metrics.render(
        state.auth.directory.breaker_state(),
        state.realtime.hub().sockets(),
    );
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        text,
    )
}

async fn healthz() -> &'static str {
    "ok"
}

/// Says when readiness changes, not at every poll: a load balancer asking every few seconds
/// during an outage would otherwise bury the log.
async fn readyz(State(state): State<AppState>) -> (StatusCode, &'static str) {
    let answer = state.store.ping().await;
    let was_ready = state.ready.swap(answer.is_ok(), Ordering::AcqRel);
    match answer {
        Ok(()) => {
            if !was_ready {
                tracing::info!("ready again: the database answers");
            }
            (StatusCode::OK, "ready")
        }
        Err(error) if was_ready => {
            tracing::warn!(%error, "not ready: database unreachable");
            (StatusCode::SERVICE_UNAVAILABLE, "database unreachable")
        }
        Err(error) => {
            tracing::debug!(%error, "still not ready");
            (StatusCode::SERVICE_UNAVAILABLE, "database unreachable")
        }
    }
}
