//! `GET|HEAD /media/{sha256}?exp=..&sig=..` for browsers and CDNs, and
//! `GET|HEAD /internal/blobs/{sha256}` for peers (signed with the cluster secret).
//!
//! A blob is served only from a verified local copy; a node without one streams it from a
//! peer while storing it, so an upload is servable by every node at once. Responses are
//! immutable (the name is the content's hash), support `Range` for video seeking, and carry
//! `nosniff` and a CSP that forbids any active content.

use axum::{
    body::Body,
    extract::{Path, Request, State},
    http::{header, HeaderMap, HeaderValue, StatusCode},
    response::{IntoResponse, Response},
    routing::get,
    Router,
};
use boardcast_sync::{Blob, Digest, SyncError, CLUSTER_AUTH_HEADER};
use futures_util::{stream, StreamExt};
use tower::ServiceExt;
use tower_http::services::ServeFile;

use super::{
    error::ApiError,
    ranges::{self, RangePlan},
};
use crate::{
    media::{MediaKind, MediaUrl, SNIFF_LEN},
    state::AppState,
};

const IMMUTABLE: &str = "public, max-age=31536000, immutable";
const NO_ACTIVE_CONTENT: &str = "default-src 'none'; sandbox";

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/media/{sha256}", get(serve_media))
        .route("/internal/blobs/{sha256}", get(serve_to_peer))
}

async fn serve_media(
    State(state): State<AppState>,
    Path(sha256): Path<String>,
    request: Request,
) -> Result<Response, ApiError> {
    let url = signed_url(&sha256, request.uri().query().unwrap_or_default());
    if !url.is_some_and(|url| url.is_valid(state.media.key(), state.clock.now_secs())) {
        return Err(ApiError::Forbidden(
            "the media URL is not signed by this cluster or has expired".into(),
        ));
    }
    let digest = parse_digest(&sha256)?;
    if is_cached_by_client(request.headers(), &digest) {
        return Ok(with_media_headers(
            StatusCode::NOT_MODIFIED.into_response(),
            &digest,
        ));
    }
    if let Some(blob) = local_blob(&state, &digest).await? {
        return serve_file(blob, request).await;
    }
    let response = stream_from_peer(&state, &digest).await?;
    Ok(with_media_headers(response, &digest))
}

/// Peers ask here for blobs they lack; only a verified local copy is served, never one
/// fetched from elsewhere (so two nodes missing a blob cannot ask each other in circles).
async fn serve_to_peer(
    State(state): State<AppState>,
    Path(sha256): Path<String>,
    request: Request,
) -> Result<Response, ApiError> {
    let proof = request
        .headers()
        .get(CLUSTER_AUTH_HEADER)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    if !state
        .media
        .key()
        .is_authorized(request.uri().path(), proof, state.clock.now_secs())
    {
        return Err(ApiError::Forbidden(
            "internal endpoints need the cluster secret".into(),
        ));
    }
    let digest = parse_digest(&sha256)?;
    match local_blob(&state, &digest).await? {
        Some(blob) => serve_file(blob, request).await,
        None => Err(ApiError::NotFound("no such blob on this node".into())),
    }
}

fn signed_url(sha256: &str, query: &str) -> Option<MediaUrl> {
    let mut expires = None;
    let mut signature = None;
    for (name, value) in form_urlencoded::parse(query.as_bytes()) {
        match &*name {
            "exp" => expires = value.parse::<u64>().ok(),
            "sig" => signature = Some(value.into_owned()),
            _ => {}
        }
    }
    Some(MediaUrl {
        sha256: sha256.to_string(),
        expires: expires?,
        signature: signature?,
    })
}

fn parse_digest(sha256: &str) -> Result<Digest, ApiError> {
    sha256
        .parse()
        .map_err(|_| ApiError::NotFound("no such medium".into()))
}

async fn local_blob(state: &AppState, digest: &Digest) -> Result<Option<Blob>, ApiError> {
    state
        .media
        .local(digest)
        .await
        .map_err(|e| ApiError::Internal(format!("blob store: {e}")))
}

/// The client already holds these bytes: the ETag is the content's hash.
fn is_cached_by_client(headers: &HeaderMap, digest: &Digest) -> bool {
    let etag = etag(digest);
    headers
        .get_all(header::IF_NONE_MATCH)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|tag| tag.trim().trim_start_matches("W/") == etag)
}

/// Serves a verified local copy. `Range` is planned first (see `ranges`); the whole medium,
/// one range and `HEAD` are then handled by tower-http's file service.
async fn serve_file(blob: Blob, mut request: Request) -> Result<Response, ApiError> {
    let kind = sniff_file(&blob).await?;
    let headers = request.headers_mut();
    match ranges::plan(headers, blob.len, &etag(&blob.digest)) {
        RangePlan::Whole => {
            headers.remove(header::RANGE);
        }
        RangePlan::Unsatisfiable => {
            return Ok(with_media_headers(
                ranges::unsatisfiable(blob.len),
                &blob.digest,
            ))
        }
        RangePlan::Parts(parts) => {
            if let [one] = parts.as_slice() {
                let value = format!("bytes={}-{}", one.start(), one.end());
                headers.insert(
                    header::RANGE,
                    HeaderValue::from_str(&value).map_err(|e| ApiError::Internal(e.to_string()))?,
                );
            } else {
                let response = ranges::multipart(
                    blob.path.clone(),
                    blob.len,
                    kind.content_type(),
                    parts,
                    request.method(),
                );
                return Ok(with_media_headers(response, &blob.digest));
            }
        }
    }
    headers.remove(header::IF_RANGE);
    let mime = kind
        .content_type()
        .parse::<mime::Mime>()
        .map_err(|e| ApiError::Internal(e.to_string()))?;
    let response = ServeFile::new_with_mime(&blob.path, &mime)
        .oneshot(request)
        .await
        .map_err(|e| ApiError::Internal(format!("cannot serve blob: {e}")))?;
    Ok(with_media_headers(response.map(Body::new), &blob.digest))
}

/// The blob's kind from its first bytes: a blob exists only because its content passed the
/// upload checks, and the type follows from the content alone.
async fn sniff_file(blob: &Blob) -> Result<MediaKind, ApiError> {
    use tokio::io::AsyncReadExt;
    let mut head = Vec::with_capacity(SNIFF_LEN);
    tokio::fs::File::open(&blob.path)
        .await
        .map_err(|e| ApiError::Internal(format!("cannot open blob: {e}")))?
        .take(SNIFF_LEN as u64)
        .read_to_end(&mut head)
        .await
        .map_err(|e| ApiError::Internal(format!("cannot read blob: {e}")))?;
    MediaKind::sniff(&head).ok_or_else(|| {
        tracing::error!(blob = %blob.digest, "stored blob is not an accepted medium");
        ApiError::NotFound("no such medium".into())
    })
}

/// Streams the blob from a peer (stored here as it passes). The whole body is sent with 200
/// even for a `Range` request, which HTTP allows; once stored, ranges are served locally.
async fn stream_from_peer(state: &AppState, digest: &Digest) -> Result<Response, ApiError> {
    let download = match state.media.fetch_from_peers(digest).await {
        Ok(download) => download,
        Err(SyncError::NotFound) => return Err(ApiError::NotFound("no such medium".into())),
        Err(error) => return Err(ApiError::Internal(format!("on-demand fetch: {error}"))),
    };
    let mut body = download.body;
    let mut head = Vec::new();
    while head.iter().map(bytes::Bytes::len).sum::<usize>() < SNIFF_LEN {
        match body.next().await {
            Some(Ok(chunk)) => head.push(chunk),
            Some(Err(error)) => {
                tracing::warn!(blob = %digest, %error, "on-demand fetch failed");
                return Err(ApiError::Unavailable);
            }
            None => break,
        }
    }
    let kind = MediaKind::sniff(&head.concat())
        .ok_or_else(|| ApiError::NotFound("no such medium".into()))?;
    tracing::info!(blob = %digest, "serving a blob fetched on demand");
    let body = stream::iter(head.into_iter().map(Ok)).chain(body);
    let mut response = Response::new(Body::from_stream(body));
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(kind.content_type()),
    );
    if let Some(len) = download.len {
        headers.insert(header::CONTENT_LENGTH, HeaderValue::from(len));
    }
    Ok(response)
}

fn etag(digest: &Digest) -> String {
    format!("\"{digest}\"")
}

fn with_media_headers(mut response: Response, digest: &Digest) -> Response {
    let headers = response.headers_mut();
    if let Ok(etag) = HeaderValue::from_str(&etag(digest)) {
        headers.insert(header::ETAG, etag);
    }
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static(IMMUTABLE));
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(NO_ACTIVE_CONTENT),
    );
    headers.insert(
        "cross-origin-resource-policy",
        HeaderValue::from_static("cross-origin"),
    );
    response
}
