//! Accounts and authentication: first-administrator setup, password logins with cookie
//! sessions, API tokens for scripts, CSRF protection, login throttling and the extractors
//! ([`AuthUser`], [`AdminUser`], [`ClientIp`]) through which every handler learns who is
//! calling.
//!
//! A handler that needs a signed-in user takes [`AuthUser`] (or [`AdminUser`]) as an
//! argument: the extractor checks the credential, its expiry and, for state-changing
//! requests made with the session cookie, the CSRF token and the `Origin`. There is no way
//! to reach the handler body without passing those checks.

pub mod extract;
pub mod runtime;
pub mod session;
pub mod setup;
pub mod throttle;

use std::net::IpAddr;

use axum::Router;
use axum::routing::{delete, get, post};
use casevault_storage::{Actor, AuditEvent, Outcome};

use crate::api;
use crate::error::ApiError;
use crate::state::AppState;

pub use extract::{AdminUser, AuthMethod, AuthUser, ClientIp};
pub use runtime::{AuthPolicy, AuthRuntime};
pub use throttle::ThrottlePolicy;

/// The quota of an account created through the setup link or [`create_account`]: 50 GiB
/// (the administration command's default too).
pub const DEFAULT_USER_QUOTA: u64 = 50 << 30;

/// Shortest accepted password, in characters.
pub const MIN_PASSWORD_CHARS: usize = 12;

/// The routes of accounts, sessions and tokens (merged into [`crate::routes::router`]).
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/v1/setup", post(api::setup::post))
        .route("/api/v1/auth/login", post(api::auth::login))
        .route("/api/v1/auth/logout", post(api::auth::logout))
        .route("/api/v1/auth/logout-all", post(api::auth::logout_all))
        .route("/api/v1/auth/me", get(api::auth::me))
        .route("/api/v1/auth/password", post(api::auth::change_password))
        .route(
            "/api/v1/tokens",
            get(api::tokens::list).post(api::tokens::create),
        )
        .route("/api/v1/tokens/{id}", delete(api::tokens::delete))
}

/// Checks a new password: at least [`MIN_PASSWORD_CHARS`] characters, at most
/// [`casevault_crypto::password::MAX_PASSWORD_LEN`] bytes.
pub fn check_new_password(password: &str) -> Result<(), ApiError> {
    if password.chars().count() < MIN_PASSWORD_CHARS {
        return Err(ApiError::BadRequest(format!(
            "The password must have at least {MIN_PASSWORD_CHARS} characters."
        )));
    }
    if password.len() > casevault_crypto::password::MAX_PASSWORD_LEN {
        return Err(ApiError::BadRequest(
            "The password must not be longer than 1024 bytes.".into(),
        ));
    }
    Ok(())
}

/// Appends an authentication event to the audit log.
pub async fn audit(
    state: &AppState,
    actor: Actor,
    action: &str,
    ip: Option<IpAddr>,
    outcome: Outcome,
) -> Result<(), ApiError> {
    state
        .storage
        .meta()
        .audit(AuditEvent {
            actor,
            action: action.to_owned(),
            case: None,
            file: None,
            grant: None,
            ip,
            outcome,
        })
        .await?;
    Ok(())
}

/// Creates an account with a password (checked like any new password). For the first
/// administrator use [`setup`]; this is for administrators and tests.
pub async fn create_account(
    state: &AppState,
    email: &str,
    display_name: &str,
    password: &str,
    is_admin: bool,
) -> Result<casevault_storage::UserRecord, ApiError> {
    check_new_password(password)?;
    let hash = state
        .passwords
        .hash(password)
        .await
        .map_err(ApiError::internal)?;
    let user = casevault_storage::UserRecord {
        id: casevault_storage::UserId::random(),
        email: email.to_owned(),
        display_name: display_name.to_owned(),
        password: Some(hash),
        is_admin,
        disabled: false,
        created_at: casevault_storage::Timestamp::now(),
    };
    let user = state.storage.meta().create_user(user).await?;
    give_default_quota(state, user.id).await?;
    Ok(user)
}

/// Sets a new account's quota to [`DEFAULT_USER_QUOTA`].
pub async fn give_default_quota(
    state: &AppState,
    user: casevault_storage::UserId,
) -> Result<(), ApiError> {
    state
        .storage
        .meta()
        .set_quota_limit(
            casevault_storage::QuotaAccount::User(user),
            DEFAULT_USER_QUOTA,
        )
        .await?;
    Ok(())
}
