//! `Range` on media as RFC 9110 §14 defines it. A video player seeking asks for one range; a
//! download manager may ask for several, suffixes, or ranges past the end. The file service
//! underneath serves one range well but refuses several and answers 416 to headers it should
//! ignore, so the request is planned here first: the header is ignored when the spec says so,
//! ranges are clipped and coalesced, and several become one `multipart/byteranges` body.

use std::ops::RangeInclusive;

use axum::{
    body::Body,
    http::{header, HeaderMap, HeaderValue, Method, StatusCode},
    response::{IntoResponse, Response},
};
use futures_util::{stream, StreamExt};
use http_range_header::{EndPosition, RangeUnsatisfiableError, StartPosition};
use tokio::io::{AsyncReadExt, AsyncSeekExt};
use tokio_util::io::ReaderStream;

/// More parts than this (after coalescing) are answered with the whole medium, which the
/// spec allows: a request for thousands of tiny ranges costs far more than it saves.
const MAX_PARTS: usize = 32;

/// Ranges closer than this are sent as one: a part's own headers cost about as much.
const COALESCE_GAP: u64 = 80;

/// What to send for a request, given the medium's length and strong validator.
#[derive(Debug, PartialEq, Eq)]
pub enum RangePlan {
    /// The whole medium: no `Range`, an unknown unit, a malformed header, an `If-Range` that
    /// does not match, or more parts than are worth it.
    Whole,
    /// No range overlaps the medium: 416 with `Content-Range: bytes */len`.
    Unsatisfiable,
    /// These byte ranges, in order, none overlapping or adjacent.
    Parts(Vec<RangeInclusive<u64>>),
}

/// Plans the answer to `headers` for a medium of `len` bytes whose ETag is `etag`.
pub fn plan(headers: &HeaderMap, len: u64, etag: &str) -> RangePlan {
    let Some(range) = headers.get(header::RANGE).and_then(|v| v.to_str().ok()) else {
        return RangePlan::Whole;
    };
    if let Some(validator) = headers.get(header::IF_RANGE) {
        // Only a strong ETag can match (§13.1.5); a date or another tag asks for the whole.
        if validator.as_bytes() != etag.as_bytes() {
            return RangePlan::Whole;
        }
    }
    let parsed = match http_range_header::parse_range_header(range) {
        Ok(parsed) => parsed,
        // `bytes=-0` is well formed but asks for nothing.
        Err(RangeUnsatisfiableError::ZeroSuffix) => return RangePlan::Unsatisfiable,
        Err(_) => return RangePlan::Whole,
    };
    let mut satisfiable = Vec::new();
    for spec in parsed.ranges {
        let (first, last) = match (spec.start, spec.end) {
            (StartPosition::Index(first), EndPosition::Index(last)) if first > last => {
                return RangePlan::Whole;
            }
            (StartPosition::Index(first), EndPosition::Index(last)) => (first, last),
            (StartPosition::Index(first), EndPosition::LastByte) => (first, u64::MAX),
            (StartPosition::FromLast(suffix), _) => (len.saturating_sub(suffix), u64::MAX),
        };
        if first < len {
            satisfiable.push(first..=last.min(len - 1));
        }
    }
    if satisfiable.is_empty() {
        return RangePlan::Unsatisfiable;
    }
    let parts = coalesce(satisfiable);
    if parts.len() > MAX_PARTS {
        return RangePlan::Whole;
    }
    RangePlan::Parts(parts)
}

/// Sorts the ranges and merges those that overlap or nearly touch.
fn coalesce(mut ranges: Vec<RangeInclusive<u64>>) -> Vec<RangeInclusive<u64>> {
    ranges.sort_by_key(|range| *range.start());
    let mut merged: Vec<RangeInclusive<u64>> = Vec::with_capacity(ranges.len());
    for range in ranges {
        match merged.last_mut() {
            Some(last) if *range.start() <= last.end().saturating_add(COALESCE_GAP) => {
                *last = *last.start()..=(*last.end()).max(*range.end());
            }
            _ => merged.push(range),
        }
    }
    merged
}

/// The 416 answer: nothing of the medium, and how long it is.
pub fn unsatisfiable(len: u64) -> Response {
    let mut response = StatusCode::RANGE_NOT_SATISFIABLE.into_response();
    if let Ok(value) = HeaderValue::from_str(&format!("bytes */{len}")) {
        response.headers_mut().insert(header::CONTENT_RANGE, value);
    }
    response
}

/// Several ranges of the file at `path` as one `multipart/byteranges` body (§14.6), streamed
/// from the file part by part.
pub fn multipart(
    path: std::path::PathBuf,
    len: u64,
    content_type: &'static str,
    parts: Vec<RangeInclusive<u64>>,
    method: &Method,
) -> Response {
    let boundary = format!("{:032x}", rand::random::<u128>());
    let heads: Vec<String> = parts
        .iter()
        .map(|part| {
            format!(
                "\r\n--{boundary}\r\nContent-Type: {content_type}\r\nContent-Range: bytes {}-{}/{len}\r\n\r\n",
                part.start(),
                part.end()
            )
        })
        .collect();
    let tail = format!("\r\n--{boundary}--\r\n");
    let body_len = heads.iter().map(|head| head.len() as u64).sum::<u64>()
        + parts.iter().map(|p| p.end() - p.start() + 1).sum::<u64>()
        + tail.len() as u64;
    let body = if method == Method::HEAD {
        Body::empty()
    } else {
        let segments = stream::iter(heads.into_iter().zip(parts)).then(move |(head, part)| {
            let path = path.clone();
            async move {
                let data = match open_segment(&path, &part).await {
                    Ok(data) => data.boxed(),
                    Err(error) => stream::once(async { Err(error) }).boxed(),
                };
                stream::once(async move { Ok(bytes::Bytes::from(head)) }).chain(data)
            }
        });
        let tail = stream::once(async move { Ok(bytes::Bytes::from(tail)) });
        Body::from_stream(segments.flatten().chain(tail))
    };
    let mut response = Response::new(body);
    *response.status_mut() = StatusCode::PARTIAL_CONTENT;
    let headers = response.headers_mut();
    if let Ok(value) = HeaderValue::from_str(&format!("multipart/byteranges; boundary={boundary}"))
    {
        headers.insert(header::CONTENT_TYPE, value);
    }
    headers.insert(header::CONTENT_LENGTH, HeaderValue::from(body_len));
    headers.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    response
}

/// The bytes of `part`, read as they are sent.
async fn open_segment(
    path: &std::path::Path,
    part: &RangeInclusive<u64>,
) -> std::io::Result<ReaderStream<tokio::io::Take<tokio::fs::File>>> {
    let mut file = tokio::fs::File::open(path).await?;
    file.seek(std::io::SeekFrom::Start(*part.start())).await?;
    Ok(ReaderStream::new(file.take(part.end() - part.start() + 1)))
}

#[cfg(test)]
mod tests {
    use super::*;

    const ETAG: &str = "\"abc\"";

    fn plan_for(range: &str, if_range: Option<&str>) -> RangePlan {
        let mut headers = HeaderMap::new();
        headers.insert(header::RANGE, HeaderValue::from_str(range).unwrap());
        if let Some(validator) = if_range {
            headers.insert(header::IF_RANGE, HeaderValue::from_str(validator).unwrap());
        }
        plan(&headers, 1_000, ETAG)
    }

    #[test]
    fn single_suffix_and_open_ranges_are_clipped_to_the_medium() {
        assert_eq!(plan_for("bytes=0-9", None), RangePlan::Parts(vec![0..=9]));
        assert_eq!(
            plan_for("bytes=-10", None),
            RangePlan::Parts(vec![990..=999])
        );
        assert_eq!(
            plan_for("bytes=-5000", None),
            RangePlan::Parts(vec![0..=999])
        );
        assert_eq!(
            plan_for("bytes=995-", None),
            RangePlan::Parts(vec![995..=999])
        );
        assert_eq!(
            plan_for("bytes=990-5000", None),
            RangePlan::Parts(vec![990..=999])
        );
    }

    #[test]
    fn several_ranges_are_sorted_and_overlaps_merged() {
        assert_eq!(
            plan_for("bytes=500-599,0-9", None),
            RangePlan::Parts(vec![0..=9, 500..=599])
        );
        assert_eq!(
            plan_for("bytes=0-9,5-20,-1", None),
            RangePlan::Parts(vec![0..=20, 999..=999])
        );
        assert_eq!(
            plan_for("bytes=0-9,0-9", None),
            RangePlan::Parts(vec![0..=9])
        );
    }

    #[test]
    fn ranges_past_the_end_are_unsatisfiable_unless_one_fits() {
        assert_eq!(plan_for("bytes=1000-", None), RangePlan::Unsatisfiable);
        assert_eq!(plan_for("bytes=-0", None), RangePlan::Unsatisfiable);
        assert_eq!(
            plan_for("bytes=2000-3000,10-19", None),
            RangePlan::Parts(vec![10..=19])
        );
    }

    #[test]
    fn headers_the_spec_says_to_ignore_ask_for_the_whole() {
        for ignored in ["items=0-9", "bytes=5-2", "bytes=a-b", "bytes=0-9,,x", "0-9"] {
            assert_eq!(plan_for(ignored, None), RangePlan::Whole, "{ignored}");
        }
        assert_eq!(plan_for("bytes=0-9", Some("\"old\"")), RangePlan::Whole);
        assert_eq!(
            plan_for("bytes=0-9", Some("Wed, 21 Oct 2015 07:28:00 GMT")),
            RangePlan::Whole
        );
        assert_eq!(
            plan_for("bytes=0-9", Some(ETAG)),
            RangePlan::Parts(vec![0..=9])
        );
        let many: Vec<String> = (0..40)
            .map(|i| format!("{}-{}", i * 200, i * 200))
            .collect();
        assert_eq!(
            plan(
                &HeaderMap::from_iter([(
                    header::RANGE,
                    HeaderValue::from_str(&format!("bytes={}", many.join(","))).unwrap()
                )]),
                100_000,
                ETAG
            ),
            RangePlan::Whole
        );
    }
}
