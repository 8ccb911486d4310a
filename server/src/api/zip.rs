//! Whole folders as one ZIP: `GET /api/v1/cases/{case}/zip` (the case) and
//! `GET /api/v1/cases/{case}/folders/{folder}/zip` (a folder and everything under it),
//! streamed with an exact `Content-Length`, each file decrypted as its turn comes.

use std::collections::HashMap;

use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::response::Response;
use bytes::Bytes;
use casevault_storage::{Actor, FileRecord, FolderId, FolderRecord};
use futures::{Stream, TryStreamExt};

use super::parse_id;
use crate::access::{self, Action, CaseAccess, Scope};
use crate::archive::{ZipEntry, make_paths_unique, zip_len, zip_stream};
use crate::audit::Audit;
use crate::auth::{AuthUser, ClientIp};
use crate::error::{ApiError, BoxError};
use crate::extract::Path;
use crate::links;
use crate::state::AppState;
use crate::transfer::Tracked;
use crate::transfer::content_disposition;

/// The whole case (or, for a share, all it covers) as a ZIP.
#[utoipa::path(get, path = "/api/v1/cases/{case}/zip", tag = "files", params(("case" = String, Path, description = "The case's id")), responses((status = 200, description = "A ZIP of every file", content_type = "application/zip", body = Vec<u8>), (status = 404, body = crate::openapi::ErrorBody)))]
pub async fn case(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    user: AuthUser,
    Path(case): Path<String>,
    method: Method,
) -> Result<Response, ApiError> {
    let access = access::authorize(&state, (&user).into(), Action::Read, parse_id(&case)?).await?;
    let details = state.storage.case_details(&access.case)?;
    let audit = Audit::case(Actor::User(user.id), "case.zip", access.case.id, ip);
    let (entries, files) = collect(&state, &access, access.default_folder()).await?;
    respond(
        &state,
        &access,
        &method,
        &details.patient_ref,
        (entries, files),
        audit,
    )
    .await
}

/// A folder and everything under it as a ZIP.
#[utoipa::path(get, path = "/api/v1/cases/{case}/folders/{folder}/zip", tag = "files", params(("case" = String, Path, description = "The case's id"), ("folder" = String, Path, description = "The folder's id")), responses((status = 200, description = "A ZIP of the folder", content_type = "application/zip", body = Vec<u8>), (status = 404, body = crate::openapi::ErrorBody)))]
pub async fn folder(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    user: AuthUser,
    Path((case, folder)): Path<(String, String)>,
    method: Method,
) -> Result<Response, ApiError> {
    let access = access::authorize(&state, (&user).into(), Action::Read, parse_id(&case)?).await?;
    let folder = access.folder(&state, parse_id(&folder)?).await?;
    let name = state.storage.folder_name(&access.key, &folder)?;
    let audit = Audit::case(Actor::User(user.id), "folder.zip", access.case.id, ip);
    let (entries, files) = collect(&state, &access, Some(folder.id)).await?;
    respond(&state, &access, &method, &name, (entries, files), audit).await
}

/// The entries of the archive of `root` (the whole case when `None`): every visible file
/// under it, with its path relative to `root`, in a stable order.
pub async fn collect(
    state: &AppState,
    access: &CaseAccess,
    root: Option<FolderId>,
) -> Result<(Vec<ZipEntry>, Vec<FileRecord>), ApiError> {
    let (folders, files) = access.visible(state).await?;
    let folders: HashMap<FolderId, FolderRecord> = folders
        .into_iter()
        .map(|folder| (folder.id, folder))
        .collect();
    let mut names = HashMap::new();
    for folder in folders.values() {
        names.insert(folder.id, state.storage.folder_name(&access.key, folder)?);
    }
    let mut listed = Vec::new();
    for file in files {
        let dir = match access.scope {
            Scope::File(_) => Some(String::new()),
            Scope::Case | Scope::Folder(_) => relative_dir(&folders, &names, file.folder, root),
        };
        let Some(dir) = dir else {
            continue;
        };
        let name = state.storage.file_name(&access.key, &file)?;
        listed.push((format!("{dir}{name}"), file));
    }
    listed.sort_by(|a, b| a.0.cmp(&b.0));
    let mut entries: Vec<ZipEntry> = listed
        .iter()
        .map(|(path, file)| ZipEntry {
            path: path.clone(),
            size: file.size,
            modified: file.created_at.0,
        })
        .collect();
    make_paths_unique(&mut entries);
    Ok((entries, listed.into_iter().map(|(_, file)| file).collect()))
}

/// The path of `folder` below `root` with a trailing `/` (empty when they are the same);
/// `None` when `folder` is not under `root`.
fn relative_dir(
    folders: &HashMap<FolderId, FolderRecord>,
    names: &HashMap<FolderId, String>,
    folder: Option<FolderId>,
    root: Option<FolderId>,
) -> Option<String> {
    let mut segments = Vec::new();
    let mut current = folder;
    // Bounded by the number of folders, whatever the records say.
    for _ in 0..=folders.len() {
        if current == root {
            segments.reverse();
            return Some(segments.iter().map(|s| format!("{s}/")).collect());
        }
        let id = current?;
        segments.push(names.get(&id)?.as_str());
        current = folders.get(&id)?.parent;
    }
    None
}

async fn respond(
    state: &AppState,
    access: &CaseAccess,
    method: &Method,
    name: &str,
    (entries, files): (Vec<ZipEntry>, Vec<FileRecord>),
    audit: Audit,
) -> Result<Response, ApiError> {
    let length = zip_len(&entries);
    let body = if method == Method::HEAD {
        Body::empty()
    } else {
        let stream = stream(state, entries, files);
        let stream = links::watched_if_shared(state, access.relation.grant(), stream).await?;
        Body::from_stream(Tracked::new(stream, audit.when_sent(state)))
    };
    Ok(response(name, length, body))
}

/// The archive of `entries`, each read from its file in `files` (same order) when its
/// turn comes.
pub fn stream(
    state: &AppState,
    entries: Vec<ZipEntry>,
    files: Vec<FileRecord>,
) -> impl Stream<Item = Result<Bytes, BoxError>> + Send + Unpin + 'static {
    let storage = state.storage.clone();
    Box::pin(zip_stream(entries, move |index, _entry| {
        let storage = storage.clone();
        let file = files.get(index).cloned();
        async move {
            let file = file.ok_or("an archive entry without its file")?;
            let stream = storage.read_file(&file, None).await?;
            Ok::<_, BoxError>(stream.map_err(BoxError::from))
        }
    }))
}

/// A ZIP response named `name.zip`, of `length` bytes.
pub fn response(name: &str, length: u64, body: Body) -> Response {
    let mut response = Response::new(body);
    *response.status_mut() = StatusCode::OK;
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/zip"),
    );
    headers.insert(header::CONTENT_LENGTH, HeaderValue::from(length));
    let file_name = format!("{}.zip", name.replace(['/', '\\'], "_"));
    if let Ok(value) = HeaderValue::try_from(content_disposition(&file_name, false)) {
        headers.insert(header::CONTENT_DISPOSITION, value);
    }
    response
}
