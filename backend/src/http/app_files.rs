//! The browser app, served by the node itself: from the binary (built in by `build.rs`, so
//! one file is a whole node) or from `web.static_dir`. Hashed assets (`assets/`) are cached
//! for a year, everything else is revalidated; text goes out brotli- or gzip-encoded when the
//! browser accepts it (compressed once, when the app is built); the app's routes (`/`,
//! `/board`, `/lessons`) answer `index.html`; `config.json` lists the cluster's live nodes
//! unless the directory has its own.

use std::{borrow::Cow, path::PathBuf};

use axum::{
    body::Body,
    extract::{Request, State},
    http::{header, HeaderMap, HeaderValue, Method, StatusCode},
    response::{IntoResponse, Response},
    Json,
};
use rust_embed::RustEmbed;
use serde_json::json;
use sha2::{Digest, Sha256};

use super::error::ApiError;
use crate::{media::is_alive, state::AppState};

#[derive(RustEmbed)]
#[folder = "../frontend/dist"]
struct Embedded;

const IMMUTABLE: &str = "public, max-age=31536000, immutable";
const REVALIDATE: &str = "no-cache";

/// What the app's pages may load: their own scripts only (no inline script, no eval, so an
/// injected string cannot run), media and API calls from any node (the API hosts are other
/// origins in a cluster), and no framing by other sites (a controller is never clickjacked).
const PAGE_POLICY: &str = "default-src 'self'; script-src 'self'; \
    style-src 'self' 'unsafe-inline'; img-src 'self' data: blob: http: https:; \
    media-src 'self' blob: http: https:; connect-src 'self' blob: http: https: ws: wss:; \
    worker-src 'self' blob:; object-src 'none'; base-uri 'none'; form-action 'self'; \
    frame-ancestors 'none'";

/// Paths the app never answers: they belong to the API and the node.
const NOT_APP: &[&str] = &["/api/", "/media/", "/internal/", "/oauth/", "/ws"];

/// Where the app's files come from.
#[derive(Debug, Clone)]
pub enum AppFiles {
    Embedded,
    Dir(PathBuf),
}

/// One file of the app, as stored (maybe a compressed twin).
struct Stored {
    bytes: Cow<'static, [u8]>,
    etag: String,
}

impl AppFiles {
    /// `web.static_dir` when set, else the app built into the binary.
    pub fn from_settings(static_dir: Option<&PathBuf>) -> Self {
        static_dir.map_or(Self::Embedded, |dir| Self::Dir(dir.clone()))
    }

    async fn read(&self, path: &str) -> Option<Stored> {
        match self {
            Self::Embedded => {
                let file = Embedded::get(path)?;
                let etag = hex::encode(&file.metadata.sha256_hash()[..16]);
                Some(Stored {
                    bytes: file.data,
                    etag,
                })
            }
            Self::Dir(dir) => {
                let bytes = tokio::fs::read(dir.join(path)).await.ok()?;
                let etag = hex::encode(&Sha256::digest(&bytes)[..16]);
                Some(Stored {
                    bytes: Cow::Owned(bytes),
                    etag,
                })
            }
        }
    }
}

/// The fallback of the router: a file of the app, `index.html` for the app's routes, the
/// generated `config.json`, or 404.
pub async fn serve(State(state): State<AppState>, request: Request) -> Response {
    let path = request.uri().path();
    if NOT_APP.iter().any(|prefix| path.starts_with(prefix)) {
        return ApiError::NotFound(format!("no endpoint {path}")).into_response();
    }
    if !matches!(*request.method(), Method::GET | Method::HEAD) {
        return StatusCode::METHOD_NOT_ALLOWED.into_response();
    }
    let Some(relative) = safe_relative(path) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let files = &state.app_files;
    let headers = request.headers();
    if let Some(response) = file(files, &relative, headers).await {
        return response;
    }
    if relative == "config.json" {
        return generated_config(&state).await;
    }
    let is_route = !relative
        .rsplit('/')
        .next()
        .unwrap_or_default()
        .contains('.');
    if is_route {
        if let Some(response) = file(files, "index.html", headers).await {
            return response;
        }
    }
    StatusCode::NOT_FOUND.into_response()
}

/// The request path as a path inside the app's files, or `None` for anything that could
/// step outside them.
fn safe_relative(path: &str) -> Option<String> {
    let relative = path.trim_start_matches('/');
    let relative = if relative.is_empty() || relative.ends_with('/') {
        format!("{relative}index.html")
    } else {
        relative.to_string()
    };
    let safe = relative
        .split('/')
        .all(|part| !part.is_empty() && part != "." && part != "..")
        && !relative.contains(['\\', '\0', ':']);
    safe.then_some(relative)
}

/// A stored file, in the best encoding the browser accepts.
async fn file(files: &AppFiles, path: &str, headers: &HeaderMap) -> Option<Response> {
    let accepted = accepted_encodings(headers);
    let mut chosen = None;
    for (encoding, suffix) in [("br", ".br"), ("gzip", ".gz")] {
        if accepted.contains(&encoding) {
            if let Some(stored) = files.read(&format!("{path}{suffix}")).await {
                chosen = Some((Some(encoding), stored));
                break;
            }
        }
    }
    let (encoding, stored) = match chosen {
        Some(found) => found,
        None => (None, files.read(path).await?),
    };
    let etag = format!("\"{}{}\"", stored.etag, encoding.map_or("", |e| &e[..2]));
    let mut response = if headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|tags| tags.split(',').any(|tag| tag.trim() == etag))
    {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        Response::new(Body::from(stored.bytes))
    };
    let out = response.headers_mut();
    out.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(content_type(path)),
    );
    let cache = if path.starts_with("assets/") {
        IMMUTABLE
    } else {
        REVALIDATE
    };
    out.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    if let Ok(etag) = HeaderValue::from_str(&etag) {
        out.insert(header::ETAG, etag);
    }
    out.insert(header::VARY, HeaderValue::from_static("accept-encoding"));
    out.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    if let Some(encoding) = encoding {
        out.insert(header::CONTENT_ENCODING, HeaderValue::from_static(encoding));
    }
    if path.ends_with(".html") {
        out.insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(PAGE_POLICY),
        );
        out.insert(
            header::REFERRER_POLICY,
            HeaderValue::from_static("same-origin"),
        );
    }
    Some(response)
}

/// The encodings the request accepts (`br`, `gzip`), ignoring those with `q=0`.
fn accepted_encodings(headers: &HeaderMap) -> Vec<&'static str> {
    let Some(accept) = headers
        .get(header::ACCEPT_ENCODING)
        .and_then(|v| v.to_str().ok())
    else {
        return Vec::new();
    };
    accept
        .split(',')
        .filter_map(|item| {
            let mut parts = item.split(';').map(str::trim);
            let name = parts.next()?;
            let refused = parts.any(|p| {
                p.strip_prefix("q=")
                    .and_then(|q| q.parse::<f32>().ok())
                    .is_some_and(|q| q == 0.0)
            });
            match (name, refused) {
                ("br", false) => Some("br"),
                ("gzip", false) => Some("gzip"),
                _ => None,
            }
        })
        .collect()
}

fn content_type(path: &str) -> &'static str {
    let extension = path.rsplit('.').next().unwrap_or_default();
    match extension {
        "html" => "text/html; charset=utf-8",
        "js" | "mjs" => "text/javascript; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "json" | "map" => "application/json",
        "webmanifest" => "application/manifest+json",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "ico" => "image/x-icon",
        "woff2" => "font/woff2",
        "wasm" => "application/wasm",
        "txt" => "text/plain; charset=utf-8",
        _ => "application/octet-stream",
    }
}

/// `config.json` for an app served by a node: the public URLs of the cluster's live nodes.
/// `self` names this node's entry, so the app can reach it under the address the browser
/// already uses (`localhost` for `127.0.0.1`, a proxy's name). With the database away, the
/// node offers itself.
async fn generated_config(state: &AppState) -> Response {
    let own = state.settings.public_url.trim_end_matches('/').to_string();
    let now = state.clock.now_millis();
    let mut api = vec![own.clone()];
    match state.media.nodes().await {
        Ok(nodes) => {
            for node in nodes.into_iter().filter(|node| is_alive(node, now)) {
                let url = node.public_url.trim_end_matches('/').to_string();
                if !api.contains(&url) {
                    api.push(url);
                }
            }
        }
        Err(error) => tracing::warn!(%error, "config.json lists only this node"),
    }
    (
        [(header::CACHE_CONTROL, REVALIDATE)],
        Json(json!({ "api": api, "self": own })),
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_cannot_leave_the_app() {
        assert_eq!(safe_relative("/").as_deref(), Some("index.html"));
        assert_eq!(safe_relative("/board").as_deref(), Some("board"));
        assert_eq!(
            safe_relative("/assets/a-1.js").as_deref(),
            Some("assets/a-1.js")
        );
        for bad in [
            "/../etc/passwd",
            "/a/../../x",
            "/a//b",
            "/a\\b",
            "/c:/x",
            "/./x",
        ] {
            assert_eq!(safe_relative(bad), None, "{bad}");
        }
    }

    #[test]
    fn encodings_refused_with_q_zero_are_not_used() {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::ACCEPT_ENCODING,
            HeaderValue::from_static("gzip, deflate, br;q=0"),
        );
        assert_eq!(accepted_encodings(&headers), vec!["gzip"]);
        headers.insert(
            header::ACCEPT_ENCODING,
            HeaderValue::from_static("br;q=0.5, gzip"),
        );
        assert_eq!(accepted_encodings(&headers), vec!["br", "gzip"]);
    }
}
