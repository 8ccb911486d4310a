//! Share links, the recipient's side (no account): `GET /api/v1/links/{token}` (does the
//! link need a password), `POST /api/v1/links/{token}/session` (give the password, get a
//! short session), then with the session cookie `GET /api/v1/link`,
//! `GET /api/v1/link/tree`, `GET|HEAD /api/v1/link/files/{file}/content`,
//! `GET /api/v1/link/zip`, `POST /api/v1/link/files`, `POST /api/v1/link/receipt` and
//! `POST /api/v1/link/logout`.
//!
//! What a link allows is decided at every request by [`crate::access::authorize`] with the
//! grant as principal: a revoked or expired link stops at the next request, and a transfer
//! in progress at its next chunk.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use axum::body::Body;
use axum::extract::State;
use axum::http::header::SET_COOKIE;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use casevault_crypto::Token;
use casevault_crypto::password::MAX_PASSWORD_LEN;
use casevault_storage::{
    Actor, GrantRecord, GrantRole, GrantStatus, GrantTarget, Outcome, Timestamp, Uploader,
};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::download::DownloadQuery;
use super::files::{FileView, Tree, UploadQuery};
use super::grants::role_name;
use super::parse_id;
use crate::access::{self, Action, CaseAccess, Principal};
use crate::audit::Audit;
use crate::auth::session::{csrf_token, require_origin};
use crate::auth::throttle::ThrottleKey;
use crate::auth::{AuthRuntime, ClientIp};
use crate::error::ApiError;
use crate::extract::{Json, Path, Query};
use crate::links::sessions::Download;
use crate::links::{self, GrantWatch, LinkUser};
use crate::state::AppState;
use crate::transfer::Tracked;
use crate::transfer::tracked::Ending;

/// What opening a link needs.
#[derive(Debug, Serialize, ToSchema)]
pub struct LinkProbe {
    /// Whether a password must be given.
    pub password_required: bool,
}

/// The grant behind a usable link token, or the uniform unavailable answer.
async fn usable_grant(state: &AppState, token: &str) -> Result<GrantRecord, ApiError> {
    let token = Token::parse(token).map_err(|_| ApiError::LinkUnavailable)?;
    let grant = state
        .storage
        .meta()
        .grant_by_token(token.hash())
        .await?
        .ok_or(ApiError::LinkUnavailable)?;
    match grant.status(Timestamp::now()) {
        GrantStatus::Active => Ok(grant),
        // A drop or edit link whose downloads are used up still takes uploads.
        GrantStatus::UsedUp if grant.role != GrantRole::Read => Ok(grant),
        GrantStatus::Locked => Err(ApiError::LinkLocked),
        _ => Err(ApiError::LinkUnavailable),
    }
}

/// Whether a link needs a password (404 `link_unavailable` when it cannot be used).
#[utoipa::path(get, path = "/api/v1/links/{token}", tag = "links", params(("token" = String, Path, description = "The link token")), responses((status = 200, body = LinkProbe), (status = 404, body = crate::openapi::ErrorBody)))]
pub async fn probe(
    State(state): State<AppState>,
    Path(token): Path<String>,
) -> Result<Json<LinkProbe>, ApiError> {
    let grant = usable_grant(&state, &token).await?;
    Ok(Json(LinkProbe {
        password_required: grant.password.is_some(),
    }))
}

/// The password form.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Unlock {
    /// The link's password (ignored when it has none).
    #[serde(default)]
    pub password: String,
    /// Who is uploading (drop and edit links): a name, an e-mail, or both.
    pub name: Option<String>,
    /// The uploader's e-mail, for the receipt.
    pub email: Option<String>,
}

/// What a recipient may know about the share they opened.
#[derive(Debug, Serialize, ToSchema)]
pub struct LinkInfo {
    /// The token to send as `X-CSRF-Token` with state-changing requests.
    pub csrf_token: Option<String>,
    /// `read`, `edit` or `drop`.
    pub role: &'static str,
    /// `case`, `folder` or `file`.
    pub target: &'static str,
    /// The sender's note.
    pub note: String,
    /// The sender's name.
    pub sender: String,
    /// When the link stops working, milliseconds since the Unix epoch.
    pub expires_at: Option<i64>,
    /// Downloads left, when limited.
    pub downloads_left: Option<u32>,
}

async fn info(
    state: &AppState,
    grant: &GrantRecord,
    csrf: Option<String>,
) -> Result<LinkInfo, ApiError> {
    let meta = state.storage.meta();
    let case = meta
        .case(grant.target.case())
        .await?
        .ok_or(ApiError::LinkUnavailable)?;
    let key = state.storage.case_key(&case)?;
    let note = state
        .storage
        .grant_recipient(&key, grant)?
        .map(|r| r.note)
        .unwrap_or_default();
    let sender = meta
        .user(grant.owner)
        .await?
        .map(|u| u.display_name)
        .unwrap_or_default();
    Ok(LinkInfo {
        csrf_token: csrf,
        role: role_name(grant.role),
        target: match grant.target {
            GrantTarget::Case(_) => "case",
            GrantTarget::Folder(..) => "folder",
            GrantTarget::File(..) => "file",
        },
        note,
        sender,
        expires_at: grant.expires_at.map(|t| t.0),
        downloads_left: grant
            .download_limit
            .map(|limit| limit.saturating_sub(grant.downloads)),
    })
}

/// Opens a link with its password: a session cookie (201). Wrong passwords slow down, then
/// answer 429, and lock the link after `shares.lock_after` of them; the owner is told.
#[utoipa::path(post, path = "/api/v1/links/{token}/session", tag = "links", params(("token" = String, Path, description = "The link token")), request_body = Unlock, responses((status = 201, body = LinkInfo), (status = 401, body = crate::openapi::ErrorBody), (status = 403, body = crate::openapi::ErrorBody), (status = 404, body = crate::openapi::ErrorBody), (status = 429, body = crate::openapi::ErrorBody)))]
pub async fn unlock(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    Path(token): Path<String>,
    headers: HeaderMap,
    Json(form): Json<Unlock>,
) -> Result<Response, ApiError> {
    require_origin(&headers, &state)?;
    let runtime = AuthRuntime::of(&state);
    let found = usable_grant(&state, &token).await;
    let mut keys: Vec<ThrottleKey> = ip.map(ThrottleKey::Ip).into_iter().collect();
    if let Ok(grant) = &found {
        keys.push(ThrottleKey::Grant(grant.id));
    }
    if let Err(retry_after) = runtime.throttle.check(&keys) {
        return Err(ApiError::RateLimited { retry_after });
    }
    let (grant, hash) = match &found {
        Ok(grant) => (Some(grant), grant.password.as_ref()),
        Err(_) => (None, None),
    };
    // Every attempt costs one hash, against a dummy when there is no real one.
    let password = if form.password.len() > MAX_PASSWORD_LEN {
        ""
    } else {
        form.password.as_str()
    };
    let needs_check = grant.is_none_or(|g| g.password.is_some());
    let matched = if needs_check {
        state
            .passwords
            .verify(password, hash)
            .await
            .map_err(ApiError::internal)?
    } else {
        true
    };
    let grant = match (found, matched) {
        (Ok(grant), true) => grant,
        (Ok(grant), false) => {
            let delay = runtime.throttle.fail(&keys);
            let record = state
                .storage
                .meta()
                .record_failed_attempt(grant.id, Timestamp::now(), state.settings.shares.lock_after)
                .await?;
            let case = grant.target.case();
            let audit = Audit::case(Actor::Grant(grant.id), "share.open", case, ip).grant(grant.id);
            audit.outcome(Outcome::Denied).record(&state).await?;
            // Attempts race; only the one that reached the threshold reports the lock.
            if record.locked_at.is_some()
                && record.failed_attempts == state.settings.shares.lock_after
            {
                state.links.grant_changed();
                links::end_sessions(&state, grant.id).await;
                links::notify::link_locked(&state, grant.owner, grant.id).await;
                Audit::case(Actor::System, "share.lock", case, ip)
                    .grant(grant.id)
                    .record(&state)
                    .await?;
            }
            tokio::time::sleep(delay).await;
            return Err(ApiError::InvalidLinkPassword);
        }
        (Err(err), _) => {
            if needs_check {
                tokio::time::sleep(runtime.throttle.fail(&keys)).await;
            }
            return Err(err);
        }
    };
    if grant.failed_attempts > 0 {
        state.storage.meta().reset_failed_attempts(grant.id).await?;
    }
    let uploader = uploader(form.name.as_deref(), form.email.as_deref())?;
    let (session, ended) = state.links.sessions.start(grant.id);
    links::settle(&state, ended).await;
    state
        .links
        .sessions
        .update(session.hash(), |s| s.uploader = uploader);
    Audit::case(
        Actor::Grant(grant.id),
        "share.open",
        grant.target.case(),
        ip,
    )
    .grant(grant.id)
    .record(&state)
    .await?;
    let body = info(&state, &grant, Some(csrf_token(&session.as_str()))).await?;
    let cookie = HeaderValue::try_from(links::set_cookie(&session)).map_err(ApiError::internal)?;
    Ok((StatusCode::CREATED, [(SET_COOKIE, cookie)], Json(body)).into_response())
}

/// Who the uploader says they are (both optional, each checked).
fn uploader(name: Option<&str>, email: Option<&str>) -> Result<Option<Uploader>, ApiError> {
    let clean = |text: Option<&str>, what: &str| -> Result<Option<String>, ApiError> {
        let Some(text) = text.map(str::trim).filter(|t| !t.is_empty()) else {
            return Ok(None);
        };
        if text.chars().count() > 200 || text.chars().any(char::is_control) {
            return Err(ApiError::BadRequest(format!(
                "The {what} must have at most 200 characters and no control characters."
            )));
        }
        Ok(Some(text.to_owned()))
    };
    let name = clean(name, "name")?;
    let email = clean(email, "e-mail")?;
    if email.as_deref().is_some_and(|e| !e.contains('@')) {
        return Err(ApiError::BadRequest(
            "The e-mail address is not valid.".into(),
        ));
    }
    Ok((name.is_some() || email.is_some()).then(|| Uploader {
        name: name.unwrap_or_default(),
        email: email.unwrap_or_default(),
    }))
}

/// The access of a recipient session to its grant's case.
async fn link_access(
    state: &AppState,
    link: &LinkUser,
    action: Action,
) -> Result<(CaseAccess, GrantRecord), ApiError> {
    let grant = state
        .storage
        .meta()
        .grant(link.grant)
        .await?
        .ok_or(ApiError::LinkUnavailable)?;
    let access = access::authorize(
        state,
        Principal::Link(grant.id),
        action,
        grant.target.case(),
    )
    .await
    .map_err(|err| match err {
        ApiError::NotFound => ApiError::LinkUnavailable,
        other => other,
    })?;
    Ok((access, grant))
}

/// The share a session is for.
#[utoipa::path(get, path = "/api/v1/link", tag = "links", responses((status = 200, body = LinkInfo), (status = 404, body = crate::openapi::ErrorBody)))]
pub async fn current(
    State(state): State<AppState>,
    link: LinkUser,
) -> Result<Json<LinkInfo>, ApiError> {
    let grant = state
        .storage
        .meta()
        .grant(link.grant)
        .await?
        .ok_or(ApiError::LinkUnavailable)?;
    if !grant.accepts_uploads(Timestamp::now()) {
        return Err(ApiError::LinkUnavailable);
    }
    Ok(Json(info(&state, &grant, None).await?))
}

/// What a read or edit link shows (403 for a drop-only link).
#[utoipa::path(get, path = "/api/v1/link/tree", tag = "links", responses((status = 200, body = Tree), (status = 403, body = crate::openapi::ErrorBody), (status = 404, body = crate::openapi::ErrorBody)))]
pub async fn tree(State(state): State<AppState>, link: LinkUser) -> Result<Json<Tree>, ApiError> {
    let (access, _) = link_access(&state, &link, Action::Read).await?;
    Ok(Json(super::files::tree_of(&state, &access).await?))
}

/// Downloads a file through a link. Each download claims one of the link's downloads; the
/// claim is counted once the session has received the whole file, so a broken download
/// can be resumed with `Range` in the same session without using another.
#[utoipa::path(get, path = "/api/v1/link/files/{file}/content", tag = "links", params(("file" = String, Path, description = "The file's id"), DownloadQuery), responses((status = 200, body = Vec<u8>), (status = 206, body = Vec<u8>), (status = 404, body = crate::openapi::ErrorBody), (status = 409, body = crate::openapi::ErrorBody)))]
pub async fn content(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    link: LinkUser,
    Path(file): Path<String>,
    Query(query): Query<DownloadQuery>,
    method: Method,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let (access, grant) = link_access(&state, &link, Action::Read).await?;
    let file = access.file(&state, parse_id(&file)?).await?;
    let name = state.storage.file_name(&access.key, &file)?;
    let audit = Audit::case(Actor::Grant(grant.id), "share.download", access.case.id, ip)
        .file(file.id)
        .grant(grant.id);
    let plan = super::download::plan(&file, &headers)?;
    if method == Method::HEAD || plan.body_len() == 0 {
        return super::download::respond(&file, &name, plan, query.inline, None);
    }
    let claim = links::claim(&state, &link, Download::File(file.id), file.size).await?;
    let sent = Arc::new(AtomicU64::new(0));
    let stream = match super::download::open(&state, &file, &plan).await {
        Ok(stream) => stream,
        Err(err) => {
            claim.finish(0).await;
            return Err(err);
        }
    };
    let body = links::watched(stream, GrantWatch::new(&state, grant), Arc::clone(&sent));
    let body = Body::from_stream(Tracked::new(body, finish(&state, claim, sent, audit)));
    super::download::respond(&file, &name, plan, query.inline, Some(body))
}

/// The end of a link transfer: settle the claim with the bytes sent and audit the outcome.
fn finish(
    state: &AppState,
    claim: links::ClaimGuard,
    sent: Arc<AtomicU64>,
    audit: Audit,
) -> impl FnOnce(Ending) + Send + 'static {
    let state = state.clone();
    move |ending| {
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(async move {
                claim.finish(sent.load(Ordering::Relaxed)).await;
                let outcome = match ending {
                    Ending::Completed => Outcome::Success,
                    Ending::Aborted => Outcome::Failed,
                };
                audit.outcome(outcome).record_or_log(&state).await;
            });
        }
    }
}

/// Everything a read or edit link covers as one ZIP (one download).
#[utoipa::path(get, path = "/api/v1/link/zip", tag = "links", responses((status = 200, body = Vec<u8>), (status = 404, body = crate::openapi::ErrorBody)))]
pub async fn zip(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    link: LinkUser,
    method: Method,
) -> Result<Response, ApiError> {
    let (access, grant) = link_access(&state, &link, Action::Read).await?;
    let (entries, files) = super::zip::collect(&state, &access, access.default_folder()).await?;
    let length = crate::archive::zip_len(&entries);
    let audit =
        Audit::case(Actor::Grant(grant.id), "share.zip", access.case.id, ip).grant(grant.id);
    let name = "shared-files";
    if method == Method::HEAD {
        return Ok(super::zip::response(name, length, Body::empty()));
    }
    let claim = links::claim(&state, &link, Download::Archive, length).await?;
    let sent = Arc::new(AtomicU64::new(0));
    let stream = super::zip::stream(&state, entries, files);
    let body = links::watched(stream, GrantWatch::new(&state, grant), Arc::clone(&sent));
    let body = Body::from_stream(Tracked::new(body, finish(&state, claim, sent, audit)));
    Ok(super::zip::response(name, length, body))
}

/// Uploads a file through an edit or drop link (201). The uploader given at the password
/// step is recorded with the file; a drop link's files are visible to the case owner alone.
#[utoipa::path(post, path = "/api/v1/link/files", tag = "links", params(("x-file-name" = String, Header, description = "The file name, percent-encoded UTF-8"), UploadQuery), request_body(content = Vec<u8>, content_type = "application/octet-stream"), responses((status = 201, body = FileView), (status = 403, body = crate::openapi::ErrorBody), (status = 404, body = crate::openapi::ErrorBody), (status = 413, body = crate::openapi::ErrorBody)))]
pub async fn upload(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    link: LinkUser,
    Query(query): Query<UploadQuery>,
    headers: HeaderMap,
    body: Body,
) -> Result<(StatusCode, Json<FileView>), ApiError> {
    let (access, grant) = link_access(&state, &link, Action::Upload).await?;
    let uploader = link.uploader.clone();
    let created = super::files::receive(
        &state,
        &access,
        Actor::Grant(grant.id),
        ip,
        &query,
        &headers,
        uploader,
        body,
    )
    .await?;
    if let Ok(id) = created.1.0.id.parse() {
        let name = created.1.0.name.clone();
        state.links.sessions.record_upload(link.session, id, name);
    }
    Ok(created)
}

/// One file in a drop receipt.
#[derive(Debug, Serialize, ToSchema)]
pub struct ReceiptItem {
    /// The name it was stored under.
    pub name: String,
    /// Its size in bytes.
    pub size: u64,
    /// Its SHA-256, in hex.
    pub sha256: String,
    /// When it was stored.
    pub created_at: i64,
}

/// What a session uploaded.
#[derive(Debug, Serialize, ToSchema)]
pub struct Receipt {
    /// The files, in upload order.
    pub files: Vec<ReceiptItem>,
}

/// The receipt of what this session uploaded; the owner is told once per session.
#[utoipa::path(post, path = "/api/v1/link/receipt", tag = "links", responses((status = 200, body = Receipt), (status = 404, body = crate::openapi::ErrorBody)))]
pub async fn receipt(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    link: LinkUser,
) -> Result<Json<Receipt>, ApiError> {
    let (access, grant) = link_access(&state, &link, Action::Upload).await?;
    let session = state.links.sessions.update(link.session, |s| {
        let first = !s.notified && !s.uploaded.is_empty();
        s.notified |= first;
        (s.clone(), first)
    });
    let Some((session, tell_owner)) = session else {
        return Err(ApiError::LinkUnavailable);
    };
    if tell_owner {
        links::tell_owner_of_drops(&state, &session).await;
    }
    let uploaded = session.uploaded;
    let mut files = Vec::with_capacity(uploaded.len());
    for (id, name) in uploaded {
        let Some(file) = state.storage.meta().file(id).await? else {
            continue;
        };
        let view = FileView::of(&state, &access.key, &file)?;
        files.push(ReceiptItem {
            name,
            size: view.size,
            sha256: view.sha256,
            created_at: view.created_at,
        });
    }
    if let Some(email) = session.uploader.as_ref().map(|u| u.email.as_str())
        && !email.is_empty()
        && !files.is_empty()
    {
        // Names stay on the receipt page: mail leaves in plaintext.
        let lines: Vec<String> = files
            .iter()
            .enumerate()
            .map(|(i, f)| format!("- file {}: {} bytes, SHA-256 {}", i + 1, f.size, f.sha256))
            .collect();
        links::notify::receipt(&state, grant.owner, grant.id, email, &lines).await;
    }
    Audit::case(Actor::Grant(grant.id), "share.receipt", access.case.id, ip)
        .grant(grant.id)
        .record(&state)
        .await?;
    Ok(Json(Receipt { files }))
}

/// Ends the session (204).
#[utoipa::path(post, path = "/api/v1/link/logout", tag = "links", responses((status = 204, description = "Ended")))]
pub async fn logout(State(state): State<AppState>, link: LinkUser) -> Response {
    let ended: Vec<_> = state.links.sessions.end(link.session).into_iter().collect();
    links::settle(&state, ended).await;
    (
        StatusCode::NO_CONTENT,
        [(SET_COOKIE, HeaderValue::from_static(links::CLEAR_COOKIE))],
    )
        .into_response()
}
