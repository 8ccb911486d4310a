//! `GET /api/v1/colleagues`: the people the caller can share with by account, for the share
//! dialog's suggestions: members of the caller's organisations and everyone they have
//! shared with or received a share from.

use std::collections::BTreeSet;

use axum::extract::State;
use casevault_storage::UserId;
use serde::Serialize;
use utoipa::ToSchema;

use crate::auth::AuthUser;
use crate::error::ApiError;
use crate::extract::Json;
use crate::state::AppState;

/// A colleague.
#[derive(Debug, Serialize, ToSchema)]
pub struct Colleague {
    /// Their user id.
    pub id: String,
    /// Their login e-mail.
    pub email: String,
    /// Their name.
    pub display_name: String,
}

/// The suggestions, by name.
#[derive(Debug, Serialize, ToSchema)]
pub struct Colleagues {
    /// Enabled accounts other than the caller's.
    pub colleagues: Vec<Colleague>,
}

/// The caller's colleagues.
#[utoipa::path(get, path = "/api/v1/colleagues", tag = "shares", responses((status = 200, body = Colleagues), (status = 401, body = crate::openapi::ErrorBody)))]
pub async fn list(
    State(state): State<AppState>,
    user: AuthUser,
) -> Result<Json<Colleagues>, ApiError> {
    let meta = state.storage.meta();
    let mut ids: BTreeSet<UserId> = BTreeSet::new();
    for (org, _) in meta.orgs_of(user.id).await? {
        ids.extend(meta.members_of(org).await?.into_iter().map(|(id, _)| id));
    }
    ids.extend(
        meta.grants_of(user.id)
            .await?
            .iter()
            .filter_map(|g| g.grantee()),
    );
    ids.extend(meta.grants_for(user.id).await?.iter().map(|g| g.owner));
    ids.remove(&user.id);
    let mut colleagues = Vec::with_capacity(ids.len());
    for id in ids {
        if let Some(record) = meta.user(id).await?.filter(|u| !u.disabled) {
            colleagues.push(Colleague {
                id: record.id.to_string(),
                email: record.email,
                display_name: record.display_name,
            });
        }
    }
    colleagues.sort_by(|a, b| a.display_name.cmp(&b.display_name));
    Ok(Json(Colleagues { colleagues }))
}
