//! `POST /api/v1/setup`: creates the first administrator with the one-time setup token and
//! signs them in.

use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use casevault_crypto::Token;
use casevault_storage::{Actor, Outcome, StorageError, Timestamp, UserId, UserRecord};
use serde::Deserialize;
use utoipa::ToSchema;

use crate::auth::{self, ClientIp, session};
use crate::error::ApiError;
use crate::extract::Json;
use crate::state::AppState;

/// The setup form.
#[derive(Deserialize, ToSchema)]
pub struct SetupRequest {
    /// The token from the setup link.
    pub token: String,
    /// The administrator's e-mail.
    pub email: String,
    /// The administrator's name.
    pub display_name: String,
    /// The administrator's password.
    pub password: String,
}

/// Creates the administrator (201, session cookie); 403 when the token is wrong or used.
#[utoipa::path(post, path = "/api/v1/setup", tag = "auth", request_body = SetupRequest, responses((status = 201, body = crate::api::auth::SessionBody), (status = 403, body = crate::openapi::ErrorBody)))]
pub async fn post(
    axum::extract::State(state): axum::extract::State<AppState>,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    Json(form): Json<SetupRequest>,
) -> Result<Response, ApiError> {
    session::require_origin(&headers, &state)?;
    let Ok(token) = Token::parse(form.token.trim()) else {
        return Err(ApiError::Forbidden);
    };
    let display_name = super::auth::check_display_name(&form.display_name)?;
    auth::check_new_password(&form.password)?;
    let password = state
        .passwords
        .hash(&form.password)
        .await
        .map_err(ApiError::internal)?;
    let user = UserRecord {
        id: UserId::random(),
        email: form.email,
        display_name,
        password: Some(password),
        is_admin: true,
        disabled: false,
        created_at: Timestamp::now(),
    };
    let user = match state
        .storage
        .meta()
        .complete_setup(token.hash(), user)
        .await
    {
        Ok(user) => user,
        Err(StorageError::NotFound(_)) => {
            auth::audit(&state, Actor::System, "auth.setup", ip, Outcome::Denied).await?;
            return Err(ApiError::Forbidden);
        }
        Err(StorageError::Invalid(_)) => {
            return Err(ApiError::BadRequest(
                "The e-mail address is not valid.".into(),
            ));
        }
        Err(err) => return Err(err.into()),
    };
    auth::give_default_quota(&state, user.id).await?;
    auth::audit(
        &state,
        Actor::User(user.id),
        "auth.setup",
        ip,
        Outcome::Success,
    )
    .await?;
    let new = session::start(&state, user.id, ip).await?;
    Ok(super::auth::signed_in(StatusCode::CREATED, &user, new))
}
