//! The one error type of `/api`: a status code and `{"error","message"}` (docs/api.md). A 500 never
//! shows its cause; the log has it.

use axum::{
    http::{header, HeaderValue, StatusCode},
    response::{IntoResponse, Response},
    Json,
};
use serde_json::json;

use crate::{boards::PairingError, lessons::LessonError, media::UploadError, store::StoreError};

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// 400: the request is malformed; `code` says how.
    #[error("{message}")]
    BadRequest { code: &'static str, message: String },
    /// 401: no token, or one that is unknown, expired or revoked.
    #[error("a valid access token is required")]
    Unauthorized,
    /// 403: authenticated, but not allowed to do this.
    #[error("{0}")]
    Forbidden(String),
    /// 404
    #[error("{0}")]
    NotFound(String),
    /// 404 `invalid_code`: a pairing code that is unknown, expired or spent.
    #[error("{0}")]
    InvalidCode(String),
    /// 409: conflicts with the current state; nothing was changed.
    #[error("{0}")]
    Conflict(String),
    /// 409 `request_in_progress` with `Retry-After: 1`: the first request with this
    /// Idempotency-Key is still running; retry with the same key to get its answer.
    #[error("a request with this Idempotency-Key is still running; retry shortly")]
    InProgress,
    /// 428: the request must be conditional (`If-Match`).
    #[error("{0}")]
    PreconditionRequired(String),
    /// 413
    #[error("the request body is too large")]
    PayloadTooLarge,
    /// 415
    #[error("{0}")]
    UnsupportedMediaType(String),
    /// 429 with `Retry-After` in seconds.
    #[error("too many requests; try again in {0} s")]
    TooManyRequests(u64),
    /// 503: a dependency is down; clients should retry, possibly on another node.
    #[error("the service is temporarily unavailable")]
    Unavailable,
    /// 500: details only in the log.
    #[error("internal error")]
    Internal(String),
}

impl ApiError {
    fn status_and_code(&self) -> (StatusCode, &'static str) {
        match self {
            Self::BadRequest { code, .. } => (StatusCode::BAD_REQUEST, code),
            Self::Unauthorized => (StatusCode::UNAUTHORIZED, "unauthorized"),
            Self::Forbidden(_) => (StatusCode::FORBIDDEN, "forbidden"),
            Self::NotFound(_) => (StatusCode::NOT_FOUND, "not_found"),
            Self::InvalidCode(_) => (StatusCode::NOT_FOUND, "invalid_code"),
            Self::Conflict(_) => (StatusCode::CONFLICT, "conflict"),
            Self::InProgress => (StatusCode::CONFLICT, "request_in_progress"),
            Self::PayloadTooLarge => (StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large"),
            Self::PreconditionRequired(_) => {
                (StatusCode::PRECONDITION_REQUIRED, "precondition_required")
            }
            Self::UnsupportedMediaType(_) => {
                (StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type")
            }
            Self::TooManyRequests(_) => (StatusCode::TOO_MANY_REQUESTS, "too_many_requests"),
            Self::Unavailable => (StatusCode::SERVICE_UNAVAILABLE, "temporarily_unavailable"),
            Self::Internal(_) => (StatusCode::INTERNAL_SERVER_ERROR, "internal_error"),
        }
    }
}

impl From<StoreError> for ApiError {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::NotFound => Self::NotFound("no such thing".into()),
            StoreError::Conflict { constraint } => {
                Self::Conflict(format!("conflicts with existing data ({constraint})"))
            }
            StoreError::Unavailable(reason) => {
                tracing::warn!(%reason, "database unavailable");
                Self::Unavailable
            }
            StoreError::Other(reason) => Self::Internal(reason),
        }
    }
}

impl From<PairingError> for ApiError {
    fn from(error: PairingError) -> Self {
        match error {
            PairingError::InvalidCode => Self::InvalidCode(error.to_string()),
            PairingError::Invalid(message) => Self::BadRequest {
                code: "invalid_request",
                message,
            },
            PairingError::NoSuchPairing => Self::NotFound(error.to_string()),
            PairingError::Throttled(wait) => Self::TooManyRequests(retry_after_seconds(wait)),
            PairingError::Store(store) => store.into(),
        }
    }
}

impl From<UploadError> for ApiError {
    fn from(error: UploadError) -> Self {
        match error {
            UploadError::Unsupported(message) => Self::UnsupportedMediaType(message),
            UploadError::TooLarge => Self::PayloadTooLarge,
            UploadError::Interrupted => Self::BadRequest {
                code: "invalid_request",
                message: error.to_string(),
            },
            UploadError::NotFound => Self::NotFound(error.to_string()),
            UploadError::InUse(_) | UploadError::Conflict => Self::Conflict(error.to_string()),
            UploadError::Storage(_) => Self::Internal(error.to_string()),
            UploadError::Store(store) => store.into(),
        }
    }
}

impl From<LessonError> for ApiError {
    fn from(error: LessonError) -> Self {
        match error {
            LessonError::NotFound => Self::NotFound(error.to_string()),
            LessonError::NotOpenHere => Self::Forbidden(error.to_string()),
            LessonError::Stale(_) => Self::Conflict(error.to_string()),
            LessonError::Invalid(message) => Self::BadRequest {
                code: "invalid_request",
                message,
            },
            LessonError::Corrupt(message) => Self::Internal(message),
            LessonError::Store(store) => store.into(),
        }
    }
}

/// Whole seconds for `Retry-After`, rounded up so a client never retries too early.
pub fn retry_after_seconds(wait: std::time::Duration) -> u64 {
    u64::try_from(wait.as_millis().div_ceil(1000))
        .unwrap_or(u64::MAX)
        .max(1)
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, code) = self.status_and_code();
        if let Self::Internal(reason) = &self {
            tracing::error!(%reason, "request failed");
        }
        let mut response = (
            status,
            Json(json!({ "error": code, "message": self.to_string() })),
        )
            .into_response();
        match self {
            Self::Unauthorized => {
                response
                    .headers_mut()
                    .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
            }
            Self::TooManyRequests(seconds) => {
                response
                    .headers_mut()
                    .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
            }
            Self::InProgress => {
                response
                    .headers_mut()
                    .insert(header::RETRY_AFTER, HeaderValue::from(1));
            }
            _ => {}
        }
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn body_of(error: ApiError) -> (StatusCode, serde_json::Value) {
        let response = error.into_response();
        let status = response.status();
        let bytes = axum::body::to_bytes(response.into_body(), 1 << 16)
            .await
            .unwrap();
        (status, serde_json::from_slice(&bytes).unwrap())
    }

    #[tokio::test]
    async fn every_error_renders_code_and_message() {
        let (status, body) = body_of(ApiError::Unauthorized).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        assert_eq!(body["error"], "unauthorized");
        assert!(body["message"].as_str().unwrap().contains("token"));
        let (status, body) = body_of(StoreError::Unavailable("down".into()).into()).await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(body["error"], "temporarily_unavailable");
    }

    #[tokio::test]
    async fn internal_errors_hide_their_cause() {
        let (status, body) = body_of(ApiError::Internal("secret detail".into())).await;
        assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
        assert!(!body.to_string().contains("secret detail"));
    }

    #[tokio::test]
    async fn a_bad_pairing_code_is_404_invalid_code() {
        let (status, body) = body_of(PairingError::InvalidCode.into()).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        assert_eq!(body["error"], "invalid_code");
    }

    #[test]
    fn too_many_requests_says_when_to_retry() {
        let response = ApiError::TooManyRequests(42).into_response();
        assert_eq!(response.headers()[header::RETRY_AFTER], "42");
    }
}
