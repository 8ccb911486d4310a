//! The route table: every path the server answers, in one place.

use axum::Router;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use crate::api;
use crate::error::ApiError;
use crate::http::middleware;
use crate::state::AppState;

/// The whole application: routes, fallbacks and the middleware stack.
pub fn router(state: AppState) -> Router {
    let api = Router::new()
        .route("/v1/health", get(api::health::get))
        .fallback(api_not_found)
        .method_not_allowed_fallback(method_not_allowed);
    let app = Router::new()
        .nest("/api", api)
        .fallback(not_found)
        .with_state(state);
    middleware::apply(app)
}

/// Unknown `/api/…` paths: the JSON 404.
async fn api_not_found() -> ApiError {
    ApiError::NotFound
}

/// Known API path, unknown method: the JSON 405.
async fn method_not_allowed() -> ApiError {
    ApiError::MethodNotAllowed
}

/// Anything else (the web interface will answer here with its own page).
async fn not_found() -> Response {
    (StatusCode::NOT_FOUND, "not found\n").into_response()
}
