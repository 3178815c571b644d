//! HTTP: routes, and the layers every request passes (request id, tracing span, CORS, body
//! limit). Handlers translate HTTP to calls on the domain modules and back; no SQL here.

mod app_files;
mod boards;
mod cluster;
mod error;
mod extract;
mod health;
mod idempotency;
mod json;
mod lessons;
mod me;
mod media;
mod oauth;
mod origins;
mod pairings;
mod ranges;
mod session;
mod uploads;
mod ws;

pub use app_files::AppFiles;
pub use error::ApiError;
pub use extract::CurrentUser;
pub use origins::TrustedOrigins;
pub use session::SessionCookie;

use std::time::{Duration, Instant};

use axum::{
    body::Body,
    extract::{DefaultBodyLimit, MatchedPath, State},
    http::{header, HeaderName, HeaderValue, Method, Request, Uri},
    middleware::{self, Next},
    response::Response,
    Router,
};
use tower_http::{
    cors::{AllowOrigin, CorsLayer},
    request_id::{MakeRequestUuid, PropagateRequestIdLayer, RequestId, SetRequestIdLayer},
    trace::TraceLayer,
};

use crate::state::AppState;

/// Bodies above this are refused with 413 unless a route sets its own limit (uploads,
/// lessons).
const BODY_LIMIT: usize = 64 * 1024;

/// A lesson is saved whole: 500 slides with long texts and speaker notes need room.
const LESSON_BODY_LIMIT: usize = 4 << 20;

const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// The whole application, ready to serve; `/metrics` only when it has no address of its own
/// (`metrics_listen`), so a public port never shows them when the operator moved them.
pub fn router(state: AppState) -> Router {
    let health = if state.settings.metrics_listen.is_none() {
        health::router().merge(health::metrics_router())
    } else {
        // Not the browser app's fallback page either: a scraper pointed here should fail.
        health::router().route("/metrics", axum::routing::any(api_not_found))
    };
    let with_sessions = session::router().layer(
        state
            .session_cookie
            .layer(state.store.web_sessions(state.clock.clone())),
    );
    let app = Router::new()
        .merge(oauth::router())
        .merge(with_sessions)
        .merge(me::router())
        .merge(boards::router())
        .merge(pairings::router())
        .merge(uploads::router())
        .merge(lessons::router())
        .merge(media::router())
        .merge(cluster::router())
        .merge(ws::router())
        .merge(health.layer(middleware::map_response(quiet_log)))
        .route("/api/{*rest}", axum::routing::any(api_not_found))
        .fallback(app_files::serve);
    let cors = cors_layer(state.origins.clone());
    app.layer(middleware::from_fn_with_state(
        state.clone(),
        idempotency::idempotent,
    ))
    .layer(middleware::from_fn_with_state(
        state.clone(),
        record_metrics,
    ))
    .layer(DefaultBodyLimit::max(BODY_LIMIT))
    .layer(cors)
    .layer(PropagateRequestIdLayer::new(REQUEST_ID))
    .layer(
        // Each failure is logged by what caused it (at error only when an operator must act),
        // and every answer's status is on its `answered` line: an expected 503 while the
        // database fails over is no error of its own.
        TraceLayer::new_for_http()
            .make_span_with(request_span)
            .on_response(log_response)
            .on_failure(()),
    )
    .layer(SetRequestIdLayer::new(REQUEST_ID, MakeRequestUuid))
    .with_state(state)
}

/// `/metrics` alone, for the `metrics_listen` address.
pub fn metrics_router(state: AppState) -> Router {
    health::metrics_router()
        .layer(middleware::map_response(quiet_log))
        .layer(
            TraceLayer::new_for_http()
                .on_response(log_response)
                .on_failure(()),
        )
        .with_state(state)
}

/// Marks responses whose requests are logged at debug level only: load balancers and
/// Prometheus poll these every few seconds, and would drown the log.
#[derive(Clone, Copy)]
struct QuietLog;

async fn quiet_log(mut response: Response) -> Response {
    response.extensions_mut().insert(QuietLog);
    response
}

/// One access-log line per request, inside the request's span (so with its request id).
fn log_response(response: &Response, latency: Duration, _span: &tracing::Span) {
    let status = response.status().as_u16();
    let latency_ms = latency.as_secs_f64() * 1e3;
    if response.extensions().get::<QuietLog>().is_some() {
        tracing::debug!(status, latency_ms, "answered");
    } else {
        tracing::info!(status, latency_ms, "answered");
    }
}

/// Counts each request and its latency under its matched route (unmatched paths share one
/// label, so scanners cannot grow the series without bound).
async fn record_metrics(
    State(state): State<AppState>,
    request: Request<Body>,
    next: Next,
) -> Response {
    let started = Instant::now();
    let method = method_label(request.method());
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or("unmatched", MatchedPath::as_str)
        .to_string();
    let response = next.run(request).await;
    state.metrics.record_request(
        method,
        &route,
        response.status().as_u16(),
        started.elapsed(),
    );
    response
}

/// The method as a metrics label: the standard ones by name, anything else as `other`, so a
/// client inventing methods cannot grow the series without bound.
fn method_label(method: &Method) -> &'static str {
    static KNOWN: [Method; 9] = [
        Method::GET,
        Method::HEAD,
        Method::POST,
        Method::PUT,
        Method::DELETE,
        Method::PATCH,
        Method::OPTIONS,
        Method::CONNECT,
        Method::TRACE,
    ];
    KNOWN
        .iter()
        .find(|known| *known == method)
        .map_or("other", Method::as_str)
}

async fn api_not_found(uri: Uri) -> ApiError {
    ApiError::NotFound(format!("no endpoint {}", uri.path()))
}

/// One span per request: method, low-cardinality route, request id; the user id is added
/// once a token is checked.
fn request_span<B>(request: &Request<B>) -> tracing::Span {
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| request.uri().path(), MatchedPath::as_str);
    let request_id = request
        .extensions()
        .get::<RequestId>()
        .and_then(|id| id.header_value().to_str().ok())
        .unwrap_or_default();
    tracing::info_span!(
        "request",
        http.method = %request.method(),
        http.route = route,
        request.id = request_id,
        user.id = tracing::field::Empty,
        board.id = tracing::field::Empty,
    )
}

/// Browsers on trusted origins may call the API with credentials (the session cookie).
fn cors_layer(origins: TrustedOrigins) -> CorsLayer {
    CorsLayer::new()
        .allow_origin(AllowOrigin::predicate(move |origin: &HeaderValue, _| {
            origin.to_str().is_ok_and(|origin| origins.contains(origin))
        }))
        .allow_credentials(true)
        .allow_methods([Method::GET, Method::POST, Method::PUT, Method::DELETE])
        .allow_headers([
            header::AUTHORIZATION,
            header::CONTENT_TYPE,
            header::IF_MATCH,
            HeaderName::from_static("idempotency-key"),
        ])
        // Range responses must be readable by scripts (a PDF viewer fetching pages).
        .expose_headers([
            header::ETAG,
            header::RETRY_AFTER,
            header::CONTENT_RANGE,
            header::ACCEPT_RANGES,
            HeaderName::from_static("idempotent-replayed"),
        ])
        .max_age(Duration::from_secs(600))
}
