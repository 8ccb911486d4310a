//! The middleware stack every response goes through, in one function: panics become a 500,
//! each request gets an id (`x-request-id`) and an access-log line, internal error causes are
//! logged with that id, and the security headers are set on every response, errors and 404s
//! included.

use std::time::Instant;

use axum::Router;
use axum::extract::{MatchedPath, Request};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use http::{HeaderName, HeaderValue, header};
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::set_header::SetResponseHeaderLayer;

use super::ClientAddr;
use crate::error::{ApiError, InternalErrorCause};

/// The request id header, set on every response.
pub static REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// Headers set on every response, replacing any a handler set.
pub const SECURITY_HEADERS: &[(&str, &str)] = &[
    (
        "strict-transport-security",
        "max-age=63072000; includeSubDomains",
    ),
    (
        "content-security-policy",
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; \
         media-src 'self' blob:; object-src 'none'; base-uri 'none'; form-action 'self'; \
         frame-ancestors 'none'",
    ),
    ("x-content-type-options", "nosniff"),
    ("referrer-policy", "no-referrer"),
    ("x-frame-options", "DENY"),
    ("cross-origin-opener-policy", "same-origin"),
    ("cross-origin-resource-policy", "same-origin"),
    (
        "permissions-policy",
        "camera=(), microphone=(), geolocation=()",
    ),
];

/// Set on responses that do not choose their own caching (static assets may).
pub const DEFAULT_CACHE_CONTROL: &str = "no-store";

/// The id of the current request, in the request's extensions.
#[derive(Debug, Clone)]
pub struct RequestId(pub String);

/// Wraps `router` (routes and fallbacks) in the middleware stack.
pub fn apply(router: Router) -> Router {
    let mut router = router
        .layer(CatchPanicLayer::custom(panic_response))
        .layer(middleware::from_fn(request_context))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::CACHE_CONTROL,
            HeaderValue::from_static(DEFAULT_CACHE_CONTROL),
        ));
    for (name, value) in SECURITY_HEADERS {
        router = router.layer(SetResponseHeaderLayer::overriding(
            HeaderName::from_static(name),
            HeaderValue::from_static(value),
        ));
    }
    router
}

/// Gives the request an id, logs the request, and logs the cause of an internal error.
async fn request_context(mut request: Request, next: Next) -> Response {
    let id = format!("{:016x}", rand::random::<u64>());
    request.extensions_mut().insert(RequestId(id.clone()));
    let client = request
        .extensions()
        .get::<ClientAddr>()
        .map(|addr| addr.0.ip().to_string())
        .unwrap_or_default();
    let method = request.method().clone();
    let version = request.version();
    let path = match request.extensions().get::<MatchedPath>() {
        Some(matched) => matched.as_str().to_owned(),
        None => request.uri().path().to_owned(),
    };
    let start = Instant::now();
    let mut response = next.run(request).await;
    if let Some(InternalErrorCause(cause)) = response.extensions_mut().remove() {
        tracing::error!(request_id = %id, %method, %path, %cause, "internal error");
    }
    tracing::info!(
        request_id = %id,
        %client,
        %method,
        %path,
        ?version,
        status = response.status().as_u16(),
        elapsed_ms = start.elapsed().as_millis() as u64,
        "request"
    );
    if let Ok(value) = HeaderValue::try_from(id) {
        response.headers_mut().insert(REQUEST_ID.clone(), value);
    }
    response
}

/// A panic in a handler answers 500 like any internal error.
fn panic_response(panic: Box<dyn std::any::Any + Send + 'static>) -> Response {
    let message = panic
        .downcast_ref::<String>()
        .map(String::as_str)
        .or_else(|| panic.downcast_ref::<&str>().copied())
        .unwrap_or("(no message)");
    ApiError::internal(format!("handler panicked: {message}")).into_response()
}
