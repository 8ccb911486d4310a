//! Folders of a case: `POST /api/v1/cases/{case}/folders`,
//! `PATCH/DELETE /api/v1/cases/{case}/folders/{folder}`.

use axum::extract::State;
use axum::http::StatusCode;
use casevault_storage::{Actor, FolderId};
use serde::Deserialize;
use utoipa::ToSchema;

use super::files::FolderView;
use super::{parse_id, parse_optional_id};
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
        access::authorize(&state, (&user).into(), Action::WriteFiles, parse_id(&case)?).await?;
    let parent: Option<FolderId> = parse_optional_id("parent", form.parent.as_deref())?;
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
