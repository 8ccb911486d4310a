//! Files of a case: `GET /api/v1/cases/{case}/tree`, `POST /api/v1/cases/{case}/files`
//! (a streamed upload), `GET/PATCH/DELETE /api/v1/cases/{case}/files/{file}`.
//!
//! An upload sends the raw bytes as the body (any content type), the file name in the
//! `X-File-Name` header (percent-encoded UTF-8, so that names never appear in URLs or proxy
//! logs), and optionally `?folder=<id>` and `?on_conflict=replace`.

use std::net::IpAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use casevault_crypto::CaseKey;
use casevault_storage::meta::NameEntry;
use casevault_storage::names::{name_tag, validate_name};
use casevault_storage::{
    Actor, FileRecord, FolderId, FolderRecord, NewFile, OnConflict, Outcome, StorageError, Uploader,
};
use futures::TryStreamExt;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::cases::ActorView;
use super::{double_option, parse_id, parse_optional_id};
use crate::access::{self, Action, CaseAccess};
use crate::audit::Audit;
use crate::auth::{AuthUser, ClientIp};
use crate::error::ApiError;
use crate::extract::{Json, Path, Query, from_body_error};
use crate::state::AppState;
use crate::transfer::decode_header_name;

/// The request header that carries an uploaded file's name.
pub const FILE_NAME_HEADER: &str = "x-file-name";
/// The optional request header with the folders to put the file in, relative to the
/// destination (`scans/upper`, percent-encoded UTF-8): a folder upload keeps its structure.
pub const FOLDER_PATH_HEADER: &str = "x-folder-path";

/// A file as the API shows it.
#[derive(Debug, Serialize, ToSchema)]
pub struct FileView {
    /// The file's id.
    pub id: String,
    /// Its folder; `null` at the case root.
    pub folder: Option<String>,
    /// Its name.
    pub name: String,
    /// Size in bytes.
    pub size: u64,
    /// `photo`, `scan`, `video`, `dicom`, `pdf` or `other`, from its contents.
    pub kind: &'static str,
    /// SHA-256 of the contents, in hex.
    pub sha256: String,
    /// When it was stored, milliseconds since the Unix epoch.
    pub created_at: i64,
    /// Who uploaded it.
    pub uploaded_by: ActorView,
}

impl FileView {
    /// Opens a file's sealed fields.
    pub fn of(state: &AppState, key: &CaseKey, file: &FileRecord) -> Result<Self, ApiError> {
        Ok(Self {
            id: file.id.to_string(),
            folder: file.folder.map(|id| id.to_string()),
            name: state.storage.file_name(key, file)?,
            size: file.size,
            kind: file.kind.as_str(),
            sha256: hex(&state.storage.file_sha256(key, file)?),
            created_at: file.created_at.0,
            uploaded_by: file.uploaded_by.into(),
        })
    }
}

/// A folder as the API shows it.
#[derive(Debug, Serialize, ToSchema)]
pub struct FolderView {
    /// The folder's id.
    pub id: String,
    /// Its parent; `null` at the case root.
    pub parent: Option<String>,
    /// Its name.
    pub name: String,
    /// Creation time, milliseconds since the Unix epoch.
    pub created_at: i64,
}

impl FolderView {
    /// Opens a folder's sealed name.
    pub fn of(state: &AppState, key: &CaseKey, folder: &FolderRecord) -> Result<Self, ApiError> {
        Ok(Self {
            id: folder.id.to_string(),
            parent: folder.parent.map(|id| id.to_string()),
            name: state.storage.folder_name(key, folder)?,
            created_at: folder.created_at.0,
        })
    }
}

/// Everything in a case.
#[derive(Debug, Serialize, ToSchema)]
pub struct Tree {
    /// Every folder, each naming its parent.
    pub folders: Vec<FolderView>,
    /// Every file the caller may see, each naming its folder.
    pub files: Vec<FileView>,
}

/// The folders and files of a case.
#[utoipa::path(get, path = "/api/v1/cases/{case}/tree", tag = "files", params(("case" = String, Path, description = "The case's id")), responses((status = 200, body = Tree), (status = 404, body = crate::openapi::ErrorBody)))]
pub async fn tree(
    State(state): State<AppState>,
    user: AuthUser,
    Path(case): Path<String>,
) -> Result<Json<Tree>, ApiError> {
    let access = access::authorize(&state, (&user).into(), Action::Read, parse_id(&case)?).await?;
    Ok(Json(tree_of(&state, &access).await?))
}

/// What an access may see of its case, names opened.
pub async fn tree_of(state: &AppState, access: &CaseAccess) -> Result<Tree, ApiError> {
    let (folders, files) = access.visible(state).await?;
    let folders = folders
        .iter()
        .map(|folder| FolderView::of(state, &access.key, folder))
        .collect::<Result<_, _>>()?;
    let files = files
        .iter()
        .map(|file| FileView::of(state, &access.key, file))
        .collect::<Result<_, _>>()?;
    Ok(Tree { folders, files })
}

/// Where an upload goes.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct UploadQuery {
    /// The folder; the case root when absent.
    pub folder: Option<String>,
    /// `fail` (default: 409 when the name is taken) or `replace` (a new version).
    pub on_conflict: Option<String>,
}

/// Stores a streamed upload (201).
#[utoipa::path(post, path = "/api/v1/cases/{case}/files", tag = "files", params(("case" = String, Path, description = "The case's id"), ("x-file-name" = String, Header, description = "The file name, percent-encoded UTF-8"), UploadQuery), request_body(content = Vec<u8>, content_type = "application/octet-stream", description = "The file's bytes"), responses((status = 201, body = FileView), (status = 400, body = crate::openapi::ErrorBody), (status = 404, body = crate::openapi::ErrorBody), (status = 409, body = crate::openapi::ErrorBody), (status = 413, body = crate::openapi::ErrorBody)))]
pub async fn upload(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    user: AuthUser,
    Path(case): Path<String>,
    Query(query): Query<UploadQuery>,
    headers: HeaderMap,
    body: Body,
) -> Result<(StatusCode, Json<FileView>), ApiError> {
    let access =
        access::authorize(&state, (&user).into(), Action::Upload, parse_id(&case)?).await?;
    receive(
        &state,
        &access,
        Actor::User(user.id),
        ip,
        &query,
        &headers,
        None,
        body,
    )
    .await
}

/// Stores an upload into the case of `access`, for its owner, a colleague or a link holder:
/// the name from the `X-File-Name` header, the folder from the query (the scope's folder by
/// default). Through a drop-only grant the file is visible to the case owner alone and a
/// name already taken is replaced by a free one (`scan (2).stl`), so that a dropper learns
/// nothing of what the folder holds.
#[allow(clippy::too_many_arguments)]
pub async fn receive(
    state: &AppState,
    access: &CaseAccess,
    actor: Actor,
    ip: Option<IpAddr>,
    query: &UploadQuery,
    headers: &HeaderMap,
    uploader: Option<Uploader>,
    body: Body,
) -> Result<(StatusCode, Json<FileView>), ApiError> {
    let name = headers
        .get(FILE_NAME_HEADER)
        .ok_or_else(|| {
            ApiError::BadRequest(format!(
                "The file name is missing: send it in the {FILE_NAME_HEADER} header."
            ))
        })
        .and_then(|value| decode_header_name(value.as_bytes()))?;
    let folder: Option<FolderId> = parse_optional_id("folder", query.folder.as_deref())?;
    let folder = folder.or(access.default_folder());
    if !access.folder_in_scope(state, folder).await? {
        return Err(ApiError::NotFound);
    }
    let folder = match headers.get(FOLDER_PATH_HEADER) {
        None => folder,
        Some(path) => {
            let path = decode_header_name(path.as_bytes())?;
            folder_for_path(state, access, actor, ip, folder, &path).await?
        }
    };
    let on_conflict = match query.on_conflict.as_deref() {
        None | Some("fail") => OnConflict::Fail,
        Some("replace") if !access.is_drop() => OnConflict::Replace,
        Some(_) => {
            return Err(ApiError::BadRequest(
                "on_conflict must be \"fail\" or \"replace\".".into(),
            ));
        }
    };
    // A dropper sees their file under the name they gave, never the free one it got.
    let given_name = name.clone();
    let name = if access.is_drop() {
        free_name(state, access, folder, &name).await?
    } else {
        name
    };
    let grant = access.relation.grant();
    let new = NewFile {
        case: access.case.id,
        folder,
        name,
        uploaded_by: actor,
        expected_size: content_length(headers)?,
        on_conflict,
        owner_only: access.is_drop(),
        grant,
        uploader,
    };
    let audit = through(
        access,
        Audit::case(actor, "file.upload", access.case.id, ip),
    );
    match store(state, new, body).await {
        Ok(file) => {
            audit.file(file.id).record(state).await?;
            let mut view = FileView::of(state, &access.key, &file)?;
            if access.is_drop() {
                view.name = given_name;
                view.folder = None;
            }
            Ok((StatusCode::CREATED, Json(view)))
        }
        Err(err) => {
            let outcome = match err {
                ApiError::QuotaExceeded | ApiError::Conflict(_) => Outcome::Denied,
                _ => Outcome::Failed,
            };
            audit.outcome(outcome).record(state).await?;
            Err(err)
        }
    }
}

/// An audit event naming the grant the access goes through, if any.
fn through(access: &CaseAccess, audit: Audit) -> Audit {
    match access.relation.grant() {
        Some(grant) => audit.grant(grant),
        None => audit,
    }
}

/// The folder a file of a folder upload goes to: the relative `path` (`a/b`) under
/// `parent`, its folders found or created (and audited) as [`make_folders`] does.
pub(crate) async fn folder_for_path(
    state: &AppState,
    access: &CaseAccess,
    actor: Actor,
    ip: Option<IpAddr>,
    parent: Option<FolderId>,
    path: &str,
) -> Result<Option<FolderId>, ApiError> {
    let made = through(
        access,
        Audit::case(actor, "folder.create", access.case.id, ip),
    );
    make_folders(state, access, &made, parent, path).await
}

/// Most folder levels an upload's `X-Folder-Path` may create.
const MAX_FOLDER_DEPTH: usize = 32;

/// Finds or creates the folders of a relative `path` (`a/b/c`) under `parent`, as a folder
/// upload needs them; returns the deepest. An existing folder is reused; where a file has
/// the name, a drop-only share makes a free variant (it must learn nothing) and anyone else
/// gets 409.
async fn make_folders(
    state: &AppState,
    access: &CaseAccess,
    made: &Audit,
    parent: Option<FolderId>,
    path: &str,
) -> Result<Option<FolderId>, ApiError> {
    let segments: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    if segments.len() > MAX_FOLDER_DEPTH {
        return Err(ApiError::BadRequest(format!(
            "A folder path may have at most {MAX_FOLDER_DEPTH} levels."
        )));
    }
    // Every name is checked before any folder is made, so a bad path leaves nothing behind.
    for segment in &segments {
        validate_name(segment)?;
    }
    let meta = state.storage.meta();
    let mut current = parent;
    for segment in segments {
        let existing = meta
            .lookup_name(access.case.id, current, name_tag(&access.key, segment))
            .await?;
        current = Some(match existing {
            Some(NameEntry::Folder(id)) => id,
            Some(NameEntry::File(_)) if !access.is_drop() => {
                return Err(ApiError::Conflict(
                    "A file has the name of a folder in the path.".into(),
                ));
            }
            Some(NameEntry::File(_)) => {
                folder_variant(state, access, made, current, segment).await?
            }
            None => create_or_find(state, access, made, current, segment).await?,
        });
    }
    Ok(current)
}

/// For a drop where a file has the folder's name: the first of `name (2)`, `name (3)`…
/// that is a folder (reused) or free (created).
async fn folder_variant(
    state: &AppState,
    access: &CaseAccess,
    made: &Audit,
    parent: Option<FolderId>,
    name: &str,
) -> Result<FolderId, ApiError> {
    for n in 2..=1000u32 {
        let candidate = format!("{name} ({n})");
        validate_name(&candidate)?;
        let tag = name_tag(&access.key, &candidate);
        match state
            .storage
            .meta()
            .lookup_name(access.case.id, parent, tag)
            .await?
        {
            Some(NameEntry::Folder(id)) => return Ok(id),
            Some(NameEntry::File(_)) => continue,
            None => return create_or_find(state, access, made, parent, &candidate).await,
        }
    }
    Err(ApiError::Conflict(
        "No free folder name was found; rename the folder and try again.".into(),
    ))
}

/// Creates the folder `name` in `parent`, or finds it when a parallel upload made it first.
async fn create_or_find(
    state: &AppState,
    access: &CaseAccess,
    made: &Audit,
    parent: Option<FolderId>,
    name: &str,
) -> Result<FolderId, ApiError> {
    match state
        .storage
        .create_folder(access.case.id, parent, name)
        .await
    {
        Ok(folder) => {
            made.clone().record(state).await?;
            Ok(folder.id)
        }
        Err(StorageError::NameConflict) => {
            let tag = name_tag(&access.key, name);
            match state
                .storage
                .meta()
                .lookup_name(access.case.id, parent, tag)
                .await?
            {
                Some(NameEntry::Folder(id)) => Ok(id),
                _ => Err(ApiError::Conflict(
                    "The folder path changed meanwhile; retry.".into(),
                )),
            }
        }
        Err(err) => Err(err.into()),
    }
}

/// `name`, or the first of `stem (2).ext`, `stem (3).ext`… not taken in `folder`.
pub(crate) async fn free_name(
    state: &AppState,
    access: &CaseAccess,
    folder: Option<FolderId>,
    name: &str,
) -> Result<String, ApiError> {
    validate_name(name)?;
    let (stem, extension) = match name.rsplit_once('.') {
        Some((stem, ext)) if !stem.is_empty() => (stem, format!(".{ext}")),
        _ => (name, String::new()),
    };
    for n in 1..=1000u32 {
        let candidate = if n == 1 {
            name.to_owned()
        } else {
            format!("{stem} ({n}){extension}")
        };
        if validate_name(&candidate).is_err() {
            break;
        }
        let tag = name_tag(&access.key, &candidate);
        let taken = state
            .storage
            .meta()
            .lookup_name(access.case.id, folder, tag)
            .await?;
        if taken.is_none() {
            return Ok(candidate);
        }
    }
    Err(ApiError::Conflict(
        "No free name was found for this file; rename it and try again.".into(),
    ))
}

/// Streams a request body into storage, telling a body that arrived too slowly (408) from
/// one that broke off (400).
pub async fn store(state: &AppState, new: NewFile, body: Body) -> Result<FileRecord, ApiError> {
    let too_slow = Arc::new(AtomicBool::new(false));
    let flag = Arc::clone(&too_slow);
    let stream = body.into_data_stream().inspect_err(move |err| {
        if from_body_error(err).is_some() {
            flag.store(true, Ordering::Relaxed);
        }
    });
    match state.storage.upload(new, stream).await {
        Ok(file) => Ok(file),
        Err(StorageError::Aborted(_)) if too_slow.load(Ordering::Relaxed) => {
            Err(ApiError::RequestTimeout)
        }
        Err(err) => Err(err.into()),
    }
}

/// The announced body length, if any.
fn content_length(headers: &HeaderMap) -> Result<Option<u64>, ApiError> {
    headers
        .get(header::CONTENT_LENGTH)
        .map(|value| {
            value
                .to_str()
                .ok()
                .and_then(|text| text.parse().ok())
                .ok_or_else(|| ApiError::BadRequest("Content-Length is not a number.".into()))
        })
        .transpose()
}

/// One file's details.
#[utoipa::path(get, path = "/api/v1/cases/{case}/files/{file}", tag = "files", params(("case" = String, Path, description = "The case's id"), ("file" = String, Path, description = "The file's id")), responses((status = 200, body = FileView), (status = 404, body = crate::openapi::ErrorBody)))]
pub async fn get(
    State(state): State<AppState>,
    user: AuthUser,
    Path((case, file)): Path<(String, String)>,
) -> Result<Json<FileView>, ApiError> {
    let access = access::authorize(&state, (&user).into(), Action::Read, parse_id(&case)?).await?;
    let file = access.file(&state, parse_id(&file)?).await?;
    Ok(Json(FileView::of(&state, &access.key, &file)?))
}

/// A rename or move; absent fields stay as they are.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FileChange {
    /// The new name.
    pub name: Option<String>,
    /// The destination folder; `null` for the case root.
    #[serde(default, deserialize_with = "double_option")]
    pub folder: Option<Option<String>>,
}

/// Renames and/or moves a file within its case.
#[utoipa::path(patch, path = "/api/v1/cases/{case}/files/{file}", tag = "files", params(("case" = String, Path, description = "The case's id"), ("file" = String, Path, description = "The file's id")), request_body = FileChange, responses((status = 200, body = FileView), (status = 400, body = crate::openapi::ErrorBody), (status = 404, body = crate::openapi::ErrorBody), (status = 409, body = crate::openapi::ErrorBody)))]
pub async fn update(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    user: AuthUser,
    Path((case, file)): Path<(String, String)>,
    Json(change): Json<FileChange>,
) -> Result<Json<FileView>, ApiError> {
    let access =
        access::authorize(&state, (&user).into(), Action::WriteFiles, parse_id(&case)?).await?;
    let file = access.file(&state, parse_id(&file)?).await?;
    let name = match change.name {
        Some(name) => name,
        None => state.storage.file_name(&access.key, &file)?,
    };
    let folder = match change.folder {
        None => file.folder,
        Some(folder) => parse_optional_id("folder", folder.as_deref())?,
    };
    if !access.folder_in_scope(&state, folder).await? {
        return Err(ApiError::NotFound);
    }
    let moved = state.storage.move_file(file.id, folder, &name).await?;
    Audit::case(Actor::User(user.id), "file.rename", access.case.id, ip)
        .file(file.id)
        .record(&state)
        .await?;
    Ok(Json(FileView::of(&state, &access.key, &moved)?))
}

/// Deletes a file and releases its quota (204).
#[utoipa::path(delete, path = "/api/v1/cases/{case}/files/{file}", tag = "files", params(("case" = String, Path, description = "The case's id"), ("file" = String, Path, description = "The file's id")), responses((status = 204, description = "Deleted; quota released"), (status = 404, body = crate::openapi::ErrorBody)))]
pub async fn delete(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    user: AuthUser,
    Path((case, file)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    let access =
        access::authorize(&state, (&user).into(), Action::WriteFiles, parse_id(&case)?).await?;
    let file = access.file(&state, parse_id(&file)?).await?;
    state.storage.delete_file(file.id).await?;
    Audit::case(Actor::User(user.id), "file.delete", access.case.id, ip)
        .file(file.id)
        .record(&state)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Lower-case hex.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
