//! The API error type: every failure a handler can report, mapped to an HTTP status and a
//! JSON body in one place.
//!
//! The body is always `{"error":{"code":"snake_case_code","message":"A sentence."}}`. Codes
//! are stable and meant for programs; messages are for people. A 500 says only
//! "internal error": its details go to the log, next to the request id that the
//! `x-request-id` response header also carries (see [`crate::http::middleware`]).

use std::time::Duration;

use axum::Json;
use axum::response::{IntoResponse, Response};
use http::{HeaderValue, StatusCode, header};
use serde_json::json;

/// Boxed error used as the cause of [`ApiError::Internal`].
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// Every error an API handler can return.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// 400: the request is malformed; the message says how.
    #[error("{0}")]
    BadRequest(String),
    /// 401: no valid credentials.
    #[error("authentication required")]
    Unauthorized,
    /// 403: authenticated, but not allowed.
    #[error("not allowed")]
    Forbidden,
    /// 401 for a failed login: the same answer for a wrong password and an unknown account.
    #[error("The e-mail or password is incorrect.")]
    InvalidCredentials,
    /// 403: a state-changing request with the session cookie lacked the right
    /// `X-CSRF-Token`, or came from a foreign `Origin`.
    #[error("The request could not be verified; reload the page and try again.")]
    CsrfFailed,
    /// 404 for every share link that cannot be used (unknown, expired, revoked, used up):
    /// one answer, so that the reasons cannot be told apart.
    #[error("This link is not available: it may have expired, been used up or been withdrawn.")]
    LinkUnavailable,
    /// 401 for a wrong share-link password.
    #[error("The password is incorrect.")]
    InvalidLinkPassword,
    /// 403 for a share link locked after too many wrong passwords.
    #[error("This link is locked after too many wrong passwords; ask its sender to unlock it.")]
    LinkLocked,
    /// 404: no such resource (also used where existence must not be revealed).
    #[error("not found")]
    NotFound,
    /// 405: the path exists, the method does not.
    #[error("method not allowed")]
    MethodNotAllowed,
    /// 408: the request (body) arrived too slowly.
    #[error("request timed out")]
    RequestTimeout,
    /// 409: the request conflicts with the current state; the message says how.
    #[error("{0}")]
    Conflict(String),
    /// 412: a required precondition header is missing or wrong; the message says which.
    #[error("{0}")]
    PreconditionFailed(String),
    /// 413: the request body is larger than allowed.
    #[error("request body too large")]
    PayloadTooLarge,
    /// 413 with its own code: the upload does not fit the remaining quota.
    #[error("storage quota exceeded")]
    QuotaExceeded,
    /// 415: the request body has an unsupported content type.
    #[error("{0}")]
    UnsupportedMediaType(String),
    /// 416: the requested range lies outside a resource of `size` bytes.
    #[error("range not satisfiable")]
    RangeNotSatisfiable {
        /// The size of the resource, sent as `Content-Range: bytes */size`.
        size: u64,
    },
    /// 429: too many requests; retry after the given delay.
    #[error("too many requests")]
    RateLimited {
        /// Sent as `Retry-After` (whole seconds, at least 1).
        retry_after: Duration,
    },
    /// 500: anything unexpected. The cause is logged, never sent.
    #[error("internal error: {0}")]
    Internal(BoxError),
}

impl ApiError {
    /// An internal error with the given cause.
    pub fn internal(cause: impl Into<BoxError>) -> Self {
        Self::Internal(cause.into())
    }

    /// The HTTP status.
    pub fn status(&self) -> StatusCode {
        match self {
            Self::BadRequest(_) => StatusCode::BAD_REQUEST,
            Self::Unauthorized => StatusCode::UNAUTHORIZED,
            Self::Forbidden | Self::CsrfFailed => StatusCode::FORBIDDEN,
            Self::InvalidCredentials | Self::InvalidLinkPassword => StatusCode::UNAUTHORIZED,
            Self::NotFound | Self::LinkUnavailable => StatusCode::NOT_FOUND,
            Self::LinkLocked => StatusCode::FORBIDDEN,
            Self::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            Self::RequestTimeout => StatusCode::REQUEST_TIMEOUT,
            Self::Conflict(_) => StatusCode::CONFLICT,
            Self::PreconditionFailed(_) => StatusCode::PRECONDITION_FAILED,
            Self::PayloadTooLarge | Self::QuotaExceeded => StatusCode::PAYLOAD_TOO_LARGE,
            Self::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::RangeNotSatisfiable { .. } => StatusCode::RANGE_NOT_SATISFIABLE,
            Self::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The stable machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            Self::BadRequest(_) => "bad_request",
            Self::Unauthorized => "unauthorized",
            Self::Forbidden => "forbidden",
            Self::InvalidCredentials => "invalid_credentials",
            Self::CsrfFailed => "csrf_failed",
            Self::NotFound => "not_found",
            Self::LinkUnavailable => "link_unavailable",
            Self::LinkLocked => "link_locked",
            Self::InvalidLinkPassword => "invalid_password",
            Self::MethodNotAllowed => "method_not_allowed",
            Self::RequestTimeout => "request_timeout",
            Self::Conflict(_) => "conflict",
            Self::PreconditionFailed(_) => "precondition_failed",
            Self::PayloadTooLarge => "payload_too_large",
            Self::QuotaExceeded => "quota_exceeded",
            Self::UnsupportedMediaType(_) => "unsupported_media_type",
            Self::RangeNotSatisfiable { .. } => "range_not_satisfiable",
            Self::RateLimited { .. } => "rate_limited",
            Self::Internal(_) => "internal",
        }
    }

    /// The sentence sent to the client (never the cause of an internal error).
    pub fn message(&self) -> String {
        match self {
            Self::Internal(_) => "internal error".to_owned(),
            other => other.to_string(),
        }
    }
}

impl From<casevault_storage::StorageError> for ApiError {
    fn from(err: casevault_storage::StorageError) -> Self {
        use casevault_storage::StorageError as E;
        match err {
            E::NotFound(_) => Self::NotFound,
            E::NameConflict => Self::Conflict("an item with this name already exists".into()),
            E::QuotaExceeded { .. } | E::GrantCapExceeded { .. } => Self::QuotaExceeded,
            E::GrantUnavailable => Self::LinkUnavailable,
            E::Invalid(what) => Self::BadRequest(format!("invalid {what}")),
            E::RangeNotSatisfiable { size } => Self::RangeNotSatisfiable { size },
            E::Aborted(why) => Self::BadRequest(format!("upload aborted: {why}")),
            E::SizeMismatch { .. } => Self::BadRequest(err.to_string()),
            other => Self::internal(other),
        }
    }
}

/// Marks a response made from [`ApiError::Internal`]; the request middleware logs the cause
/// with the request id and removes this extension.
#[derive(Debug, Clone)]
pub struct InternalErrorCause(pub String);

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        let body = json!({ "error": { "code": self.code(), "message": self.message() } });
        let mut response = (status, Json(body)).into_response();
        let headers = response.headers_mut();
        match &self {
            Self::RateLimited { retry_after } => {
                let secs = retry_after.as_secs_f64().ceil().max(1.0) as u64;
                headers.insert(header::RETRY_AFTER, HeaderValue::from(secs));
            }
            Self::RangeNotSatisfiable { size } => {
                if let Ok(value) = HeaderValue::try_from(format!("bytes */{size}")) {
                    headers.insert(header::CONTENT_RANGE, value);
                }
            }
            Self::Unauthorized => {
                headers.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
            }
            Self::PreconditionFailed(_) => {
                // tus clients learn the supported versions from this header.
                headers.insert("tus-version", HeaderValue::from_static("1.0.0"));
            }
            Self::Internal(cause) => {
                let cause = InternalErrorCause(error_chain(cause.as_ref()));
                response.extensions_mut().insert(cause);
            }
            _ => {}
        }
        response
    }
}

/// An error and its sources, joined with `: `.
pub fn error_chain(err: &(dyn std::error::Error + 'static)) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(next) = source {
        text.push_str(": ");
        text.push_str(&next.to_string());
        source = next.source();
    }
    text
}

#[cfg(test)]
mod tests;
