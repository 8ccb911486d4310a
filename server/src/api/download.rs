//! Downloads: `GET`/`HEAD /api/v1/cases/{case}/files/{file}/content`, streamed, with one
//! byte range (206/416), a strong `ETag` (a file id names immutable contents: a replaced
//! file is a new id), `If-None-Match`, `If-Range`, and a `Content-Disposition` that is
//! `attachment` unless `?inline=true` asks for a preview of a safe media type.

use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::Response;
use casevault_storage::{Actor, FileRecord};
use futures::TryStreamExt;
use serde::Deserialize;
use utoipa::IntoParams;

use super::parse_id;
use crate::access::{self, Action};
use crate::audit::Audit;
use crate::auth::{AuthUser, ClientIp};
use crate::error::ApiError;
use crate::extract::{Path, Query};
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
    let audit =
        Audit::case(Actor::User(user.id), "file.download", access.case.id, ip).file(file.id);
    serve(&state, &file, &name, &method, &headers, query.inline, audit).await
}

/// Answers a request for a file's contents: the status and headers for `headers`' range and
/// conditions, and for GET the streamed bytes. `audit` is recorded when the body has been
/// sent to its end (success) or broke off (failed); HEAD and 304 answers record nothing.
pub async fn serve(
    state: &AppState,
    file: &FileRecord,
    name: &str,
    method: &Method,
    headers: &HeaderMap,
    inline: bool,
    audit: Audit,
) -> Result<Response, ApiError> {
    let etag = format!("\"{}\"", file.id);
    if header_matches(headers.get(header::IF_NONE_MATCH), &etag) {
        return build(StatusCode::NOT_MODIFIED, &etag, Body::empty(), |_| {});
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
    let (media, previewable) = media_type(name, file.kind);
    let disposition = content_disposition(name, inline && previewable);
    let body = if method == Method::HEAD || range.is_empty() {
        Body::empty()
    } else {
        let stream = state
            .storage
            .read_file(file, Some(range.clone()))
            .await?
            .map_err(|err| {
                tracing::error!(error = %err, "a download stopped");
                std::io::Error::other("download stopped")
            });
        Body::from_stream(Tracked::new(stream, audit.when_sent(state)))
    };
    build(status, &etag, body, |headers| {
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(media));
        headers.insert(
            header::CONTENT_LENGTH,
            HeaderValue::from(range.end - range.start),
        );
        headers.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
        if let Ok(value) = HeaderValue::try_from(disposition) {
            headers.insert(header::CONTENT_DISPOSITION, value);
        }
        if status == StatusCode::PARTIAL_CONTENT
            && let Ok(value) = HeaderValue::try_from(format!(
                "bytes {}-{}/{}",
                range.start,
                range.end - 1,
                file.size
            ))
        {
            headers.insert(header::CONTENT_RANGE, value);
        }
    })
}

fn build(
    status: StatusCode,
    etag: &str,
    body: Body,
    headers: impl FnOnce(&mut HeaderMap),
) -> Result<Response, ApiError> {
    let mut response = Response::new(body);
    *response.status_mut() = status;
    let map = response.headers_mut();
    map.insert(
        header::ETAG,
        HeaderValue::try_from(etag).map_err(ApiError::internal)?,
    );
    headers(map);
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
