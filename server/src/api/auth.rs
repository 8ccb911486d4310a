//! Sign-in and sessions: `POST /api/v1/auth/login`, `…/logout`, `…/logout-all`,
//! `GET …/me`, `POST …/password`.

use axum::extract::State;
use axum::http::header::SET_COOKIE;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use casevault_crypto::password::MAX_PASSWORD_LEN;
use casevault_storage::{Actor, Outcome, UserRecord};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::auth::throttle::ThrottleKey;
use crate::auth::{self, AuthMethod, AuthRuntime, AuthUser, ClientIp, session};
use crate::error::ApiError;
use crate::extract::Json;
use crate::state::AppState;

/// The public view of an account.
#[derive(Debug, Serialize, ToSchema)]
pub struct UserView {
    /// The user's id (32 hex digits).
    pub id: String,
    /// Login e-mail.
    pub email: String,
    /// Name shown to colleagues.
    pub display_name: String,
    /// Server administrator.
    pub is_admin: bool,
}

impl From<&UserRecord> for UserView {
    fn from(user: &UserRecord) -> Self {
        Self {
            id: user.id.to_string(),
            email: user.email.clone(),
            display_name: user.display_name.clone(),
            is_admin: user.is_admin,
        }
    }
}

/// The answer to a login, a setup and `me`.
#[derive(Debug, Serialize, ToSchema)]
pub struct SessionBody {
    /// Who is signed in.
    pub user: UserView,
    /// The token to send as `X-CSRF-Token` with state-changing requests (`null` for API
    /// tokens, which need none).
    pub csrf_token: Option<String>,
}

impl SessionBody {
    /// The body for `user`.
    pub fn new(user: &UserRecord, csrf_token: Option<String>) -> Self {
        Self {
            user: user.into(),
            csrf_token,
        }
    }
}

/// The login form.
#[derive(Deserialize, ToSchema)]
pub struct LoginRequest {
    /// Login e-mail (any case).
    pub email: String,
    /// Password.
    pub password: String,
}

/// Signs in: 200 with a new session cookie, or the one 401 `invalid_credentials` for a wrong
/// password, an unknown or a disabled account; 429 while throttled.
#[utoipa::path(post, path = "/api/v1/auth/login", tag = "auth", request_body = LoginRequest, responses((status = 200, body = SessionBody), (status = 401, body = crate::openapi::ErrorBody), (status = 429, body = crate::openapi::ErrorBody)))]
pub async fn login(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    Json(form): Json<LoginRequest>,
) -> Result<Response, ApiError> {
    session::require_origin(&headers, &state)?;
    let runtime = AuthRuntime::of(&state);
    runtime.sweep_sessions_now_and_then(&state);
    let account = ThrottleKey::Account(form.email.trim().to_lowercase());
    let mut keys = vec![account.clone()];
    keys.extend(ip.map(ThrottleKey::Ip));
    if let Err(retry_after) = runtime.throttle.check(&keys) {
        auth::audit(&state, Actor::System, "auth.login", ip, Outcome::Denied).await?;
        return Err(ApiError::RateLimited { retry_after });
    }
    let user = state.storage.meta().user_by_email(&form.email).await?;
    let hash = user
        .as_ref()
        .filter(|u| !u.disabled)
        .and_then(|u| u.password.as_ref());
    // An over-long password is checked against the dummy hash, so it takes as long.
    let (password, hash) = if form.password.len() > MAX_PASSWORD_LEN {
        ("", None)
    } else {
        (form.password.as_str(), hash)
    };
    let matched = state
        .passwords
        .verify(password, hash)
        .await
        .map_err(ApiError::internal)?;
    let user = match user {
        Some(user) if matched => user,
        other => {
            let delay = runtime.throttle.fail(&keys);
            let actor = other.map_or(Actor::System, |u| Actor::User(u.id));
            auth::audit(&state, actor, "auth.login", ip, Outcome::Denied).await?;
            tokio::time::sleep(delay).await;
            return Err(ApiError::InvalidCredentials);
        }
    };
    runtime.throttle.clear(&account);
    let user = rehash_if_needed(&state, user, &form.password).await?;
    let new = session::start(&state, user.id, ip).await?;
    auth::audit(
        &state,
        Actor::User(user.id),
        "auth.login",
        ip,
        Outcome::Success,
    )
    .await?;
    Ok(signed_in(StatusCode::OK, &user, new))
}

/// The answer that signs `user` in with the new session: its cookie, and the body with the
/// CSRF token (login, setup, a joined invitation).
pub fn signed_in(status: StatusCode, user: &UserRecord, new: session::NewSession) -> Response {
    let body = SessionBody::new(user, Some(new.csrf_token));
    (
        status,
        [(SET_COOKIE, session::set_cookie(&new.token))],
        Json(body),
    )
        .into_response()
}

/// Checks a display name: 1 to 200 characters once trimmed; returns it trimmed.
pub fn check_display_name(name: &str) -> Result<String, ApiError> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 200 {
        return Err(ApiError::BadRequest(
            "The display name must have 1 to 200 characters.".into(),
        ));
    }
    Ok(name.to_owned())
}

/// Upgrades a password hash made with weaker parameters than the current ones.
async fn rehash_if_needed(
    state: &AppState,
    mut user: UserRecord,
    password: &str,
) -> Result<UserRecord, ApiError> {
    if user
        .password
        .as_ref()
        .is_some_and(|h| state.passwords.needs_rehash(h))
    {
        let hash = state
            .passwords
            .hash(password)
            .await
            .map_err(ApiError::internal)?;
        user.password = Some(hash);
        state.storage.meta().update_user(user.clone()).await?;
    }
    Ok(user)
}

/// Ends the current session (204, cookie removed). With an API token: nothing to end, 204.
#[utoipa::path(post, path = "/api/v1/auth/logout", tag = "auth", responses((status = 204, description = "Signed out"), (status = 401, body = crate::openapi::ErrorBody)))]
pub async fn logout(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    user: AuthUser,
) -> Result<Response, ApiError> {
    if user.method == AuthMethod::Session {
        state.storage.meta().delete_session(user.credential).await?;
    }
    auth::audit(
        &state,
        Actor::User(user.id),
        "auth.logout",
        ip,
        Outcome::Success,
    )
    .await?;
    Ok(signed_out())
}

/// Ends every session and revokes every API token of the user (204, cookie removed).
#[utoipa::path(post, path = "/api/v1/auth/logout-all", tag = "auth", responses((status = 204, description = "Every session ended"), (status = 401, body = crate::openapi::ErrorBody)))]
pub async fn logout_all(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    user: AuthUser,
) -> Result<Response, ApiError> {
    let meta = state.storage.meta();
    meta.delete_user_sessions(user.id, None).await?;
    meta.delete_user_api_tokens(user.id).await?;
    auth::audit(
        &state,
        Actor::User(user.id),
        "auth.logout_all",
        ip,
        Outcome::Success,
    )
    .await?;
    Ok(signed_out())
}

fn signed_out() -> Response {
    (
        StatusCode::NO_CONTENT,
        [(SET_COOKIE, session::clear_cookie())],
    )
        .into_response()
}

/// Who is signed in, and the session's CSRF token.
#[utoipa::path(get, path = "/api/v1/auth/me", tag = "auth", responses((status = 200, body = SessionBody), (status = 401, body = crate::openapi::ErrorBody)))]
pub async fn me(
    State(state): State<AppState>,
    headers: HeaderMap,
    user: AuthUser,
) -> Result<Json<SessionBody>, ApiError> {
    let record = state
        .storage
        .meta()
        .user(user.id)
        .await?
        .ok_or(ApiError::Unauthorized)?;
    let csrf = match user.method {
        AuthMethod::Session => session::cookie_value(&headers).map(|c| session::csrf_token(&c)),
        AuthMethod::ApiToken => None,
    };
    Ok(Json(SessionBody::new(&record, csrf)))
}

/// The password change form.
#[derive(Deserialize, ToSchema)]
pub struct PasswordChange {
    /// The current password.
    pub current: String,
    /// The new password (12 characters to 1024 bytes).
    pub new: String,
}

/// Changes the password (204) and ends every other session; 400 when the current password
/// is wrong or the new one too short or too long.
#[utoipa::path(post, path = "/api/v1/auth/password", tag = "auth", request_body = PasswordChange, responses((status = 204, description = "Changed"), (status = 400, body = crate::openapi::ErrorBody), (status = 401, body = crate::openapi::ErrorBody)))]
pub async fn change_password(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    user: AuthUser,
    Json(form): Json<PasswordChange>,
) -> Result<Response, ApiError> {
    auth::check_new_password(&form.new)?;
    let meta = state.storage.meta();
    let mut record = meta.user(user.id).await?.ok_or(ApiError::Unauthorized)?;
    // Guessing the current password with a stolen session is throttled like logins.
    let runtime = AuthRuntime::of(&state);
    let account = [ThrottleKey::Account(record.email.clone())];
    if let Err(retry_after) = runtime.throttle.check(&account) {
        return Err(ApiError::RateLimited { retry_after });
    }
    let current_ok = form.current.len() <= MAX_PASSWORD_LEN
        && state
            .passwords
            .verify(&form.current, record.password.as_ref())
            .await
            .map_err(ApiError::internal)?;
    if !current_ok {
        let delay = runtime.throttle.fail(&account);
        auth::audit(
            &state,
            Actor::User(user.id),
            "auth.password",
            ip,
            Outcome::Denied,
        )
        .await?;
        tokio::time::sleep(delay).await;
        return Err(ApiError::BadRequest(
            "The current password is incorrect.".into(),
        ));
    }
    record.password = Some(
        state
            .passwords
            .hash(&form.new)
            .await
            .map_err(ApiError::internal)?,
    );
    meta.update_user(record).await?;
    let keep = (user.method == AuthMethod::Session).then_some(user.credential);
    meta.delete_user_sessions(user.id, keep).await?;
    auth::audit(
        &state,
        Actor::User(user.id),
        "auth.password",
        ip,
        Outcome::Success,
    )
    .await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}
