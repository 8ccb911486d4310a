//! Extractors whose rejections are [`ApiError`]s, so that a bad JSON body, a wrong content
//! type, a malformed path parameter or query string, or a body that arrives too slowly is
//! answered in the same JSON error shape as everything else. Handlers use these instead of
//! the axum extractors of the same names.

use std::error::Error as StdError;

use axum::extract::rejection::{BytesRejection, JsonRejection, PathRejection, QueryRejection};
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use http::StatusCode;
use http::request::Parts;
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::error::ApiError;
use crate::http::min_rate::TransferTooSlow;

/// A JSON request body (requires `Content-Type: application/json`) or response body.
#[derive(Debug, Clone, Copy, Default)]
pub struct Json<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for Json<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        match axum::Json::<T>::from_request(req, state).await {
            Ok(axum::Json(value)) => Ok(Json(value)),
            Err(rejection) => Err(rejection.into()),
        }
    }
}

impl<T: Serialize> IntoResponse for Json<T> {
    fn into_response(self) -> Response {
        axum::Json(self.0).into_response()
    }
}

/// Path parameters, deserialized with serde.
#[derive(Debug, Clone, Copy, Default)]
pub struct Path<T>(pub T);

impl<T: DeserializeOwned + Send, S: Send + Sync> FromRequestParts<S> for Path<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        match axum::extract::Path::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Path(value)) => Ok(Path(value)),
            Err(rejection) => Err(rejection.into()),
        }
    }
}

/// The query string, deserialized with serde.
#[derive(Debug, Clone, Copy, Default)]
pub struct Query<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for Query<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        match axum::extract::Query::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Query(value)) => Ok(Query(value)),
            Err(rejection) => Err(rejection.into()),
        }
    }
}

/// The whole request body, buffered (within axum's default 2 MB body limit).
#[derive(Debug, Clone, Default)]
pub struct Body(pub Bytes);

impl<S: Send + Sync> FromRequest<S> for Body {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        match Bytes::from_request(req, state).await {
            Ok(bytes) => Ok(Body(bytes)),
            Err(rejection) => Err(rejection.into()),
        }
    }
}

/// Maps a rejection (status, client-facing text, error chain) to an [`ApiError`].
fn from_rejection(status: StatusCode, text: String, err: &(dyn StdError + 'static)) -> ApiError {
    if let Some(body_error) = from_body_error(err) {
        return body_error;
    }
    match status {
        StatusCode::UNSUPPORTED_MEDIA_TYPE => ApiError::UnsupportedMediaType(text),
        StatusCode::PAYLOAD_TOO_LARGE => ApiError::PayloadTooLarge,
        s if s.is_client_error() => ApiError::BadRequest(text),
        _ => ApiError::internal(text),
    }
}

/// Recognises errors of reading a request body that are the client's fault: a body slower
/// than the minimum transfer rate (408). Streaming handlers call this on body errors.
pub fn from_body_error(err: &(dyn StdError + 'static)) -> Option<ApiError> {
    let mut current = Some(err);
    while let Some(e) = current {
        if e.is::<TransferTooSlow>() {
            return Some(ApiError::RequestTimeout);
        }
        current = e.source();
    }
    None
}

macro_rules! from_rejections {
    ($($rejection:ty),*) => {$(
        impl From<$rejection> for ApiError {
            fn from(rejection: $rejection) -> Self {
                from_rejection(rejection.status(), rejection.body_text(), &rejection)
            }
        }
    )*};
}

from_rejections!(JsonRejection, PathRejection, QueryRejection, BytesRejection);

#[cfg(test)]
mod tests;
