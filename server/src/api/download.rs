//! Downloads: `GET`/`HEAD /api/v1/cases/{case}/files/{file}/content`, streamed, with one
//! byte range (206/416), a strong `ETag` (a file id names immutable contents: a replaced
//! file is a new id), `If-None-Match`, `If-Range`, and a `Content-Disposition` that is
//! `attachment` unless `?inline=true` asks for a preview of a safe media type.
//!
//! [`plan`], [`open`] and [`respond`] are shared with downloads through share links.

use std::ops::Range;

use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::Response;
use bytes::Bytes;
use casevault_storage::{Actor, FileRecord};
use futures::{Stream, TryStreamExt};
use serde::Deserialize;
use utoipa::IntoParams;

use super::parse_id;
use crate::access::{self, Action};
use crate::audit::Audit;
use crate::auth::{AuthUser, ClientIp};
use crate::error::ApiError;
use crate::extract::{Path, Query};
use crate::links;
use crate::state::AppState;
use crate::transfer::{RangeRequest, Tracked, content_disposition, media_type, parse_range};

/// Download options.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct DownloadQuery {
    /// Ask for `Content-Disposition: inline` (granted for images, videos and PDFs only).
    #[serde(default)]
    pub inline: bool,
}

/// Streams a file of a case.
#[utoipa::path(get, path = "/api/v1/cases/{case}/files/{file}/content", tag = "files", params(("case" = String, Path, description = "The case's id"), ("file" = String, Path, description = "The file's id"), ("range" = Option<String>, Header, description = "One byte range"), DownloadQuery), responses((status = 200, description = "The file", content_type = "application/octet-stream", body = Vec<u8>), (status = 206, description = "The requested range", body = Vec<u8>), (status = 304, description = "Not modified"), (status = 404, body = crate::openapi::ErrorBody), (status = 416, body = crate::openapi::ErrorBody)))]
pub async fn content(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    user: AuthUser,
    Path((case, file)): Path<(String, String)>,
    Query(query): Query<DownloadQuery>,
    method: Method,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let access = access::authorize(&state, (&user).into(), Action::Read, parse_id(&case)?).await?;
    let file = access.file(&state, parse_id(&file)?).await?;
    let name = state.storage.file_name(&access.key, &file)?;
    let mut audit =
        Audit::case(Actor::User(user.id), "file.download", access.case.id, ip).file(file.id);
    if let Some(grant) = access.relation.grant() {
        audit = audit.grant(grant);
    }
    let plan = plan(&file, &headers)?;
    let body = if method == Method::HEAD || plan.body_len() == 0 {
        None
    } else {
        let stream = open(&state, &file, &plan).await?;
        let stream = links::watched_if_shared(&state, access.relation.grant(), stream).await?;
        Some(Body::from_stream(Tracked::new(
            stream,
            audit.when_sent(&state),
        )))
    };
    respond(&file, &name, plan, query.inline, body)
}

/// What to answer to a request for a file, from its range and conditional headers.
#[derive(Debug, Clone)]
pub struct Plan {
    status: StatusCode,
    range: Range<u64>,
    etag: String,
}

impl Plan {
    /// Bytes of the body (zero for 304).
    pub fn body_len(&self) -> u64 {
        if self.status == StatusCode::NOT_MODIFIED {
            0
        } else {
            self.range.end - self.range.start
        }
    }
}

/// Decides the answer: 304 when `If-None-Match` names the file, 206 for a satisfiable range
/// (unless `If-Range` names another version), 416 for an unsatisfiable one, else 200.
pub fn plan(file: &FileRecord, headers: &HeaderMap) -> Result<Plan, ApiError> {
    let etag = format!("\"{}\"", file.id);
    if header_matches(headers.get(header::IF_NONE_MATCH), &etag) {
        return Ok(Plan {
            status: StatusCode::NOT_MODIFIED,
            range: 0..0,
            etag,
        });
    }
    let range_header = headers.get(header::RANGE).and_then(|v| v.to_str().ok());
    let range_applies = headers
        .get(header::IF_RANGE)
        .is_none_or(|value| value.as_bytes() == etag.as_bytes());
    let request = if range_applies {
        parse_range(range_header, file.size)
    } else {
        RangeRequest::Full
    };
    let (status, range) = match request {
        RangeRequest::Full => (StatusCode::OK, 0..file.size),
        RangeRequest::Partial(range) => (StatusCode::PARTIAL_CONTENT, range),
        RangeRequest::Unsatisfiable => {
            return Err(ApiError::RangeNotSatisfiable { size: file.size });
        }
    };
    Ok(Plan {
        status,
        range,
        etag,
    })
}

/// Opens the planned bytes of a file as a body stream.
pub async fn open(
    state: &AppState,
    file: &FileRecord,
    plan: &Plan,
) -> Result<impl Stream<Item = Result<Bytes, std::io::Error>> + Send + Unpin + 'static, ApiError> {
    let stream = state
        .storage
        .read_file(file, Some(plan.range.clone()))
        .await?;
    Ok(stream.map_err(|err| {
        tracing::error!(error = %err, "a download stopped");
        std::io::Error::other("download stopped")
    }))
}

/// The response for a plan: status, headers and `body` (empty when `None`).
pub fn respond(
    file: &FileRecord,
    name: &str,
    plan: Plan,
    inline: bool,
    body: Option<Body>,
) -> Result<Response, ApiError> {
    let mut response = Response::new(body.unwrap_or_else(Body::empty));
    *response.status_mut() = plan.status;
    let headers = response.headers_mut();
    headers.insert(
        header::ETAG,
        HeaderValue::try_from(&plan.etag).map_err(ApiError::internal)?,
    );
    if plan.status == StatusCode::NOT_MODIFIED {
        return Ok(response);
    }
    let (media, previewable) = media_type(name, file.kind);
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(media));
    headers.insert(header::CONTENT_LENGTH, HeaderValue::from(plan.body_len()));
    headers.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    let disposition = content_disposition(name, inline && previewable);
    if let Ok(value) = HeaderValue::try_from(disposition) {
        headers.insert(header::CONTENT_DISPOSITION, value);
    }
    if plan.status == StatusCode::PARTIAL_CONTENT {
        let value = format!(
            "bytes {}-{}/{}",
            plan.range.start,
            plan.range.end - 1,
            file.size
        );
        if let Ok(value) = HeaderValue::try_from(value) {
            headers.insert(header::CONTENT_RANGE, value);
        }
    }
    Ok(response)
}

/// Whether an `If-None-Match` value lists `etag` (or is `*`).
fn header_matches(value: Option<&HeaderValue>, etag: &str) -> bool {
    let Some(text) = value.and_then(|v| v.to_str().ok()) else {
        return false;
    };
    text.split(',').map(str::trim).any(|tag| {
        tag == "*" || tag == etag || tag.strip_prefix("W/").is_some_and(|weak| weak == etag)
    })
}
