//! Folders of a case: `POST /api/v1/cases/{case}/folders`,
//! `PATCH/DELETE /api/v1/cases/{case}/folders/{folder}` (a delete takes everything inside).

use axum::extract::State;
use axum::http::StatusCode;
use casevault_storage::{Actor, FolderId};
use serde::Deserialize;
use utoipa::ToSchema;

use super::files::FolderView;
use super::{double_option, parse_id, parse_optional_id};
use crate::access::{self, Action};
use crate::audit::Audit;
use crate::auth::{AuthUser, ClientIp};
use crate::error::ApiError;
use crate::extract::{Json, Path};
use crate::state::AppState;

/// The form to create a folder.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewFolder {
    /// Its name.
    pub name: String,
    /// The parent folder; the case root when absent.
    pub parent: Option<String>,
}

/// Creates a folder (201).
#[utoipa::path(post, path = "/api/v1/cases/{case}/folders", tag = "files", params(("case" = String, Path, description = "The case's id")), request_body = NewFolder, responses((status = 201, body = crate::api::files::FolderView), (status = 400, body = crate::openapi::ErrorBody), (status = 404, body = crate::openapi::ErrorBody), (status = 409, body = crate::openapi::ErrorBody)))]
pub async fn create(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    user: AuthUser,
    Path(case): Path<String>,
    Json(form): Json<NewFolder>,
) -> Result<(StatusCode, Json<FolderView>), ApiError> {
    let access =
        access::authorize(&state, (&user).into(), Action::Upload, parse_id(&case)?).await?;
    if access.is_drop() {
        // A name conflict would tell a dropper what the folder holds: drops make their
        // folders silently, through an upload's X-Folder-Path.
        return Err(ApiError::Forbidden);
    }
    let parent: Option<FolderId> = parse_optional_id("parent", form.parent.as_deref())?;
    let parent = parent.or(access.default_folder());
    if !access.folder_in_scope(&state, parent).await? {
        return Err(ApiError::NotFound);
    }
    let folder = state
        .storage
        .create_folder(access.case.id, parent, &form.name)
        .await?;
    Audit::case(Actor::User(user.id), "folder.create", access.case.id, ip)
        .record(&state)
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(FolderView::of(&state, &access.key, &folder)?),
    ))
}

/// A rename or move; absent fields stay as they are.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FolderChange {
    /// The new name.
    pub name: Option<String>,
    /// The new parent; `null` for the case root.
    #[serde(default, deserialize_with = "double_option")]
    pub parent: Option<Option<String>>,
}

/// Renames and/or moves a folder within its case (not into itself or a folder inside it).
#[utoipa::path(patch, path = "/api/v1/cases/{case}/folders/{folder}", tag = "files", params(("case" = String, Path, description = "The case's id"), ("folder" = String, Path, description = "The folder's id")), request_body = FolderChange, responses((status = 200, body = FolderView), (status = 400, body = crate::openapi::ErrorBody), (status = 404, body = crate::openapi::ErrorBody), (status = 409, body = crate::openapi::ErrorBody)))]
pub async fn update(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    user: AuthUser,
    Path((case, folder)): Path<(String, String)>,
    Json(change): Json<FolderChange>,
) -> Result<Json<FolderView>, ApiError> {
    let access =
        access::authorize(&state, (&user).into(), Action::WriteFiles, parse_id(&case)?).await?;
    let folder = access.folder(&state, parse_id(&folder)?).await?;
    let name = match change.name {
        Some(name) => name,
        None => state.storage.folder_name(&access.key, &folder)?,
    };
    let parent = match change.parent {
        None => folder.parent,
        Some(parent) => parse_optional_id("parent", parent.as_deref())?,
    };
    if access.default_folder() == Some(folder.id) {
        return Err(ApiError::Forbidden);
    }
    if !access.folder_in_scope(&state, parent).await? {
        return Err(ApiError::NotFound);
    }
    let moved = state.storage.move_folder(folder.id, parent, &name).await?;
    Audit::case(Actor::User(user.id), "folder.rename", access.case.id, ip)
        .record(&state)
        .await?;
    Ok(Json(FolderView::of(&state, &access.key, &moved)?))
}

/// Deletes a folder with everything inside it and releases their quota (204).
#[utoipa::path(delete, path = "/api/v1/cases/{case}/folders/{folder}", tag = "files", params(("case" = String, Path, description = "The case's id"), ("folder" = String, Path, description = "The folder's id")), responses((status = 204, description = "Deleted with its contents"), (status = 404, body = crate::openapi::ErrorBody)))]
pub async fn delete(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    user: AuthUser,
    Path((case, folder)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    let access =
        access::authorize(&state, (&user).into(), Action::WriteFiles, parse_id(&case)?).await?;
    let folder = access.folder(&state, parse_id(&folder)?).await?;
    if access.default_folder() == Some(folder.id) {
        return Err(ApiError::Forbidden);
    }
    state.storage.delete_folder(folder.id).await?;
    Audit::case(Actor::User(user.id), "folder.delete", access.case.id, ip)
        .record(&state)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
