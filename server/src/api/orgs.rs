//! Organisations, for their members and administrators: `GET /api/v1/orgs`,
//! `GET /api/v1/orgs/{org}`, members (`POST /api/v1/orgs/{org}/members`,
//! `PATCH/DELETE /api/v1/orgs/{org}/members/{user}`), invitations
//! (`DELETE /api/v1/orgs/{org}/invitations/{id}`) and accepting one
//! (`GET/POST /api/v1/invitations/{token}`).
//!
//! Any member sees the organisation, its quota and its members; only its administrators
//! change them. Someone without an account is invited by e-mail: the link (a 256-bit token,
//! stored as a hash) lets them choose their name and password, and they join on the spot.
//! Others than members get the same 404 as for an unknown organisation.

use std::time::Duration;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use casevault_crypto::Token;
use casevault_storage::{
    Actor, InvitationId, InvitationRecord, OrgId, OrgRecord, OrgRole, Outcome, QuotaAccount,
    StorageError, Timestamp, UserId, UserRecord,
};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::auth::SessionBody;
use super::parse_id;
use super::quota::QuotaView;
use crate::auth::{self, AuthUser, ClientIp, session};
use crate::error::ApiError;
use crate::extract::{Json, Path};
use crate::links::notify::MailOutcome;
use crate::mail::{MailError, Message};
use crate::state::AppState;

/// How long an invitation link works.
const INVITATION_LIFETIME: Duration = Duration::from_secs(7 * 24 * 60 * 60);

/// An organisation as one of its members sees it.
#[derive(Debug, Serialize, ToSchema)]
pub struct OrgView {
    /// Its id.
    pub id: String,
    /// Its name.
    pub name: String,
    /// The caller's role: `admin` or `member`.
    pub role: &'static str,
    /// The storage its group cases use.
    pub quota: QuotaView,
}

/// The caller's organisations.
#[derive(Debug, Serialize, ToSchema)]
pub struct OrgList {
    /// By name.
    pub orgs: Vec<OrgView>,
}

/// A member.
#[derive(Debug, Serialize, ToSchema)]
pub struct MemberView {
    /// Their user id.
    pub id: String,
    /// Their e-mail.
    pub email: String,
    /// Their name.
    pub display_name: String,
    /// `admin` or `member`.
    pub role: &'static str,
}

/// A pending invitation.
#[derive(Debug, Serialize, ToSchema)]
pub struct InvitationView {
    /// Its id.
    pub id: String,
    /// Who is invited.
    pub email: String,
    /// Their role once they join.
    pub role: &'static str,
    /// When the link stops working, milliseconds since the Unix epoch.
    pub expires_at: i64,
}

/// An organisation with its members (and, for administrators, pending invitations).
#[derive(Debug, Serialize, ToSchema)]
pub struct OrgDetail {
    /// The organisation.
    #[serde(flatten)]
    pub org: OrgView,
    /// Its members, by name.
    pub members: Vec<MemberView>,
    /// Pending invitations (empty for members who are not administrators).
    pub invitations: Vec<InvitationView>,
}

/// The form to add someone.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewMember {
    /// Their e-mail: an existing account joins at once, anyone else is invited.
    pub email: String,
    /// `admin` or `member` (default).
    #[serde(default)]
    pub role: Option<String>,
}

/// What adding someone did.
#[derive(Debug, Serialize, ToSchema)]
pub struct Added {
    /// The new member, when they had an account.
    pub member: Option<MemberView>,
    /// The invitation, when they had none.
    pub invitation: Option<InvitationView>,
    /// The invitation link, when it could not be mailed (mail off): pass it on yourself.
    pub link: Option<String>,
    /// Whether the invitation went out by e-mail.
    pub mail: Option<MailOutcome>,
}

/// A role change.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RoleChange {
    /// `admin` or `member`.
    pub role: String,
}

/// What an invitation link shows before it is accepted.
#[derive(Debug, Serialize, ToSchema)]
pub struct InvitationInfo {
    /// The organisation's name.
    pub org: String,
    /// Who is invited.
    pub email: String,
}

/// The form to accept an invitation.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Acceptance {
    /// The name colleagues will see.
    pub display_name: String,
    /// The new account's password.
    pub password: String,
}

fn role_name(role: OrgRole) -> &'static str {
    match role {
        OrgRole::Admin => "admin",
        OrgRole::Member => "member",
    }
}

fn parse_role(role: Option<&str>) -> Result<OrgRole, ApiError> {
    match role {
        None | Some("member") => Ok(OrgRole::Member),
        Some("admin") => Ok(OrgRole::Admin),
        Some(_) => Err(ApiError::BadRequest(
            "The role must be \"admin\" or \"member\".".into(),
        )),
    }
}

/// The organisation and the caller's role in it; 404 for non-members.
async fn membership(
    state: &AppState,
    user: &AuthUser,
    org: &str,
) -> Result<(OrgRecord, OrgRole), ApiError> {
    let org: OrgId = parse_id(org)?;
    let meta = state.storage.meta();
    let role = meta
        .membership(org, user.id)
        .await?
        .ok_or(ApiError::NotFound)?;
    let record = meta.org(org).await?.ok_or(ApiError::NotFound)?;
    Ok((record, role))
}

/// The organisation, for one of its administrators: 404 for non-members, 403 for members.
async fn administered(state: &AppState, user: &AuthUser, org: &str) -> Result<OrgRecord, ApiError> {
    match membership(state, user, org).await? {
        (record, OrgRole::Admin) => Ok(record),
        (_, OrgRole::Member) => Err(ApiError::Forbidden),
    }
}

async fn org_view(state: &AppState, org: &OrgRecord, role: OrgRole) -> Result<OrgView, ApiError> {
    let quota = state
        .storage
        .meta()
        .quota(QuotaAccount::Org(org.id))
        .await?;
    Ok(OrgView {
        id: org.id.to_string(),
        name: org.name.clone(),
        role: role_name(role),
        quota: quota.into(),
    })
}

async fn members(state: &AppState, org: OrgId) -> Result<Vec<MemberView>, ApiError> {
    let meta = state.storage.meta();
    let mut out = Vec::new();
    for (id, role) in meta.members_of(org).await? {
        if let Some(user) = meta.user(id).await? {
            out.push(MemberView {
                id: user.id.to_string(),
                email: user.email,
                display_name: user.display_name,
                role: role_name(role),
            });
        }
    }
    out.sort_by(|a, b| a.display_name.cmp(&b.display_name));
    Ok(out)
}

fn invitation_view(invitation: &InvitationRecord) -> InvitationView {
    InvitationView {
        id: invitation.id.to_string(),
        email: invitation.email.clone(),
        role: role_name(invitation.role),
        expires_at: invitation.expires_at.0,
    }
}

/// The organisations the caller belongs to.
#[utoipa::path(get, path = "/api/v1/orgs", tag = "orgs", responses((status = 200, body = OrgList), (status = 401, body = crate::openapi::ErrorBody)))]
pub async fn list(
    State(state): State<AppState>,
    user: AuthUser,
) -> Result<Json<OrgList>, ApiError> {
    let meta = state.storage.meta();
    let mut orgs = Vec::new();
    for (id, role) in meta.orgs_of(user.id).await? {
        if let Some(org) = meta.org(id).await? {
            orgs.push(org_view(&state, &org, role).await?);
        }
    }
    orgs.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(Json(OrgList { orgs }))
}

/// One organisation with its members.
#[utoipa::path(get, path = "/api/v1/orgs/{org}", tag = "orgs", params(("org" = String, Path, description = "The organisation's id")), responses((status = 200, body = OrgDetail), (status = 404, body = crate::openapi::ErrorBody)))]
pub async fn get(
    State(state): State<AppState>,
    user: AuthUser,
    Path(org): Path<String>,
) -> Result<Json<OrgDetail>, ApiError> {
    let (org, role) = membership(&state, &user, &org).await?;
    let invitations = match role {
        OrgRole::Admin => state
            .storage
            .meta()
            .invitations_of(org.id)
            .await?
            .iter()
            .map(invitation_view)
            .collect(),
        OrgRole::Member => Vec::new(),
    };
    Ok(Json(OrgDetail {
        org: org_view(&state, &org, role).await?,
        members: members(&state, org.id).await?,
        invitations,
    }))
}

/// Adds a member (201): an existing account joins at once; for anyone else an invitation
/// is made and mailed (its link is returned when mail is off).
#[utoipa::path(post, path = "/api/v1/orgs/{org}/members", tag = "orgs", params(("org" = String, Path, description = "The organisation's id")), request_body = NewMember, responses((status = 201, body = Added), (status = 400, body = crate::openapi::ErrorBody), (status = 403, body = crate::openapi::ErrorBody), (status = 404, body = crate::openapi::ErrorBody), (status = 409, body = crate::openapi::ErrorBody)))]
pub async fn add_member(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    user: AuthUser,
    Path(org): Path<String>,
    Json(form): Json<NewMember>,
) -> Result<(StatusCode, Json<Added>), ApiError> {
    let org = administered(&state, &user, &org).await?;
    let role = parse_role(form.role.as_deref())?;
    let email = casevault_storage::meta::normalise_email(&form.email)
        .map_err(|_| ApiError::BadRequest("The e-mail address is not valid.".into()))?;
    let meta = state.storage.meta();
    if let Some(existing) = meta.user_by_email(&email).await? {
        if meta.membership(org.id, existing.id).await?.is_some() {
            return Err(ApiError::Conflict(
                "This person is already a member.".into(),
            ));
        }
        meta.set_membership(org.id, existing.id, role).await?;
        auth::audit(
            &state,
            Actor::User(user.id),
            "org.member_add",
            ip,
            Outcome::Success,
        )
        .await?;
        let member = MemberView {
            id: existing.id.to_string(),
            email: existing.email,
            display_name: existing.display_name,
            role: role_name(role),
        };
        let added = Added {
            member: Some(member),
            invitation: None,
            link: None,
            mail: None,
        };
        return Ok((StatusCode::CREATED, Json(added)));
    }
    let token = Token::generate();
    let now = Timestamp::now();
    let lifetime = i64::try_from(INVITATION_LIFETIME.as_millis()).unwrap_or(i64::MAX);
    let invitation = InvitationRecord {
        id: InvitationId::random(),
        org: org.id,
        email: email.clone(),
        role,
        invited_by: user.id,
        created_at: now,
        expires_at: Timestamp(now.0.saturating_add(lifetime)),
    };
    let link = format!("{}/invite#{}", state.public_url, token.as_str());
    let inviter = meta
        .user(user.id)
        .await?
        .map(|u| u.display_name)
        .unwrap_or_default();
    let message = Message::new(
        &email,
        format!("{inviter} invites you to {} on casevault", org.name),
        format!(
            "Hello,\n\n{inviter} invites you to join {} on casevault, where the practice \
             shares its case files securely. Choose your name and password here within seven \
             days:\n\n{link}\n",
            org.name
        ),
    )
    .map_err(|err| ApiError::BadRequest(format!("The invitation cannot be sent: {err}")))?;
    let invitation = meta.create_invitation(token.hash(), invitation).await?;
    auth::audit(
        &state,
        Actor::User(user.id),
        "org.invite",
        ip,
        Outcome::Success,
    )
    .await?;
    let mail = match state.mail.enqueue(message.about(user.id, None)).await {
        Ok(_) => MailOutcome::Queued,
        Err(MailError::Off) => MailOutcome::Off,
        Err(err) => return Err(ApiError::internal(err)),
    };
    let added = Added {
        member: None,
        invitation: Some(invitation_view(&invitation)),
        link: (mail == MailOutcome::Off).then_some(link),
        mail: Some(mail),
    };
    Ok((StatusCode::CREATED, Json(added)))
}

/// The number of administrators left if `leaving` stopped being one.
async fn admins_without(state: &AppState, org: OrgId, leaving: UserId) -> Result<usize, ApiError> {
    Ok(state
        .storage
        .meta()
        .members_of(org)
        .await?
        .iter()
        .filter(|(id, role)| *role == OrgRole::Admin && *id != leaving)
        .count())
}

/// Changes a member's role (200); an organisation keeps at least one administrator (409).
#[utoipa::path(patch, path = "/api/v1/orgs/{org}/members/{user}", tag = "orgs", params(("org" = String, Path, description = "The organisation's id"), ("user" = String, Path, description = "The member's user id")), request_body = RoleChange, responses((status = 200, body = MemberView), (status = 403, body = crate::openapi::ErrorBody), (status = 404, body = crate::openapi::ErrorBody), (status = 409, body = crate::openapi::ErrorBody)))]
pub async fn update_member(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    user: AuthUser,
    Path((org, member)): Path<(String, String)>,
    Json(change): Json<RoleChange>,
) -> Result<Json<MemberView>, ApiError> {
    let org = administered(&state, &user, &org).await?;
    let member: UserId = parse_id(&member)?;
    let role = parse_role(Some(change.role.as_str()))?;
    let meta = state.storage.meta();
    meta.membership(org.id, member)
        .await?
        .ok_or(ApiError::NotFound)?;
    if role == OrgRole::Member && admins_without(&state, org.id, member).await? == 0 {
        return Err(ApiError::Conflict(
            "An organisation needs at least one administrator.".into(),
        ));
    }
    meta.set_membership(org.id, member, role).await?;
    auth::audit(
        &state,
        Actor::User(user.id),
        "org.member_role",
        ip,
        Outcome::Success,
    )
    .await?;
    let record = meta.user(member).await?.ok_or(ApiError::NotFound)?;
    Ok(Json(MemberView {
        id: record.id.to_string(),
        email: record.email,
        display_name: record.display_name,
        role: role_name(role),
    }))
}

/// Removes a member (204); the last administrator stays (409).
#[utoipa::path(delete, path = "/api/v1/orgs/{org}/members/{user}", tag = "orgs", params(("org" = String, Path, description = "The organisation's id"), ("user" = String, Path, description = "The member's user id")), responses((status = 204, description = "Removed"), (status = 403, body = crate::openapi::ErrorBody), (status = 404, body = crate::openapi::ErrorBody), (status = 409, body = crate::openapi::ErrorBody)))]
pub async fn remove_member(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    user: AuthUser,
    Path((org, member)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    let org = administered(&state, &user, &org).await?;
    let member: UserId = parse_id(&member)?;
    let meta = state.storage.meta();
    meta.membership(org.id, member)
        .await?
        .ok_or(ApiError::NotFound)?;
    if admins_without(&state, org.id, member).await? == 0 {
        return Err(ApiError::Conflict(
            "An organisation needs at least one administrator.".into(),
        ));
    }
    meta.remove_membership(org.id, member).await?;
    auth::audit(
        &state,
        Actor::User(user.id),
        "org.member_remove",
        ip,
        Outcome::Success,
    )
    .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Withdraws a pending invitation (204): its link stops working.
#[utoipa::path(delete, path = "/api/v1/orgs/{org}/invitations/{id}", tag = "orgs", params(("org" = String, Path, description = "The organisation's id"), ("id" = String, Path, description = "The invitation's id")), responses((status = 204, description = "Withdrawn"), (status = 403, body = crate::openapi::ErrorBody), (status = 404, body = crate::openapi::ErrorBody)))]
pub async fn withdraw_invitation(
    State(state): State<AppState>,
    user: AuthUser,
    Path((org, id)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    let org = administered(&state, &user, &org).await?;
    let id: InvitationId = parse_id(&id)?;
    if state.storage.meta().delete_invitation(org.id, id).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::NotFound)
    }
}

/// What an invitation link is for (404 `link_unavailable` when it is unknown, used or expired).
#[utoipa::path(get, path = "/api/v1/invitations/{token}", tag = "orgs", params(("token" = String, Path, description = "The invitation token")), responses((status = 200, body = InvitationInfo), (status = 404, body = crate::openapi::ErrorBody)))]
pub async fn invitation(
    State(state): State<AppState>,
    Path(token): Path<String>,
) -> Result<Json<InvitationInfo>, ApiError> {
    let token = Token::parse(&token).map_err(|_| ApiError::LinkUnavailable)?;
    let meta = state.storage.meta();
    let invitation = meta
        .invitation(token.hash())
        .await?
        .ok_or(ApiError::LinkUnavailable)?;
    let org = meta
        .org(invitation.org)
        .await?
        .ok_or(ApiError::LinkUnavailable)?;
    Ok(Json(InvitationInfo {
        org: org.name,
        email: invitation.email,
    }))
}

/// Accepts an invitation: makes the account, joins the organisation and signs in (201 with a
/// session cookie). 404 `link_unavailable` for an unknown, used or expired link; 409 when the address got an
/// account meanwhile.
#[utoipa::path(post, path = "/api/v1/invitations/{token}", tag = "orgs", params(("token" = String, Path, description = "The invitation token")), request_body = Acceptance, responses((status = 201, body = SessionBody), (status = 400, body = crate::openapi::ErrorBody), (status = 404, body = crate::openapi::ErrorBody), (status = 409, body = crate::openapi::ErrorBody)))]
pub async fn accept(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    Path(token): Path<String>,
    Json(form): Json<Acceptance>,
) -> Result<Response, ApiError> {
    session::require_origin(&headers, &state)?;
    let token = Token::parse(&token).map_err(|_| ApiError::LinkUnavailable)?;
    let display_name = super::auth::check_display_name(&form.display_name)?;
    auth::check_new_password(&form.password)?;
    let meta = state.storage.meta();
    // Checked before hashing, so that a dead link costs no argon2 work.
    meta.invitation(token.hash())
        .await?
        .ok_or(ApiError::LinkUnavailable)?;
    let password = state
        .passwords
        .hash(&form.password)
        .await
        .map_err(ApiError::internal)?;
    let invitation = match meta.take_invitation(token.hash()).await {
        Ok(invitation) => invitation,
        Err(StorageError::NotFound(_)) => return Err(ApiError::LinkUnavailable),
        Err(err) => return Err(err.into()),
    };
    let user = UserRecord {
        id: UserId::random(),
        email: invitation.email.clone(),
        display_name,
        password: Some(password),
        is_admin: false,
        disabled: false,
        created_at: Timestamp::now(),
    };
    let user = match meta.create_user(user).await {
        Ok(user) => user,
        Err(StorageError::NameConflict) => {
            return Err(ApiError::Conflict(
                "An account with this e-mail exists already: sign in, and ask the \
                 administrator to add it."
                    .into(),
            ));
        }
        Err(err) => return Err(err.into()),
    };
    auth::give_default_quota(&state, user.id).await?;
    meta.set_membership(invitation.org, user.id, invitation.role)
        .await?;
    auth::audit(
        &state,
        Actor::User(user.id),
        "org.join",
        ip,
        Outcome::Success,
    )
    .await?;
    let new = session::start(&state, user.id, ip).await?;
    Ok(super::auth::signed_in(StatusCode::CREATED, &user, new))
}
