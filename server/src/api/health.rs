//! `GET /api/v1/health`: liveness for load balancers and monitoring.

use serde::Serialize;
use utoipa::ToSchema;

use crate::extract::Json;

/// The health response.
#[derive(Debug, Serialize, ToSchema)]
pub struct Health {
    /// Always `ok` when the server answers.
    pub status: &'static str,
    /// The server version.
    pub version: &'static str,
}

/// Answers `{"status":"ok","version":"…"}`.
#[utoipa::path(get, path = "/api/v1/health", tag = "server", responses((status = 200, body = Health)))]
pub async fn get() -> Json<Health> {
    Json(Health {
        status: "ok",
        version: env!("CARGO_PKG_VERSION"),
    })
}
