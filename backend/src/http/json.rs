//! JSON in and out of `/api`: request bodies whose every failure is an API.md error (415 for
//! another content type, 413 too large, 400 malformed or mistyped), and the RFC 3339 form of
//! the stored millisecond times.

use axum::{
    extract::{rejection::JsonRejection, FromRequest, Request},
    http::StatusCode,
    Json,
};
use serde::de::DeserializeOwned;
use time::{format_description::well_known::Rfc3339, OffsetDateTime};

use super::error::ApiError;

/// A JSON request body of type `T`.
pub struct JsonBody<T>(pub T);

impl<S, T> FromRequest<S> for JsonBody<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        match Json::<T>::from_request(request, state).await {
            Ok(Json(value)) => Ok(Self(value)),
            Err(rejection) => Err(json_error(rejection)),
        }
    }
}

fn json_error(rejection: JsonRejection) -> ApiError {
    match rejection {
        JsonRejection::MissingJsonContentType(_) => ApiError::UnsupportedMediaType(
            "the body must be JSON (Content-Type: application/json)".into(),
        ),
        JsonRejection::JsonDataError(error) => ApiError::BadRequest {
            code: "invalid_request",
            message: error.body_text(),
        },
        JsonRejection::JsonSyntaxError(_) => ApiError::BadRequest {
            code: "invalid_json",
            message: "the body is not valid JSON".into(),
        },
        other if other.status() == StatusCode::PAYLOAD_TOO_LARGE => ApiError::PayloadTooLarge,
        other => ApiError::BadRequest {
            code: "invalid_request",
            message: other.body_text(),
        },
    }
}

/// A stored time (milliseconds since the epoch) as API.md writes times: RFC 3339, UTC.
pub fn rfc3339(millis: i64) -> String {
    OffsetDateTime::UNIX_EPOCH
        .checked_add(time::Duration::milliseconds(millis))
        .and_then(|time| time.format(&Rfc3339).ok())
        .unwrap_or_else(|| format!("@{millis}ms"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_are_rfc3339_utc() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(1_795_000_000_123), "2026-11-18T11:06:40.123Z");
    }
}
