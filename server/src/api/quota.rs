//! `GET /api/v1/quota`: the caller's storage quota and those of their organisations.

use axum::extract::State;
use casevault_storage::{QuotaAccount, QuotaRecord};
use serde::Serialize;
use utoipa::ToSchema;

use crate::auth::AuthUser;
use crate::error::ApiError;
use crate::extract::Json;
use crate::state::AppState;

/// One quota account's use.
#[derive(Debug, Serialize, ToSchema)]
pub struct QuotaView {
    /// Bytes of stored files.
    pub used: u64,
    /// Bytes held by uploads in progress.
    pub reserved: u64,
    /// The limit.
    pub limit: u64,
}

impl From<QuotaRecord> for QuotaView {
    fn from(record: QuotaRecord) -> Self {
        Self {
            used: record.used,
            reserved: record.reserved,
            limit: record.limit,
        }
    }
}

/// An organisation's quota.
#[derive(Debug, Serialize, ToSchema)]
pub struct OrgQuotaView {
    /// The organisation's id.
    pub id: String,
    /// Its name.
    pub name: String,
    /// Its use.
    #[serde(flatten)]
    pub quota: QuotaView,
}

/// The caller's quotas.
#[derive(Debug, Serialize, ToSchema)]
pub struct Quotas {
    /// The personal quota (personal cases and everything shared into them).
    pub user: QuotaView,
    /// The quotas of the caller's organisations (their group cases).
    pub orgs: Vec<OrgQuotaView>,
}

/// The caller's quotas.
#[utoipa::path(get, path = "/api/v1/quota", tag = "account", responses((status = 200, body = Quotas), (status = 401, body = crate::openapi::ErrorBody)))]
pub async fn get(State(state): State<AppState>, user: AuthUser) -> Result<Json<Quotas>, ApiError> {
    let meta = state.storage.meta();
    let own = meta.quota(QuotaAccount::User(user.id)).await?;
    let mut orgs = Vec::new();
    for (org, _) in meta.orgs_of(user.id).await? {
        let Some(record) = meta.org(org).await? else {
            continue;
        };
        orgs.push(OrgQuotaView {
            id: org.to_string(),
            name: record.name,
            quota: meta.quota(QuotaAccount::Org(org)).await?.into(),
        });
    }
    Ok(Json(Quotas {
        user: own.into(),
        orgs,
    }))
}
