//! Unit tests of the error mapping.

use std::time::Duration;

use axum::response::IntoResponse;
use http::{StatusCode, header};
use http_body_util::BodyExt;

use super::{ApiError, InternalErrorCause};

async fn body_json(err: ApiError) -> (StatusCode, http::HeaderMap, serde_json::Value) {
    let response = err.into_response();
    let status = response.status();
    let headers = response.headers().clone();
    let bytes = response
        .into_body()
        .collect()
        .await
        .expect("body")
        .to_bytes();
    (
        status,
        headers,
        serde_json::from_slice(&bytes).expect("json body"),
    )
}

#[tokio::test]
async fn every_error_has_the_json_shape() {
    let cases = [
        (
            ApiError::BadRequest("bad name".into()),
            400,
            "bad_request",
            "bad name",
        ),
        (
            ApiError::Unauthorized,
            401,
            "unauthorized",
            "authentication required",
        ),
        (ApiError::Forbidden, 403, "forbidden", "not allowed"),
        (ApiError::NotFound, 404, "not_found", "not found"),
        (
            ApiError::MethodNotAllowed,
            405,
            "method_not_allowed",
            "method not allowed",
        ),
        (
            ApiError::RequestTimeout,
            408,
            "request_timeout",
            "request timed out",
        ),
        (
            ApiError::Conflict("exists".into()),
            409,
            "conflict",
            "exists",
        ),
        (
            ApiError::PayloadTooLarge,
            413,
            "payload_too_large",
            "request body too large",
        ),
        (
            ApiError::QuotaExceeded,
            413,
            "quota_exceeded",
            "storage quota exceeded",
        ),
        (
            ApiError::UnsupportedMediaType("json only".into()),
            415,
            "unsupported_media_type",
            "json only",
        ),
        (
            ApiError::RangeNotSatisfiable { size: 10 },
            416,
            "range_not_satisfiable",
            "range not satisfiable",
        ),
        (
            ApiError::RateLimited {
                retry_after: Duration::from_millis(1500),
            },
            429,
            "rate_limited",
            "too many requests",
        ),
        (
            ApiError::internal("disk on fire"),
            500,
            "internal",
            "internal error",
        ),
    ];
    for (err, status, code, message) in cases {
        let (got_status, headers, body) = body_json(err).await;
        assert_eq!(got_status.as_u16(), status, "{code}");
        assert_eq!(headers[header::CONTENT_TYPE], "application/json");
        assert_eq!(
            body,
            serde_json::json!({ "error": { "code": code, "message": message } })
        );
    }
}

#[tokio::test]
async fn special_headers() {
    let (_, headers, _) = body_json(ApiError::RateLimited {
        retry_after: Duration::from_millis(1500),
    })
    .await;
    assert_eq!(headers[header::RETRY_AFTER], "2");
    let (_, headers, _) = body_json(ApiError::RateLimited {
        retry_after: Duration::ZERO,
    })
    .await;
    assert_eq!(headers[header::RETRY_AFTER], "1");
    let (_, headers, _) = body_json(ApiError::RangeNotSatisfiable { size: 42 }).await;
    assert_eq!(headers[header::CONTENT_RANGE], "bytes */42");
}

#[test]
fn internal_errors_keep_the_cause_out_of_the_body() {
    let io = std::io::Error::other("sled: corrupted page 7");
    let response = ApiError::internal(io).into_response();
    let cause = response
        .extensions()
        .get::<InternalErrorCause>()
        .expect("cause for the log");
    assert!(cause.0.contains("corrupted page 7"));
}
