//! Case folders: `GET/POST /api/v1/cases`, `GET/PATCH/DELETE /api/v1/cases/{case}`,
//! `GET /api/v1/cases/{case}/history`.

use axum::extract::State;
use axum::http::StatusCode;
use casevault_storage::{
    Actor, AuditEntry, CaseDetails, CaseRecord, CaseStatus, FileId, NewCase, OrgId, Outcome,
    QuotaAccount, Timestamp,
};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{double_option, parse_id};
use crate::access::{self, Action, CaseAccess, Principal};
use crate::audit::Audit;
use crate::auth::{AuthUser, ClientIp};
use crate::error::ApiError;
use crate::extract::{Json, Path};
use crate::state::AppState;

/// Longest patient reference and title, in characters.
const MAX_SHORT_CHARS: usize = 200;
/// Longest comments, in characters.
const MAX_COMMENTS_CHARS: usize = 10_000;
/// Most labels on one case.
const MAX_LABELS: usize = 32;

/// A case as the API shows it, its sealed fields opened.
#[derive(Debug, Serialize, ToSchema)]
pub struct CaseView {
    /// The case's id.
    pub id: String,
    /// Patient reference.
    pub patient_ref: String,
    /// Title.
    pub title: String,
    /// Free-text comments.
    pub comments: String,
    /// `active` or `archived`.
    pub status: &'static str,
    /// Label ids.
    pub labels: Vec<u32>,
    /// Whose quota the case uses: `{"kind":"user"|"org","id":…}`.
    pub owner: OwnerView,
    /// The practitioner who created it.
    pub created_by: String,
    /// Creation time, milliseconds since the Unix epoch.
    pub created_at: i64,
    /// Last change to the case's fields.
    pub updated_at: i64,
    /// Expiry date chosen by the owner, if any.
    pub expires_at: Option<i64>,
}

/// The account a case is charged to.
#[derive(Debug, Serialize, ToSchema)]
pub struct OwnerView {
    /// `user` (a personal case) or `org` (an organisation's group case).
    pub kind: &'static str,
    /// The user's or organisation's id.
    pub id: String,
}

impl CaseView {
    fn new(case: &CaseRecord, details: CaseDetails) -> Self {
        let owner = match case.account {
            QuotaAccount::User(id) => OwnerView {
                kind: "user",
                id: id.to_string(),
            },
            QuotaAccount::Org(id) => OwnerView {
                kind: "org",
                id: id.to_string(),
            },
        };
        Self {
            id: case.id.to_string(),
            patient_ref: details.patient_ref,
            title: details.title,
            comments: details.comments,
            status: status_name(case.status),
            labels: case.labels.clone(),
            owner,
            created_by: case.created_by.to_string(),
            created_at: case.created_at.0,
            updated_at: case.updated_at.0,
            expires_at: case.expires_at.map(|t| t.0),
        }
    }

    fn of(state: &AppState, case: &CaseRecord) -> Result<Self, ApiError> {
        Ok(Self::new(case, state.storage.case_details(case)?))
    }
}

fn status_name(status: CaseStatus) -> &'static str {
    match status {
        CaseStatus::Active => "active",
        CaseStatus::Archived => "archived",
    }
}

/// The list of cases.
#[derive(Debug, Serialize, ToSchema)]
pub struct CaseList {
    /// The cases the caller may see, newest first.
    pub cases: Vec<CaseView>,
}

/// The form to open a case.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewCaseForm {
    /// Patient reference (required).
    pub patient_ref: String,
    /// Title.
    #[serde(default)]
    pub title: String,
    /// Comments.
    #[serde(default)]
    pub comments: String,
    /// Label ids.
    #[serde(default)]
    pub labels: Vec<u32>,
    /// Expiry date, milliseconds since the Unix epoch.
    pub expires_at: Option<i64>,
    /// Open it as a group case of this organisation (the caller must be a member).
    pub org_id: Option<String>,
}

/// A change to a case; absent fields stay as they are.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CaseChange {
    /// New patient reference.
    pub patient_ref: Option<String>,
    /// New title.
    pub title: Option<String>,
    /// New comments.
    pub comments: Option<String>,
    /// New labels.
    pub labels: Option<Vec<u32>>,
    /// New expiry date; `null` removes it.
    #[serde(default, deserialize_with = "double_option")]
    pub expires_at: Option<Option<i64>>,
    /// `active` or `archived`.
    pub status: Option<String>,
}

/// Lists the cases the caller may see.
#[utoipa::path(get, path = "/api/v1/cases", tag = "cases", responses((status = 200, body = CaseList), (status = 401, body = crate::openapi::ErrorBody)))]
pub async fn list(
    State(state): State<AppState>,
    user: AuthUser,
) -> Result<Json<CaseList>, ApiError> {
    let mut cases = access::visible_cases(&state, user.id).await?;
    cases.sort_by_key(|case| std::cmp::Reverse(case.created_at));
    let cases = cases
        .iter()
        .map(|case| CaseView::of(&state, case))
        .collect::<Result<_, _>>()?;
    Ok(Json(CaseList { cases }))
}

/// Opens a case (201).
#[utoipa::path(post, path = "/api/v1/cases", tag = "cases", request_body = NewCaseForm, responses((status = 201, body = CaseView), (status = 400, body = crate::openapi::ErrorBody), (status = 401, body = crate::openapi::ErrorBody)))]
pub async fn create(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    user: AuthUser,
    Json(form): Json<NewCaseForm>,
) -> Result<(StatusCode, Json<CaseView>), ApiError> {
    let details = CaseDetails {
        patient_ref: check_text("patient_ref", &form.patient_ref, 1, MAX_SHORT_CHARS)?,
        title: check_text("title", &form.title, 0, MAX_SHORT_CHARS)?,
        comments: check_comments(&form.comments)?,
    };
    check_labels(&form.labels)?;
    let account = match form.org_id.as_deref() {
        None => QuotaAccount::User(user.id),
        Some(org) => {
            let org: OrgId = parse_id(org)?;
            if state
                .storage
                .meta()
                .membership(org, user.id)
                .await?
                .is_none()
            {
                return Err(ApiError::NotFound);
            }
            QuotaAccount::Org(org)
        }
    };
    let case = state
        .storage
        .create_case(NewCase {
            account,
            created_by: user.id,
            patient_ref: details.patient_ref.clone(),
            title: details.title.clone(),
            comments: details.comments.clone(),
            labels: form.labels,
            expires_at: form.expires_at.map(Timestamp),
        })
        .await?;
    Audit::case(Actor::User(user.id), "case.create", case.id, ip)
        .record(&state)
        .await?;
    Ok((StatusCode::CREATED, Json(CaseView::new(&case, details))))
}

/// One case.
#[utoipa::path(get, path = "/api/v1/cases/{case}", tag = "cases", params(("case" = String, Path, description = "The case's id")), responses((status = 200, body = CaseView), (status = 404, body = crate::openapi::ErrorBody)))]
pub async fn get(
    State(state): State<AppState>,
    user: AuthUser,
    Path(case): Path<String>,
) -> Result<Json<CaseView>, ApiError> {
    let access = access::authorize(&state, (&user).into(), Action::Read, parse_id(&case)?).await?;
    Ok(Json(CaseView::of(&state, &access.case)?))
}

/// Changes a case's fields, archives or reopens it.
#[utoipa::path(patch, path = "/api/v1/cases/{case}", tag = "cases", params(("case" = String, Path, description = "The case's id")), request_body = CaseChange, responses((status = 200, body = CaseView), (status = 400, body = crate::openapi::ErrorBody), (status = 404, body = crate::openapi::ErrorBody)))]
pub async fn update(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    user: AuthUser,
    Path(case): Path<String>,
    Json(change): Json<CaseChange>,
) -> Result<Json<CaseView>, ApiError> {
    let CaseAccess { case, .. } =
        access::authorize(&state, (&user).into(), Action::Edit, parse_id(&case)?).await?;
    let status = match change.status.as_deref() {
        None => case.status,
        Some("active") => CaseStatus::Active,
        Some("archived") => CaseStatus::Archived,
        Some(_) => {
            return Err(ApiError::BadRequest(
                "The status must be \"active\" or \"archived\".".into(),
            ));
        }
    };
    let patient_ref = change
        .patient_ref
        .as_deref()
        .map(|v| check_text("patient_ref", v, 1, MAX_SHORT_CHARS))
        .transpose()?;
    let title = change
        .title
        .as_deref()
        .map(|v| check_text("title", v, 0, MAX_SHORT_CHARS))
        .transpose()?;
    let comments = change.comments.as_deref().map(check_comments).transpose()?;
    if let Some(labels) = &change.labels {
        check_labels(labels)?;
    }
    let (record, details) = state
        .storage
        .change_case(case.id, |record, details| {
            record.status = status;
            if let Some(labels) = change.labels {
                record.labels = labels;
            }
            if let Some(expires_at) = change.expires_at {
                record.expires_at = expires_at.map(Timestamp);
            }
            if let Some(value) = patient_ref {
                details.patient_ref = value;
            }
            if let Some(value) = title {
                details.title = value;
            }
            if let Some(value) = comments {
                details.comments = value;
            }
            Ok(())
        })
        .await?;
    let action = match (case.status, status) {
        (CaseStatus::Active, CaseStatus::Archived) => "case.archive",
        (CaseStatus::Archived, CaseStatus::Active) => "case.reopen",
        _ => "case.update",
    };
    Audit::case(Actor::User(user.id), action, case.id, ip)
        .record(&state)
        .await?;
    Ok(Json(CaseView::new(&record, details)))
}

/// Deletes a case and destroys its key (204).
#[utoipa::path(delete, path = "/api/v1/cases/{case}", tag = "cases", params(("case" = String, Path, description = "The case's id")), responses((status = 204, description = "Deleted; its key is destroyed"), (status = 403, body = crate::openapi::ErrorBody), (status = 404, body = crate::openapi::ErrorBody)))]
pub async fn delete(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    user: AuthUser,
    Path(case): Path<String>,
) -> Result<StatusCode, ApiError> {
    let access =
        access::authorize(&state, (&user).into(), Action::Delete, parse_id(&case)?).await?;
    state.storage.delete_case(access.case.id).await?;
    Audit::case(Actor::User(user.id), "case.delete", access.case.id, ip)
        .record(&state)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// One entry of a case's history.
#[derive(Debug, Serialize, ToSchema)]
pub struct HistoryEntry {
    /// Position in the server's audit log.
    pub seq: u64,
    /// When it happened, milliseconds since the Unix epoch.
    pub at: i64,
    /// A stable dotted code such as `file.download`.
    pub action: String,
    /// Who acted: `{"kind":"user","id":…}`, `{"kind":"grant","id":…}` or `{"kind":"system"}`.
    pub actor: ActorView,
    /// The file concerned.
    pub file: Option<String>,
    /// The share grant concerned or used.
    pub grant: Option<String>,
    /// The client's address.
    pub ip: Option<String>,
    /// `success`, `denied` or `failed`.
    pub outcome: &'static str,
    /// Who, for people: a user's name, or the recipient of the share used.
    pub actor_name: Option<String>,
    /// The file's current name, while it exists.
    pub file_name: Option<String>,
}

/// Who caused an event.
#[derive(Debug, Serialize, ToSchema)]
pub struct ActorView {
    /// `user`, `grant` or `system`.
    pub kind: &'static str,
    /// The user's or grant's id.
    pub id: Option<String>,
}

impl From<Actor> for ActorView {
    fn from(actor: Actor) -> Self {
        match actor {
            Actor::User(id) => ActorView {
                kind: "user",
                id: Some(id.to_string()),
            },
            Actor::Grant(id) => ActorView {
                kind: "grant",
                id: Some(id.to_string()),
            },
            Actor::System => ActorView {
                kind: "system",
                id: None,
            },
        }
    }
}

impl From<AuditEntry> for HistoryEntry {
    fn from(entry: AuditEntry) -> Self {
        let event = entry.event;
        Self {
            seq: entry.seq,
            at: entry.at.0,
            action: event.action,
            actor: event.actor.into(),
            file: event.file.map(|id| id.to_string()),
            grant: event.grant.map(|id| id.to_string()),
            ip: event.ip.map(|ip| ip.to_string()),
            outcome: match event.outcome {
                Outcome::Success => "success",
                Outcome::Denied => "denied",
                Outcome::Failed => "failed",
            },
            actor_name: None,
            file_name: None,
        }
    }
}

/// A case's history.
#[derive(Debug, Serialize, ToSchema)]
pub struct History {
    /// Oldest first.
    pub entries: Vec<HistoryEntry>,
}

/// The audit history of a case (its owner only).
#[utoipa::path(get, path = "/api/v1/cases/{case}/history", tag = "cases", params(("case" = String, Path, description = "The case's id")), responses((status = 200, body = History), (status = 403, body = crate::openapi::ErrorBody), (status = 404, body = crate::openapi::ErrorBody)))]
pub async fn history(
    State(state): State<AppState>,
    user: AuthUser,
    Path(case): Path<String>,
) -> Result<Json<History>, ApiError> {
    let principal = Principal::from(&user);
    let access =
        access::authorize(&state, principal, Action::ReadHistory, parse_id(&case)?).await?;
    let audit = state.storage.meta().case_history(access.case.id).await?;
    let mut names = Names::default();
    let mut entries = Vec::with_capacity(audit.len());
    for entry in audit {
        let actor = entry.event.actor;
        let file = entry.event.file;
        let mut view = HistoryEntry::from(entry);
        view.actor_name = names.actor(&state, &access, actor).await?;
        if let Some(file) = file {
            view.file_name = names.file(&state, &access, file).await?;
        }
        entries.push(view);
    }
    Ok(Json(History { entries }))
}

/// Checks a single-line text field: its length in characters and no control characters.
fn check_text(field: &str, value: &str, min: usize, max: usize) -> Result<String, ApiError> {
    let value = value.trim();
    let chars = value.chars().count();
    if chars < min || chars > max || value.chars().any(char::is_control) {
        return Err(ApiError::BadRequest(format!(
            "The {field} must have {min} to {max} characters and no control characters."
        )));
    }
    Ok(value.to_owned())
}

/// Checks comments: line breaks and tabs allowed, other control characters not.
fn check_comments(value: &str) -> Result<String, ApiError> {
    let bad = value
        .chars()
        .any(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t'));
    if value.chars().count() > MAX_COMMENTS_CHARS || bad {
        return Err(ApiError::BadRequest(format!(
            "The comments must have at most {MAX_COMMENTS_CHARS} characters and no control characters."
        )));
    }
    Ok(value.to_owned())
}

fn check_labels(labels: &[u32]) -> Result<(), ApiError> {
    if labels.len() > MAX_LABELS {
        return Err(ApiError::BadRequest(format!(
            "A case can have at most {MAX_LABELS} labels."
        )));
    }
    Ok(())
}

/// Names for a case's history, each looked up once.
#[derive(Default)]
struct Names {
    actors: std::collections::HashMap<Actor, Option<String>>,
    files: std::collections::HashMap<FileId, Option<String>>,
}

impl Names {
    /// A user's name, or for a share the colleague's name or the link's recipient e-mail.
    async fn actor(
        &mut self,
        state: &AppState,
        access: &CaseAccess,
        actor: Actor,
    ) -> Result<Option<String>, ApiError> {
        if let Some(name) = self.actors.get(&actor) {
            return Ok(name.clone());
        }
        let meta = state.storage.meta();
        let name = match actor {
            Actor::User(id) => meta.user(id).await?.map(|u| u.display_name),
            Actor::Grant(id) => match meta.grant(id).await? {
                Some(grant) => match grant.grantee() {
                    Some(colleague) => meta.user(colleague).await?.map(|u| u.display_name),
                    None => state
                        .storage
                        .grant_recipient(&access.key, &grant)?
                        .and_then(|r| r.email),
                },
                None => None,
            },
            Actor::System => None,
        };
        self.actors.insert(actor, name.clone());
        Ok(name)
    }

    /// A file's name while it exists.
    async fn file(
        &mut self,
        state: &AppState,
        access: &CaseAccess,
        id: FileId,
    ) -> Result<Option<String>, ApiError> {
        if let Some(name) = self.files.get(&id) {
            return Ok(name.clone());
        }
        let name = match state.storage.meta().file(id).await? {
            Some(file) if file.case == access.case.id => {
                Some(state.storage.file_name(&access.key, &file)?)
            }
            _ => None,
        };
        self.files.insert(id, name.clone());
        Ok(name)
    }
}
