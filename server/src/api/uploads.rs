//! Resumable uploads with the tus 1.0 protocol (core, creation, termination, expiration):
//! `OPTIONS/POST /api/v1/uploads`, `HEAD/PATCH/DELETE /api/v1/uploads/{id}`.
//!
//! `POST` announces the length in `Upload-Length` and the destination in `Upload-Metadata`:
//! `filename` (or `name`), `case`, and optionally `folder`, `path` (a folder upload's
//! relative folder path, created as needed) and `on_conflict` (`replace`),
//! each base64-encoded as tus specifies. `PATCH` requests then send the bytes from the
//! current `Upload-Offset` on; the one that completes the upload answers with the stored
//! file's id in `X-File-Id`. Each request re-checks the caller's access to the case.

use axum::body::Body;
use axum::extract::{FromRequestParts, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use casevault_storage::{
    Actor, CaseId, FileId, FolderId, NewFile, OnConflict, Outcome, Timestamp, Uploader,
};
use futures::StreamExt;

use super::{parse_id, parse_optional_id};
use crate::access::Principal;
use crate::access::{self, Action};
use crate::audit::Audit;
use crate::auth::{AuthUser, ClientIp};
use crate::error::ApiError;
use crate::extract::{Path, from_body_error};
use crate::links::LinkUser;
use crate::state::AppState;
use crate::tus::{Guard, Progress, RegisterError, TusId, TusOwner, TusUpload, UPLOAD_LIFETIME};

/// The protocol version spoken.
const TUS_VERSION: &str = "1.0.0";
/// The extensions supported.
const TUS_EXTENSIONS: &str = "creation,termination,expiration";
/// The content type of a PATCH body.
const OFFSET_STREAM: &str = "application/offset+octet-stream";

/// `OPTIONS /api/v1/uploads`: what the server supports.
#[utoipa::path(options, path = "/api/v1/uploads", tag = "uploads", responses((status = 204, description = "Tus-Version and Tus-Extension headers")))]
pub async fn options() -> Response {
    let mut response = StatusCode::NO_CONTENT.into_response();
    let headers = response.headers_mut();
    tus_headers(headers);
    headers.insert("tus-version", HeaderValue::from_static(TUS_VERSION));
    headers.insert("tus-extension", HeaderValue::from_static(TUS_EXTENSIONS));
    response
}

/// `POST /api/v1/uploads`: creates an upload (201 with its `Location`). A share-link
/// session may create one too (edit and drop links): its `case` metadata is optional.
#[utoipa::path(post, path = "/api/v1/uploads", tag = "uploads", params(("tus-resumable" = String, Header, description = "1.0.0"), ("upload-length" = u64, Header, description = "The file's length"), ("upload-metadata" = String, Header, description = "filename, case (optional for a link session), folder, path, on_conflict; values base64")), responses((status = 201, description = "Created; Location names the upload"), (status = 400, body = crate::openapi::ErrorBody), (status = 404, body = crate::openapi::ErrorBody), (status = 412, body = crate::openapi::ErrorBody), (status = 413, body = crate::openapi::ErrorBody)))]
pub async fn create(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    caller: Caller,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    check_version(&headers)?;
    if headers.contains_key("upload-defer-length") {
        return Err(ApiError::BadRequest(
            "Upload-Defer-Length is not supported: send Upload-Length.".into(),
        ));
    }
    let length = number_header(&headers, "upload-length")?;
    let metadata = Metadata::parse(&headers)?;
    let case: CaseId = match (&caller, metadata.case.as_deref()) {
        (_, Some(case)) => parse_id(case)?,
        (Caller::Link(link), None) => link_case(&state, link).await?,
        (Caller::User(_), None) => {
            return Err(ApiError::BadRequest(
                "Upload-Metadata: case is missing.".into(),
            ));
        }
    };
    let access = access::authorize(&state, caller.principal(), Action::Upload, case).await?;
    let folder: Option<FolderId> = parse_optional_id("folder", metadata.folder.as_deref())?;
    let folder = folder.or(access.default_folder());
    if !access.folder_in_scope(&state, folder).await? {
        return Err(ApiError::NotFound);
    }
    let folder = match metadata.path.as_deref() {
        Some(path) if !path.is_empty() => {
            super::files::folder_for_path(&state, &access, caller.actor(), ip, folder, path).await?
        }
        _ => folder,
    };
    let name = if access.is_drop() {
        super::files::free_name(&state, &access, folder, &metadata.name).await?
    } else {
        metadata.name.clone()
    };
    let on_conflict = if access.is_drop() {
        OnConflict::Fail
    } else {
        metadata.on_conflict
    };
    let session = state
        .storage
        .begin_upload(NewFile {
            case: access.case.id,
            folder,
            name,
            uploaded_by: caller.actor(),
            expected_size: Some(length),
            on_conflict,
            owner_only: access.is_drop(),
            grant: access.relation.grant(),
            uploader: caller.uploader(),
        })
        .await?;
    let expires_at = Timestamp(Timestamp::now().0.saturating_add(lifetime_ms()));
    let upload = TusUpload {
        owner: caller.owner(),
        given_name: metadata.name,
        case: access.case.id,
        length,
        expires_at,
        progress: Progress::Open(Box::new(session)),
    };
    let id = match state.uploads.register(upload) {
        Ok(id) => id,
        Err(RegisterError::TooManyForUser) => {
            return Err(ApiError::Conflict(
                "Too many uploads in progress: finish or cancel some first.".into(),
            ));
        }
        Err(RegisterError::TooMany) => {
            return Err(ApiError::RateLimited {
                retry_after: std::time::Duration::from_secs(60),
            });
        }
    };
    if length == 0 {
        let handle = state
            .uploads
            .get(id, caller.owner())
            .ok_or(ApiError::NotFound)?;
        let mut upload = handle.lock().await;
        complete(&state, &caller, None, &mut upload).await?;
    }
    let mut response = StatusCode::CREATED.into_response();
    let headers = response.headers_mut();
    tus_headers(headers);
    let location = format!("{}/api/v1/uploads/{id}", state.public_url);
    headers.insert(header::LOCATION, header_value(&location)?);
    headers.insert("upload-expires", header_value(&http_date(expires_at))?);
    Ok(response)
}

/// `HEAD /api/v1/uploads/{id}`: the current offset.
#[utoipa::path(head, path = "/api/v1/uploads/{id}", tag = "uploads", params(("id" = String, Path, description = "The upload's id")), responses((status = 200, description = "Upload-Offset and Upload-Length headers"), (status = 404, body = crate::openapi::ErrorBody)))]
pub async fn head(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let handle = state
        .uploads
        .get(parse_tus_id(&id)?, caller.owner())
        .ok_or(ApiError::NotFound)?;
    let upload = handle.lock().await;
    if matches!(upload.progress, Progress::Closed) {
        return Err(ApiError::NotFound);
    }
    let mut response = StatusCode::OK.into_response();
    let headers = response.headers_mut();
    tus_headers(headers);
    headers.insert("upload-offset", HeaderValue::from(upload.offset()));
    headers.insert("upload-length", HeaderValue::from(upload.length));
    headers.insert(
        "upload-expires",
        header_value(&http_date(upload.expires_at))?,
    );
    Ok(response)
}

/// `PATCH /api/v1/uploads/{id}`: appends the body at `Upload-Offset` (204 with the new
/// offset; 409 when the offset is not the current one).
#[utoipa::path(patch, path = "/api/v1/uploads/{id}", tag = "uploads", params(("id" = String, Path, description = "The upload's id"), ("tus-resumable" = String, Header, description = "1.0.0"), ("upload-offset" = u64, Header, description = "Where the body goes")), request_body(content = Vec<u8>, content_type = "application/offset+octet-stream"), responses((status = 204, description = "The new Upload-Offset; X-File-Id once complete"), (status = 404, body = crate::openapi::ErrorBody), (status = 409, body = crate::openapi::ErrorBody), (status = 412, body = crate::openapi::ErrorBody), (status = 415, body = crate::openapi::ErrorBody)))]
pub async fn patch(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    caller: Caller,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    check_version(&headers)?;
    let content_type = headers.get(header::CONTENT_TYPE).map(HeaderValue::as_bytes);
    if content_type != Some(OFFSET_STREAM.as_bytes()) {
        return Err(ApiError::UnsupportedMediaType(format!(
            "A PATCH body must have the content type {OFFSET_STREAM}."
        )));
    }
    let offset = number_header(&headers, "upload-offset")?;
    let id = parse_tus_id(&id)?;
    let handle = state
        .uploads
        .get(id, caller.owner())
        .ok_or(ApiError::NotFound)?;
    let Ok(mut upload) = handle.try_lock_owned() else {
        return Err(ApiError::Conflict(
            "Another request is writing to this upload; retry after it ends.".into(),
        ));
    };
    if upload.expires_at.0 <= Timestamp::now().0 {
        upload.close().await;
        state.uploads.remove(id);
        return Err(ApiError::NotFound);
    }
    if offset != upload.offset() {
        return Err(ApiError::Conflict(format!(
            "Upload-Offset {offset} is not the upload's offset {}.",
            upload.offset()
        )));
    }
    access::authorize(&state, caller.principal(), Action::Upload, upload.case).await?;
    // The writing runs in its own task: a client that goes away mid-request cancels this
    // handler, and a write cancelled halfway would end the upload instead of leaving it
    // ready to resume.
    let task_state = state.clone();
    let written = tokio::spawn(async move {
        let file = append(&task_state, &caller, ip, id, &mut upload, body).await?;
        Ok::<_, ApiError>((upload.offset(), upload.expires_at, file))
    })
    .await
    .map_err(ApiError::internal)?;
    let (offset, expires_at, file) = written?;
    let mut response = StatusCode::NO_CONTENT.into_response();
    let headers = response.headers_mut();
    tus_headers(headers);
    headers.insert("upload-offset", HeaderValue::from(offset));
    headers.insert("upload-expires", header_value(&http_date(expires_at))?);
    if let Some(file) = file {
        headers.insert("x-file-id", header_value(&file.to_string())?);
    }
    Ok(response)
}

/// Feeds a PATCH body to an upload and commits it once complete; the stored file's id when
/// this request completed it.
async fn append(
    state: &AppState,
    caller: &Caller,
    ip: Option<std::net::IpAddr>,
    id: TusId,
    upload: &mut Guard,
    body: Body,
) -> Result<Option<FileId>, ApiError> {
    let fed = match &mut upload.progress {
        Progress::Open(session) => feed(session, body).await,
        Progress::Done(_) | Progress::Closed => Fed::All,
    };
    match fed {
        Fed::All
            if matches!(upload.progress, Progress::Open(_)) && upload.offset() == upload.length =>
        {
            Ok(Some(complete(state, caller, ip, upload).await?))
        }
        Fed::All => Ok(None),
        // What arrived is kept; the client asks HEAD for the offset and goes on.
        Fed::BrokeOff(err) => Err(err),
        Fed::Refused(err) => {
            upload.close().await;
            state.uploads.remove(id);
            Err(err.into())
        }
    }
}

/// `DELETE /api/v1/uploads/{id}`: cancels an upload (204); nothing of it is kept.
#[utoipa::path(delete, path = "/api/v1/uploads/{id}", tag = "uploads", params(("id" = String, Path, description = "The upload's id"), ("tus-resumable" = String, Header, description = "1.0.0")), responses((status = 204, description = "Cancelled; nothing is kept"), (status = 404, body = crate::openapi::ErrorBody)))]
pub async fn delete(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    check_version(&headers)?;
    let id = parse_tus_id(&id)?;
    let handle = state
        .uploads
        .get(id, caller.owner())
        .ok_or(ApiError::NotFound)?;
    state.uploads.remove(id);
    handle.lock().await.close().await;
    let mut response = StatusCode::NO_CONTENT.into_response();
    tus_headers(response.headers_mut());
    Ok(response)
}

/// How feeding a request body to an upload ended.
enum Fed {
    /// The whole body was written.
    All,
    /// The body broke off; what arrived before is kept.
    BrokeOff(ApiError),
    /// Storage refused the bytes (quota, length): the upload cannot go on.
    Refused(casevault_storage::StorageError),
}

async fn feed(session: &mut casevault_storage::UploadSession, body: Body) -> Fed {
    let mut body = body.into_data_stream();
    while let Some(piece) = body.next().await {
        match piece {
            Ok(bytes) => {
                if let Err(err) = session.write(&bytes).await {
                    return Fed::Refused(err);
                }
            }
            Err(err) => {
                return Fed::BrokeOff(from_body_error(&err).unwrap_or_else(|| {
                    ApiError::BadRequest("The request body broke off.".into())
                }));
            }
        }
    }
    Fed::All
}

/// Commits a fully received upload and records it.
async fn complete(
    state: &AppState,
    caller: &Caller,
    ip: Option<std::net::IpAddr>,
    upload: &mut TusUpload,
) -> Result<FileId, ApiError> {
    let Progress::Open(session) = std::mem::replace(&mut upload.progress, Progress::Closed) else {
        return Err(ApiError::Conflict("The upload is already complete.".into()));
    };
    let mut audit = Audit::case(caller.actor(), "file.upload", upload.case, ip);
    if let Caller::Link(link) = caller {
        audit = audit.grant(link.grant);
    }
    match session.finish().await {
        Ok(file) => {
            upload.progress = Progress::Done(file.id);
            audit.file(file.id).record(state).await?;
            if let Caller::Link(link) = caller {
                let name = upload.given_name.clone();
                state
                    .links
                    .sessions
                    .record_upload(link.session, file.id, name);
            }
            Ok(file.id)
        }
        Err(err) => {
            audit.outcome(Outcome::Failed).record(state).await?;
            Err(err.into())
        }
    }
}

/// Who is uploading: a signed-in user, or a share-link session (edit and drop links).
pub enum Caller {
    /// A user (session cookie or API token).
    User(AuthUser),
    /// A recipient session.
    Link(LinkUser),
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        match AuthUser::from_request_parts(parts, state).await {
            Ok(user) => Ok(Caller::User(user)),
            Err(ApiError::Unauthorized) => match LinkUser::from_request_parts(parts, state).await {
                Ok(link) => Ok(Caller::Link(link)),
                Err(ApiError::LinkUnavailable) => Err(ApiError::Unauthorized),
                Err(other) => Err(other),
            },
            Err(other) => Err(other),
        }
    }
}

impl Caller {
    fn principal(&self) -> Principal {
        match self {
            Caller::User(user) => Principal::User(user.id),
            Caller::Link(link) => Principal::Link(link.grant),
        }
    }

    fn owner(&self) -> TusOwner {
        match self {
            Caller::User(user) => TusOwner::User(user.id),
            Caller::Link(link) => TusOwner::Link(link.session),
        }
    }

    fn actor(&self) -> Actor {
        match self {
            Caller::User(user) => Actor::User(user.id),
            Caller::Link(link) => Actor::Grant(link.grant),
        }
    }

    fn uploader(&self) -> Option<Uploader> {
        match self {
            Caller::User(_) => None,
            Caller::Link(link) => link.uploader.clone(),
        }
    }
}

/// The case a link session's grant is on.
async fn link_case(state: &AppState, link: &LinkUser) -> Result<CaseId, ApiError> {
    let grant = state
        .storage
        .meta()
        .grant(link.grant)
        .await?
        .ok_or(ApiError::LinkUnavailable)?;
    Ok(grant.target.case())
}

/// The destination of an upload, from `Upload-Metadata`.
struct Metadata {
    name: String,
    case: Option<String>,
    folder: Option<String>,
    /// A folder upload's relative folder path (`a/b`), created under `folder` as needed.
    path: Option<String>,
    on_conflict: OnConflict,
}

impl Metadata {
    fn parse(headers: &HeaderMap) -> Result<Self, ApiError> {
        let bad = |what: &str| ApiError::BadRequest(format!("Upload-Metadata: {what}."));
        let text = headers
            .get("upload-metadata")
            .ok_or_else(|| bad("missing (it must name the file and the case)"))?
            .to_str()
            .map_err(|_| bad("not ASCII"))?;
        let (mut name, mut case, mut folder, mut path, mut on_conflict) =
            (None, None, None, None, None);
        for pair in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (key, value) = pair.split_once(' ').unwrap_or((pair, ""));
            let value = base64::engine::general_purpose::STANDARD
                .decode(value.trim())
                .map_err(|_| bad("a value is not base64"))?;
            let value = String::from_utf8(value).map_err(|_| bad("a value is not UTF-8"))?;
            match key {
                "filename" | "name" => name = Some(value),
                "case" => case = Some(value),
                "folder" => folder = Some(value),
                "path" => path = Some(value),
                "on_conflict" => on_conflict = Some(value),
                _ => {}
            }
        }
        let on_conflict = match on_conflict.as_deref() {
            None | Some("fail") => OnConflict::Fail,
            Some("replace") => OnConflict::Replace,
            Some(_) => return Err(bad("on_conflict must be fail or replace")),
        };
        Ok(Self {
            name: name.ok_or_else(|| bad("filename is missing"))?,
            case,
            folder,
            path,
            on_conflict,
        })
    }
}

fn check_version(headers: &HeaderMap) -> Result<(), ApiError> {
    match headers.get("tus-resumable") {
        Some(value) if value.as_bytes() == TUS_VERSION.as_bytes() => Ok(()),
        _ => Err(ApiError::PreconditionFailed(format!(
            "This server speaks tus {TUS_VERSION}: send Tus-Resumable: {TUS_VERSION}."
        ))),
    }
}

fn tus_headers(headers: &mut HeaderMap) {
    headers.insert("tus-resumable", HeaderValue::from_static(TUS_VERSION));
}

fn number_header(headers: &HeaderMap, name: &str) -> Result<u64, ApiError> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .filter(|text| !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()))
        .and_then(|text| text.parse().ok())
        .ok_or_else(|| ApiError::BadRequest(format!("{name} must be a non-negative integer.")))
}

fn parse_tus_id(text: &str) -> Result<TusId, ApiError> {
    text.parse().map_err(|()| ApiError::NotFound)
}

fn header_value(text: &str) -> Result<HeaderValue, ApiError> {
    HeaderValue::try_from(text).map_err(ApiError::internal)
}

fn lifetime_ms() -> i64 {
    i64::try_from(UPLOAD_LIFETIME.as_millis()).unwrap_or(i64::MAX)
}

/// An HTTP date (IMF-fixdate), e.g. `Sun, 06 Nov 1994 08:49:37 GMT`.
pub fn http_date(at: Timestamp) -> String {
    let time = time::OffsetDateTime::from_unix_timestamp(at.0.div_euclid(1000))
        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
    let weekday = match time.weekday() {
        time::Weekday::Monday => "Mon",
        time::Weekday::Tuesday => "Tue",
        time::Weekday::Wednesday => "Wed",
        time::Weekday::Thursday => "Thu",
        time::Weekday::Friday => "Fri",
        time::Weekday::Saturday => "Sat",
        time::Weekday::Sunday => "Sun",
    };
    let month = &format!("{:?}", time.month())[..3];
    format!(
        "{weekday}, {:02} {month} {} {:02}:{:02}:{:02} GMT",
        time.day(),
        time.year(),
        time.hour(),
        time.minute(),
        time.second()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn http_dates_follow_imf_fixdate() {
        assert_eq!(
            http_date(Timestamp(784_111_777_000)),
            "Sun, 06 Nov 1994 08:49:37 GMT"
        );
        assert_eq!(http_date(Timestamp(0)), "Thu, 01 Jan 1970 00:00:00 GMT");
    }

    #[test]
    fn metadata_names_the_file_and_case() {
        let mut headers = HeaderMap::new();
        let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
        let value = format!(
            "filename {},case {},is_confidential,on_conflict {}",
            b64("scan é.stl"),
            b64("0123456789abcdef0123456789abcdef"),
            b64("replace")
        );
        headers.insert(
            "upload-metadata",
            HeaderValue::try_from(value).expect("ASCII"),
        );
        let metadata = Metadata::parse(&headers).expect("valid metadata");
        assert_eq!(metadata.name, "scan é.stl");
        assert_eq!(
            metadata.case.as_deref(),
            Some("0123456789abcdef0123456789abcdef")
        );
        assert_eq!(metadata.on_conflict, OnConflict::Replace);
        assert!(metadata.folder.is_none());

        headers.insert("upload-metadata", HeaderValue::from_static("filename !!!"));
        assert!(Metadata::parse(&headers).is_err());
        headers.insert("upload-metadata", HeaderValue::from_static("case YWJj"));
        assert!(
            Metadata::parse(&headers).is_err(),
            "the file name is required"
        );
    }
}
