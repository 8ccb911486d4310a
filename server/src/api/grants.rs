//! Shares, the owner's side: `POST/GET /api/v1/grants`, `GET/PATCH/DELETE
//! /api/v1/grants/{grant}`, `POST /api/v1/grants/revoke`, and the colleague's
//! `GET /api/v1/shared-with-me`.
//!
//! A grant shares a case, a folder or a file as read-only, edit or drop-only, either with a
//! colleague's account or as a link for an external recipient. A link gets a 256-bit token
//! (only its hash is stored) and a password (generated when the owner gives none; a link
//! without a password needs `"no_password": true`). Every grant expires: after
//! `shares.default_expiry` (seven days) unless the owner chooses otherwise, within
//! `shares.max_expiry`.

use std::collections::HashMap;

use axum::extract::State;
use axum::http::StatusCode;
use casevault_crypto::{CaseKey, Token};
use casevault_storage::{
    Actor, CaseId, FileId, FolderId, GrantAudience, GrantId, GrantRecipient, GrantRecord,
    GrantRole, GrantStatus, GrantTarget, MailStatus, Timestamp, UserId,
};
use rand::RngExt;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::uploads::http_date;
use super::{double_option, parse_id, parse_optional_id};
use crate::access::{self, Action, Principal};
use crate::audit::Audit;
use crate::auth::{AuthUser, ClientIp};
use crate::config::ShareSettings;
use crate::error::ApiError;
use crate::extract::{Json, Path, Query};
use crate::links::notify::{self, MailOutcome};
use crate::state::AppState;

/// Shortest password an owner may choose for a link.
pub const MIN_LINK_PASSWORD_CHARS: usize = 8;
/// Longest note, in characters.
const MAX_NOTE_CHARS: usize = 2000;

/// The form to share something.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewGrant {
    /// The case shared (or that holds the folder or file shared).
    pub case: String,
    /// Share only this folder and what is under it.
    pub folder: Option<String>,
    /// Share only this file.
    pub file: Option<String>,
    /// `read`, `edit` or `drop`.
    pub role: String,
    /// A colleague's account e-mail: the share appears in their "shared with me".
    pub colleague: Option<String>,
    /// The external recipient's e-mail (a link is made when no colleague is named).
    pub recipient_email: Option<String>,
    /// The link password; generated when absent.
    pub password: Option<String>,
    /// A link without any password (must be asked for explicitly).
    #[serde(default)]
    pub no_password: bool,
    /// Expiry, milliseconds since the Unix epoch (default: seven days from now).
    pub expires_at: Option<i64>,
    /// Completed downloads allowed; 1 makes a one-time link.
    pub download_limit: Option<u32>,
    /// Bytes that may be uploaded through the share.
    pub upload_cap: Option<u64>,
    /// A note to the recipient.
    #[serde(default)]
    pub note: String,
}

/// A share as its owner sees it.
#[derive(Debug, Serialize, ToSchema)]
pub struct GrantView {
    /// The grant's id.
    pub id: String,
    /// The case.
    pub case: String,
    /// The folder shared, if a folder.
    pub folder: Option<String>,
    /// The file shared, if a file.
    pub file: Option<String>,
    /// `read`, `edit` or `drop`.
    pub role: &'static str,
    /// `colleague` or `link`.
    pub audience: &'static str,
    /// The colleague's user id.
    pub colleague: Option<String>,
    /// The recipient's e-mail, if given.
    pub recipient_email: Option<String>,
    /// The note to the recipient.
    pub note: String,
    /// `active`, `expired`, `used_up`, `locked` or `revoked`.
    pub status: &'static str,
    /// Whether a password protects the link.
    pub has_password: bool,
    /// Expiry, milliseconds since the Unix epoch.
    pub expires_at: Option<i64>,
    /// Completed downloads allowed.
    pub download_limit: Option<u32>,
    /// Completed downloads.
    pub downloads: u32,
    /// Upload cap in bytes.
    pub upload_cap: Option<u64>,
    /// Bytes uploaded through the share.
    pub uploaded: u64,
    /// Wrong passwords since the last right one.
    pub failed_attempts: u32,
    /// Creation time.
    pub created_at: i64,
    /// Last use.
    pub last_access: Option<i64>,
    /// Revocation time.
    pub revoked_at: Option<i64>,
    /// The e-mails sent about the share: `pending`, `sent`, `failed` (any one failed), or
    /// `null` when none were sent.
    pub mail: Option<&'static str>,
}

/// A share just created: the link and the password are shown this once.
#[derive(Debug, Serialize, ToSchema)]
pub struct CreatedGrant {
    /// The share.
    pub grant: GrantView,
    /// The link to send to the recipient (links only).
    pub link: Option<String>,
    /// The generated password (when the owner gave none).
    pub password: Option<String>,
    /// Whether the link and password (or the colleague's notice) went out by e-mail.
    pub mail: MailOutcome,
}

/// The name of a status in the API.
pub fn status_name(status: GrantStatus) -> &'static str {
    match status {
        GrantStatus::Active => "active",
        GrantStatus::Expired => "expired",
        GrantStatus::UsedUp => "used_up",
        GrantStatus::Locked => "locked",
        GrantStatus::Revoked => "revoked",
    }
}

/// The name of a role in the API.
pub fn role_name(role: GrantRole) -> &'static str {
    match role {
        GrantRole::Read => "read",
        GrantRole::Edit => "edit",
        GrantRole::Drop => "drop",
    }
}

fn parse_role(text: &str) -> Result<GrantRole, ApiError> {
    match text {
        "read" => Ok(GrantRole::Read),
        "edit" => Ok(GrantRole::Edit),
        "drop" => Ok(GrantRole::Drop),
        _ => Err(ApiError::BadRequest(
            "The role must be \"read\", \"edit\" or \"drop\".".into(),
        )),
    }
}

impl GrantView {
    /// The view of a grant, its recipient opened with the case key.
    pub fn of(state: &AppState, key: &CaseKey, grant: &GrantRecord) -> Result<Self, ApiError> {
        let recipient = state.storage.grant_recipient(key, grant)?;
        let (folder, file) = match grant.target {
            GrantTarget::Case(_) => (None, None),
            GrantTarget::Folder(_, folder) => (Some(folder.to_string()), None),
            GrantTarget::File(_, file) => (None, Some(file.to_string())),
        };
        Ok(Self {
            id: grant.id.to_string(),
            case: grant.target.case().to_string(),
            folder,
            file,
            role: role_name(grant.role),
            audience: match grant.audience {
                GrantAudience::Colleague(_) => "colleague",
                GrantAudience::External { .. } => "link",
            },
            colleague: grant.grantee().map(|id| id.to_string()),
            recipient_email: recipient.as_ref().and_then(|r| r.email.clone()),
            note: recipient.map(|r| r.note).unwrap_or_default(),
            status: status_name(grant.status(Timestamp::now())),
            has_password: grant.password.is_some(),
            expires_at: grant.expires_at.map(|t| t.0),
            download_limit: grant.download_limit,
            downloads: grant.downloads,
            upload_cap: grant.upload_cap,
            uploaded: grant.uploaded,
            failed_attempts: grant.failed_attempts,
            created_at: grant.created_at.0,
            last_access: grant.last_access.map(|t| t.0),
            revoked_at: grant.revoked_at.map(|t| t.0),
            mail: None,
        })
    }

    /// With the delivery state of the share's e-mails.
    fn with_mail(mut self, mail: &HashMap<GrantId, MailStatus>, id: GrantId) -> Self {
        self.mail = mail.get(&id).map(|status| match status {
            MailStatus::Pending => "pending",
            MailStatus::Sent => "sent",
            MailStatus::Failed => "failed",
        });
        self
    }
}

/// The delivery state of the e-mails about each of an owner's shares: the worst of them.
async fn mail_states(
    state: &AppState,
    owner: UserId,
) -> Result<HashMap<GrantId, MailStatus>, ApiError> {
    let rank = |status: &MailStatus| match status {
        MailStatus::Sent => 0,
        MailStatus::Pending => 1,
        MailStatus::Failed => 2,
    };
    let mut states: HashMap<GrantId, MailStatus> = HashMap::new();
    for message in state.mail.messages_of(owner).await? {
        let Some((_, Some(grant))) = message.about else {
            continue;
        };
        let worse = states
            .get(&grant)
            .is_none_or(|known| rank(&message.status) > rank(known));
        if worse {
            states.insert(grant, message.status);
        }
    }
    Ok(states)
}

/// A password for a link: 20 characters from an alphabet without look-alikes (about 100
/// bits), in groups of five for reading aloud.
pub fn generate_password() -> String {
    const ALPHABET: &[u8] = b"abcdefghijkmnpqrstuvwxyzACDEFGHJKLMNPQRTUVWXY3479";
    let mut rng = rand::rng();
    let chars: Vec<char> = (0..20)
        .map(|_| char::from(ALPHABET[rng.random_range(0..ALPHABET.len())]))
        .collect();
    chars
        .chunks(5)
        .map(|group| group.iter().collect::<String>())
        .collect::<Vec<_>>()
        .join("-")
}

/// The expiry of a new or changed grant: the chosen time (in the future, within the
/// configured maximum) or the configured default from now.
fn expiry(settings: &ShareSettings, chosen: Option<i64>) -> Result<Timestamp, ApiError> {
    let ms = |d: std::time::Duration| i64::try_from(d.as_millis()).unwrap_or(i64::MAX);
    let now = Timestamp::now().0;
    let latest = now.saturating_add(ms(settings.max_expiry));
    match chosen {
        None => Ok(Timestamp(now.saturating_add(ms(settings.default_expiry)))),
        Some(at) if at > now && at <= latest => Ok(Timestamp(at)),
        Some(_) => Err(ApiError::BadRequest(format!(
            "The expiry must be in the future and at most {} away.",
            humantime::format_duration(settings.max_expiry)
        ))),
    }
}

fn check_note(note: &str) -> Result<String, ApiError> {
    let bad = note
        .chars()
        .any(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t'));
    if note.chars().count() > MAX_NOTE_CHARS || bad {
        return Err(ApiError::BadRequest(format!(
            "The note must have at most {MAX_NOTE_CHARS} characters and no control characters."
        )));
    }
    Ok(note.to_owned())
}

fn check_limit(limit: Option<u32>) -> Result<Option<u32>, ApiError> {
    match limit {
        Some(0) => Err(ApiError::BadRequest(
            "The download limit must be at least 1.".into(),
        )),
        other => Ok(other),
    }
}

/// Shares a case, a folder or a file (201).
#[utoipa::path(post, path = "/api/v1/grants", tag = "shares", request_body = NewGrant, responses((status = 201, body = CreatedGrant), (status = 400, body = crate::openapi::ErrorBody), (status = 404, body = crate::openapi::ErrorBody)))]
pub async fn create(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    user: AuthUser,
    Json(form): Json<NewGrant>,
) -> Result<(StatusCode, Json<CreatedGrant>), ApiError> {
    let case: CaseId = parse_id(&form.case)?;
    let access = access::authorize(&state, Principal::User(user.id), Action::Share, case).await?;
    let folder: Option<FolderId> = parse_optional_id("folder", form.folder.as_deref())?;
    let file: Option<FileId> = parse_optional_id("file", form.file.as_deref())?;
    let target = match (folder, file) {
        (None, None) => GrantTarget::Case(case),
        (Some(folder), None) => GrantTarget::Folder(case, access.folder(&state, folder).await?.id),
        (None, Some(file)) => GrantTarget::File(case, access.file(&state, file).await?.id),
        (Some(_), Some(_)) => {
            return Err(ApiError::BadRequest(
                "Share a folder or a file, not both.".into(),
            ));
        }
    };
    let role = parse_role(&form.role)?;
    if role == GrantRole::Drop && matches!(target, GrantTarget::File(..)) {
        return Err(ApiError::BadRequest(
            "A drop-only share needs a case or a folder to drop into.".into(),
        ));
    }
    let note = check_note(&form.note)?;
    let expires_at = expiry(&state.settings.shares, form.expires_at)?;
    let download_limit = check_limit(form.download_limit)?;
    let owner = state
        .storage
        .meta()
        .user(user.id)
        .await?
        .ok_or(ApiError::Unauthorized)?;
    let recipient_email = form
        .recipient_email
        .as_deref()
        .map(str::trim)
        .filter(|e| !e.is_empty())
        .map(str::to_owned);
    let (audience, token, password) = match form.colleague.as_deref() {
        Some(email) => {
            let colleague = colleague(&state, email, user.id).await?;
            if form.password.is_some() || form.no_password {
                return Err(ApiError::BadRequest(
                    "A share with a colleague uses their account: it takes no password.".into(),
                ));
            }
            (GrantAudience::Colleague(colleague), None, None)
        }
        None => {
            let token = Token::generate();
            let password = match (form.password.as_deref(), form.no_password) {
                (Some(_), true) => {
                    return Err(ApiError::BadRequest(
                        "Give a password or ask for none, not both.".into(),
                    ));
                }
                (Some(given), false) => {
                    if given.chars().count() < MIN_LINK_PASSWORD_CHARS
                        || given.len() > casevault_crypto::password::MAX_PASSWORD_LEN
                    {
                        return Err(ApiError::BadRequest(format!(
                            "A link password must have at least {MIN_LINK_PASSWORD_CHARS} characters."
                        )));
                    }
                    Some((given.to_owned(), false))
                }
                (None, false) => Some((generate_password(), true)),
                (None, true) => None,
            };
            let audience = GrantAudience::External {
                token_hash: token.hash(),
            };
            (audience, Some(token), password)
        }
    };
    let mut grant = GrantRecord::new(user.id, target, role, audience, Some(expires_at));
    grant.download_limit = download_limit;
    grant.upload_cap = form.upload_cap;
    if let Some((password, _)) = &password {
        grant.password = Some(
            state
                .passwords
                .hash(password)
                .await
                .map_err(ApiError::internal)?,
        );
    }
    // Written before the grant exists, so that a bad address stops nothing half-done.
    let link = token.as_ref().map(|t| link_url(&state, t));
    let messages = match (&audience, &link, &recipient_email) {
        (GrantAudience::Colleague(_), _, _) => {
            let email = form.colleague.as_deref().unwrap_or_default();
            vec![notify::colleague_message(
                email,
                &owner.display_name,
                &state.public_url,
            )?]
        }
        (GrantAudience::External { .. }, Some(link), Some(to)) => notify::link_messages(
            to,
            &owner.display_name,
            link,
            password.as_ref().map(|(p, _)| p.as_str()),
            &http_date(expires_at),
        )?,
        _ => Vec::new(),
    };
    let recipient = GrantRecipient {
        email: recipient_email,
        note,
    };
    grant.recipient = Some(
        state
            .storage
            .seal_grant_recipient(&access.key, &grant, &recipient)?,
    );
    let grant = state.storage.meta().create_grant(grant).await?;
    Audit::case(Actor::User(user.id), "share.create", case, ip)
        .grant(grant.id)
        .record(&state)
        .await?;
    let mail = notify::send(&state, user.id, grant.id, messages).await?;
    let created = CreatedGrant {
        grant: GrantView::of(&state, &access.key, &grant)?,
        link,
        password: password.and_then(|(p, generated)| generated.then_some(p)),
        mail,
    };
    Ok((StatusCode::CREATED, Json(created)))
}

/// The recipient's address of a link token.
pub fn link_url(state: &AppState, token: &Token) -> String {
    format!("{}/s/{}", state.public_url, token.as_str())
}

/// The account of a colleague by e-mail (not oneself).
async fn colleague(state: &AppState, email: &str, owner: UserId) -> Result<UserId, ApiError> {
    let user = state
        .storage
        .meta()
        .user_by_email(email.trim())
        .await?
        .filter(|u| !u.disabled)
        .ok_or_else(|| {
            ApiError::BadRequest("No colleague has an account with this e-mail.".into())
        })?;
    if user.id == owner {
        return Err(ApiError::BadRequest(
            "You cannot share with yourself.".into(),
        ));
    }
    Ok(user.id)
}

/// List filters.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct GrantFilter {
    /// Only the shares of this case.
    pub case: Option<String>,
    /// Only shares with this status.
    pub status: Option<String>,
}

/// The owner's shares.
#[derive(Debug, Serialize, ToSchema)]
pub struct GrantList {
    /// Newest first.
    pub grants: Vec<GrantView>,
}

/// Every share the caller made, with its status.
#[utoipa::path(get, path = "/api/v1/grants", tag = "shares", params(GrantFilter), responses((status = 200, body = GrantList), (status = 401, body = crate::openapi::ErrorBody)))]
pub async fn list(
    State(state): State<AppState>,
    user: AuthUser,
    Query(filter): Query<GrantFilter>,
) -> Result<Json<GrantList>, ApiError> {
    let case: Option<CaseId> = parse_optional_id("case", filter.case.as_deref())?;
    let mut grants = state.storage.meta().grants_of(user.id).await?;
    grants.retain(|g| case.is_none_or(|c| g.target.case() == c));
    grants.sort_by_key(|g| std::cmp::Reverse(g.created_at));
    let mail = mail_states(&state, user.id).await?;
    let mut keys: HashMap<CaseId, CaseKey> = HashMap::new();
    let mut views = Vec::with_capacity(grants.len());
    for grant in &grants {
        let case = grant.target.case();
        if let std::collections::hash_map::Entry::Vacant(slot) = keys.entry(case) {
            let Some(record) = state.storage.meta().case(case).await? else {
                continue;
            };
            slot.insert(state.storage.case_key(&record)?);
        }
        let Some(key) = keys.get(&case) else { continue };
        let view = GrantView::of(&state, key, grant)?.with_mail(&mail, grant.id);
        if filter.status.as_deref().is_none_or(|s| s == view.status) {
            views.push(view);
        }
    }
    Ok(Json(GrantList { grants: views }))
}

/// One of the caller's shares, with the case key to open it.
async fn owned(
    state: &AppState,
    user: &AuthUser,
    id: &str,
) -> Result<(GrantRecord, CaseKey), ApiError> {
    let grant = state
        .storage
        .meta()
        .grant(parse_id(id)?)
        .await?
        .filter(|g| g.owner == user.id)
        .ok_or(ApiError::NotFound)?;
    let access = access::authorize(
        state,
        Principal::User(user.id),
        Action::Share,
        grant.target.case(),
    )
    .await?;
    Ok((grant, access.key))
}

/// One share.
#[utoipa::path(get, path = "/api/v1/grants/{grant}", tag = "shares", params(("grant" = String, Path, description = "The share's id")), responses((status = 200, body = GrantView), (status = 404, body = crate::openapi::ErrorBody)))]
pub async fn get(
    State(state): State<AppState>,
    user: AuthUser,
    Path(id): Path<String>,
) -> Result<Json<GrantView>, ApiError> {
    let (grant, key) = owned(&state, &user, &id).await?;
    let mail = mail_states(&state, user.id).await?;
    Ok(Json(
        GrantView::of(&state, &key, &grant)?.with_mail(&mail, grant.id),
    ))
}

/// A change to a share; absent fields stay as they are.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct GrantChange {
    /// New expiry (milliseconds since the Unix epoch).
    pub expires_at: Option<i64>,
    /// New download limit; `null` removes it.
    #[serde(default, deserialize_with = "double_option")]
    pub download_limit: Option<Option<u32>>,
    /// New upload cap; `null` removes it.
    #[serde(default, deserialize_with = "double_option")]
    pub upload_cap: Option<Option<u64>>,
    /// New note.
    pub note: Option<String>,
    /// Unlock a share locked after too many wrong passwords.
    #[serde(default)]
    pub unlock: bool,
}

/// Changes a share's settings.
#[utoipa::path(patch, path = "/api/v1/grants/{grant}", tag = "shares", params(("grant" = String, Path, description = "The share's id")), request_body = GrantChange, responses((status = 200, body = GrantView), (status = 400, body = crate::openapi::ErrorBody), (status = 404, body = crate::openapi::ErrorBody)))]
pub async fn update(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    user: AuthUser,
    Path(id): Path<String>,
    Json(change): Json<GrantChange>,
) -> Result<Json<GrantView>, ApiError> {
    let (grant, key) = owned(&state, &user, &id).await?;
    let expires_at = change
        .expires_at
        .map(|at| expiry(&state.settings.shares, Some(at)))
        .transpose()?;
    let download_limit = change.download_limit.map(check_limit).transpose()?;
    let recipient = match change.note.as_deref() {
        None => None,
        Some(note) => {
            let mut recipient =
                state
                    .storage
                    .grant_recipient(&key, &grant)?
                    .unwrap_or(GrantRecipient {
                        email: None,
                        note: String::new(),
                    });
            recipient.note = check_note(note)?;
            Some(
                state
                    .storage
                    .seal_grant_recipient(&key, &grant, &recipient)?,
            )
        }
    };
    let upload_cap = change.upload_cap;
    let unlock = change.unlock;
    let updated = state
        .storage
        .meta()
        .update_grant(grant.id, move |g| {
            if let Some(at) = expires_at {
                g.expires_at = Some(at);
            }
            if let Some(limit) = download_limit {
                g.download_limit = limit;
            }
            if let Some(cap) = upload_cap {
                g.upload_cap = cap;
            }
            if let Some(sealed) = &recipient {
                g.recipient = Some(sealed.clone());
            }
            if unlock {
                g.locked_at = None;
                g.failed_attempts = 0;
            }
            Ok(())
        })
        .await?;
    state.links.grant_changed();
    Audit::case(
        Actor::User(user.id),
        "share.update",
        grant.target.case(),
        ip,
    )
    .grant(grant.id)
    .record(&state)
    .await?;
    Ok(Json(GrantView::of(&state, &key, &updated)?))
}

/// The access log of one share: every use, refusal and change, oldest first.
#[utoipa::path(get, path = "/api/v1/grants/{grant}/history", tag = "shares", params(("grant" = String, Path, description = "The share's id")), responses((status = 200, body = super::cases::History), (status = 404, body = crate::openapi::ErrorBody)))]
pub async fn history(
    State(state): State<AppState>,
    user: AuthUser,
    Path(id): Path<String>,
) -> Result<Json<super::cases::History>, ApiError> {
    let (grant, _) = owned(&state, &user, &id).await?;
    let entries = state
        .storage
        .meta()
        .case_history(grant.target.case())
        .await?
        .into_iter()
        .filter(|entry| entry.event.grant == Some(grant.id))
        .map(super::cases::HistoryEntry::from)
        .collect();
    Ok(Json(super::cases::History { entries }))
}

/// Revokes one share (204): the next request through it fails, and a transfer in progress
/// stops at its next chunk.
#[utoipa::path(delete, path = "/api/v1/grants/{grant}", tag = "shares", params(("grant" = String, Path, description = "The share's id")), responses((status = 204, description = "Revoked"), (status = 404, body = crate::openapi::ErrorBody)))]
pub async fn revoke(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    user: AuthUser,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let (grant, _) = owned(&state, &user, &id).await?;
    revoke_all(&state, &user, ip, &[grant]).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The shares to revoke at once.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RevokeMany {
    /// Their ids.
    pub ids: Vec<String>,
}

/// How many shares were revoked.
#[derive(Debug, Serialize, ToSchema)]
pub struct Revoked {
    /// Shares revoked by this request (already revoked ones are not counted).
    pub revoked: usize,
}

/// Revokes several of the caller's shares at once.
#[utoipa::path(post, path = "/api/v1/grants/revoke", tag = "shares", request_body = RevokeMany, responses((status = 200, body = Revoked), (status = 404, body = crate::openapi::ErrorBody)))]
pub async fn revoke_many(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    user: AuthUser,
    Json(form): Json<RevokeMany>,
) -> Result<Json<Revoked>, ApiError> {
    let mut grants = Vec::with_capacity(form.ids.len());
    for id in &form.ids {
        grants.push(owned(&state, &user, id).await?.0);
    }
    let revoked = revoke_all(&state, &user, ip, &grants).await?;
    Ok(Json(Revoked { revoked }))
}

async fn revoke_all(
    state: &AppState,
    user: &AuthUser,
    ip: Option<std::net::IpAddr>,
    grants: &[GrantRecord],
) -> Result<usize, ApiError> {
    let ids: Vec<GrantId> = grants.iter().map(|g| g.id).collect();
    let revoked = state
        .storage
        .meta()
        .revoke_grants(user.id, &ids, Timestamp::now())
        .await?;
    state.links.grant_changed();
    for grant in grants {
        crate::links::end_sessions(state, grant.id).await;
        Audit::case(
            Actor::User(user.id),
            "share.revoke",
            grant.target.case(),
            ip,
        )
        .grant(grant.id)
        .record(state)
        .await?;
    }
    Ok(revoked)
}

/// A share with the caller, as they see it.
#[derive(Debug, Serialize, ToSchema)]
pub struct SharedItem {
    /// The grant's id.
    pub grant: String,
    /// The case.
    pub case: String,
    /// The case's patient reference.
    pub patient_ref: String,
    /// The case's title.
    pub title: String,
    /// The folder shared, if a folder.
    pub folder: Option<String>,
    /// The file shared, if a file.
    pub file: Option<String>,
    /// `read`, `edit` or `drop`.
    pub role: &'static str,
    /// Who shared it.
    pub owner: String,
    /// Their display name.
    pub owner_name: String,
    /// Expiry, milliseconds since the Unix epoch.
    pub expires_at: Option<i64>,
}

/// What colleagues shared with the caller.
#[derive(Debug, Serialize, ToSchema)]
pub struct SharedWithMe {
    /// Active shares, newest first.
    pub items: Vec<SharedItem>,
}

/// The active shares colleagues made with the caller.
#[utoipa::path(get, path = "/api/v1/shared-with-me", tag = "shares", responses((status = 200, body = SharedWithMe), (status = 401, body = crate::openapi::ErrorBody)))]
pub async fn shared_with_me(
    State(state): State<AppState>,
    user: AuthUser,
) -> Result<Json<SharedWithMe>, ApiError> {
    let meta = state.storage.meta();
    let now = Timestamp::now();
    let mut grants = meta.grants_for(user.id).await?;
    grants.retain(|g| g.status(now) == GrantStatus::Active);
    grants.sort_by_key(|g| std::cmp::Reverse(g.created_at));
    let mut items = Vec::with_capacity(grants.len());
    for grant in grants {
        let Some(case) = meta.case(grant.target.case()).await? else {
            continue;
        };
        let details = state.storage.case_details(&case)?;
        let owner = meta.user(grant.owner).await?;
        let (folder, file) = match grant.target {
            GrantTarget::Case(_) => (None, None),
            GrantTarget::Folder(_, f) => (Some(f.to_string()), None),
            GrantTarget::File(_, f) => (None, Some(f.to_string())),
        };
        items.push(SharedItem {
            grant: grant.id.to_string(),
            case: case.id.to_string(),
            patient_ref: details.patient_ref,
            title: details.title,
            folder,
            file,
            role: role_name(grant.role),
            owner: grant.owner.to_string(),
            owner_name: owner.map(|u| u.display_name).unwrap_or_default(),
            expires_at: grant.expires_at.map(|t| t.0),
        });
    }
    Ok(Json(SharedWithMe { items }))
}

#[cfg(test)]
mod tests {
    use super::*;

    const DAY_MS: i64 = 24 * 60 * 60 * 1000;

    #[test]
    fn generated_passwords_are_long_and_differ() {
        let a = generate_password();
        assert_eq!(a.len(), 23);
        assert_eq!(a.matches('-').count(), 3);
        assert!(a.chars().all(|c| c == '-' || c.is_ascii_alphanumeric()));
        assert!(!a.contains(['0', 'O', 'o', '1', 'l', 'I']));
        assert_ne!(a, generate_password());
    }

    #[test]
    fn expiry_defaults_to_seven_days_and_is_bounded() {
        let settings = ShareSettings::default();
        let now = Timestamp::now().0;
        let default = expiry(&settings, None).expect("default").0;
        assert!((default - now - 7 * DAY_MS).abs() < 5_000);
        assert!(expiry(&settings, Some(now - 1)).is_err());
        assert!(expiry(&settings, Some(now + 366 * DAY_MS)).is_err());
        assert!(expiry(&settings, Some(now + DAY_MS)).is_ok());
    }
}
