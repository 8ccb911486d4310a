//! The extractors that say who is calling: [`AuthUser`], [`AdminUser`] and [`ClientIp`].
//!
//! ```ignore
//! async fn handler(user: AuthUser, ClientIp(ip): ClientIp) -> Result<…, ApiError> { … }
//! async fn admin_only(AdminUser(admin): AdminUser) -> … { … }
//! ```

use std::convert::Infallible;
use std::net::IpAddr;
use std::time::Duration;

use axum::extract::FromRequestParts;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use casevault_crypto::{Token, TokenHash};
use casevault_storage::{Timestamp, UserId};

use super::runtime::AuthRuntime;
use super::session;
use crate::error::ApiError;
use crate::http::ClientAddr;
use crate::state::AppState;

/// Activity is written back to a session or token at most this often.
const TOUCH_EVERY: Duration = Duration::from_secs(60);

/// How the caller proved who they are.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AuthMethod {
    /// The `cv_session` cookie of a browser login.
    Session,
    /// `Authorization: Bearer <API token>`.
    ApiToken,
}

/// A signed-in, enabled user. Extracting it checks the credential and its timeouts and, for
/// POST/PUT/PATCH/DELETE with the session cookie, the `Origin` and the `X-CSRF-Token`:
/// 401 `unauthorized` without a valid credential, 403 `csrf_failed` when the CSRF check
/// fails. Bearer-token requests need no CSRF token (a browser never sends one by itself).
#[derive(Clone, Debug)]
pub struct AuthUser {
    /// The user.
    pub id: UserId,
    /// Server administrator.
    pub is_admin: bool,
    /// Cookie session or API token.
    pub method: AuthMethod,
    /// Hash of the session or API token used (to end this very session at logout).
    pub credential: TokenHash,
}

/// An [`AuthUser`] who is a server administrator; 403 `forbidden` for anyone else.
#[derive(Clone, Debug)]
pub struct AdminUser(pub AuthUser);

/// The client's IP address (from the TCP connection; `None` when unknown).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ClientIp(pub Option<IpAddr>);

impl<S: Send + Sync> FromRequestParts<S> for ClientIp {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Infallible> {
        Ok(ClientIp(client_ip(parts)))
    }
}

/// The client address recorded by the connection handler.
pub fn client_ip(parts: &Parts) -> Option<IpAddr> {
    parts
        .extensions
        .get::<ClientAddr>()
        .map(|addr| addr.0.ip().to_canonical())
}

impl FromRequestParts<AppState> for AuthUser {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        if let Some(user) = parts.extensions.get::<AuthUser>() {
            return Ok(user.clone());
        }
        let user = if let Some(bearer) = bearer(parts)? {
            by_api_token(state, &bearer).await?
        } else if let Some(cookie) = session::cookie_value(&parts.headers) {
            by_session(state, parts, &cookie).await?
        } else {
            return Err(ApiError::Unauthorized);
        };
        parts.extensions.insert(user.clone());
        Ok(user)
    }
}

impl FromRequestParts<AppState> for AdminUser {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let user = AuthUser::from_request_parts(parts, state).await?;
        if user.is_admin {
            Ok(AdminUser(user))
        } else {
            Err(ApiError::Forbidden)
        }
    }
}

/// The bearer token, if the request has an `Authorization` header (401 when it is not a
/// well-formed bearer token).
fn bearer(parts: &Parts) -> Result<Option<Token>, ApiError> {
    let Some(value) = parts.headers.get(AUTHORIZATION) else {
        return Ok(None);
    };
    let text = value.to_str().map_err(|_| ApiError::Unauthorized)?;
    let (scheme, token) = text.split_once(' ').ok_or(ApiError::Unauthorized)?;
    if !scheme.eq_ignore_ascii_case("bearer") {
        return Err(ApiError::Unauthorized);
    }
    Token::parse(token.trim())
        .map(Some)
        .map_err(|_| ApiError::Unauthorized)
}

async fn by_api_token(state: &AppState, token: &Token) -> Result<AuthUser, ApiError> {
    let meta = state.storage.meta();
    let hash = token.hash();
    let record = meta.api_token(hash).await?.ok_or(ApiError::Unauthorized)?;
    let user = enabled_user(state, record.user).await?;
    let now = AuthRuntime::of(state).now();
    if record
        .last_used
        .is_none_or(|t| since(t, now) >= TOUCH_EVERY)
    {
        meta.touch_api_token(hash, now).await?;
    }
    Ok(AuthUser {
        id: user.0,
        is_admin: user.1,
        method: AuthMethod::ApiToken,
        credential: hash,
    })
}

async fn by_session(state: &AppState, parts: &Parts, cookie: &str) -> Result<AuthUser, ApiError> {
    let token = Token::parse(cookie).map_err(|_| ApiError::Unauthorized)?;
    let meta = state.storage.meta();
    let hash = token.hash();
    let record = meta.session(hash).await?.ok_or(ApiError::Unauthorized)?;
    let runtime = AuthRuntime::of(state);
    let now = runtime.now();
    let policy = runtime.policy();
    if since(record.last_seen, now) > policy.idle_timeout
        || since(record.created_at, now) > policy.absolute_timeout
    {
        meta.delete_session(hash).await?;
        return Err(ApiError::Unauthorized);
    }
    let user = enabled_user(state, record.user).await?;
    let verified = parts.method.is_safe()
        || (session::origin_ok(&parts.headers, state) && session::csrf_ok(&parts.headers, cookie));
    if !verified {
        return Err(ApiError::CsrfFailed);
    }
    if since(record.last_seen, now) >= TOUCH_EVERY {
        meta.touch_session(hash, now).await?;
    }
    Ok(AuthUser {
        id: user.0,
        is_admin: user.1,
        method: AuthMethod::Session,
        credential: hash,
    })
}

/// The user's id and admin flag; 401 when the account is gone or disabled.
async fn enabled_user(state: &AppState, id: UserId) -> Result<(UserId, bool), ApiError> {
    match state.storage.meta().user(id).await? {
        Some(user) if !user.disabled => Ok((user.id, user.is_admin)),
        _ => Err(ApiError::Unauthorized),
    }
}

/// Time from `then` to `now` (zero if `then` is later).
fn since(then: Timestamp, now: Timestamp) -> Duration {
    Duration::from_millis(u64::try_from(now.0.saturating_sub(then.0)).unwrap_or(0))
}
