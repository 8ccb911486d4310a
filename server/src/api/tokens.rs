//! API tokens for scripts: `POST /api/v1/tokens` (the secret is shown once),
//! `GET /api/v1/tokens`, `DELETE /api/v1/tokens/{id}`.

use axum::extract::State;
use axum::http::StatusCode;
use casevault_crypto::Token;
use casevault_storage::meta::{ApiTokenId, ApiTokenRecord};
use casevault_storage::{Actor, Outcome};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::auth::{self, AuthRuntime, AuthUser, ClientIp};
use crate::error::ApiError;
use crate::extract::{Json, Path};
use crate::state::AppState;

/// Longest token name, in characters.
const MAX_NAME_CHARS: usize = 100;

/// The creation form.
#[derive(Deserialize, ToSchema)]
pub struct NewToken {
    /// A label for the token, e.g. the script that uses it.
    pub name: String,
}

/// A token just created: the only time its secret is shown.
#[derive(Serialize, ToSchema)]
pub struct CreatedToken {
    /// The token's id.
    pub id: String,
    /// Its label.
    pub name: String,
    /// The secret, for `Authorization: Bearer …`.
    pub token: String,
}

/// A token in a list (no secret).
#[derive(Serialize, ToSchema)]
pub struct TokenView {
    /// The token's id.
    pub id: String,
    /// Its label.
    pub name: String,
    /// Creation time, milliseconds since the Unix epoch.
    pub created_at: i64,
    /// Last use, milliseconds since the Unix epoch.
    pub last_used: Option<i64>,
}

impl From<ApiTokenRecord> for TokenView {
    fn from(record: ApiTokenRecord) -> Self {
        Self {
            id: record.id.to_string(),
            name: record.name,
            created_at: record.created_at.0,
            last_used: record.last_used.map(|t| t.0),
        }
    }
}

/// Creates a token (201).
#[utoipa::path(post, path = "/api/v1/tokens", tag = "auth", request_body = NewToken, responses((status = 201, body = CreatedToken), (status = 400, body = crate::openapi::ErrorBody), (status = 401, body = crate::openapi::ErrorBody)))]
pub async fn create(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    user: AuthUser,
    Json(form): Json<NewToken>,
) -> Result<(StatusCode, Json<CreatedToken>), ApiError> {
    let name = form.name.trim().to_owned();
    if name.is_empty()
        || name.chars().count() > MAX_NAME_CHARS
        || name.chars().any(char::is_control)
    {
        return Err(ApiError::BadRequest(format!(
            "The token name must have 1 to {MAX_NAME_CHARS} printable characters."
        )));
    }
    let token = Token::generate();
    let record = ApiTokenRecord {
        id: ApiTokenId::random(),
        user: user.id,
        name,
        created_at: AuthRuntime::of(&state).now(),
        last_used: None,
    };
    let created = CreatedToken {
        id: record.id.to_string(),
        name: record.name.clone(),
        token: token.as_str(),
    };
    state
        .storage
        .meta()
        .create_api_token(token.hash(), record)
        .await?;
    auth::audit(
        &state,
        Actor::User(user.id),
        "token.create",
        ip,
        Outcome::Success,
    )
    .await?;
    Ok((StatusCode::CREATED, Json(created)))
}

/// The caller's tokens, without secrets.
#[utoipa::path(get, path = "/api/v1/tokens", tag = "auth", responses((status = 200, body = Vec<TokenView>), (status = 401, body = crate::openapi::ErrorBody)))]
pub async fn list(
    State(state): State<AppState>,
    user: AuthUser,
) -> Result<Json<Vec<TokenView>>, ApiError> {
    let tokens = state.storage.meta().api_tokens_of(user.id).await?;
    Ok(Json(tokens.into_iter().map(TokenView::from).collect()))
}

/// Revokes one of the caller's tokens (204; 404 when the caller has no such token).
#[utoipa::path(delete, path = "/api/v1/tokens/{id}", tag = "auth", params(("id" = String, Path, description = "The id's id")), responses((status = 204, description = "Revoked"), (status = 404, body = crate::openapi::ErrorBody)))]
pub async fn delete(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    user: AuthUser,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let id: ApiTokenId = id.parse().map_err(|_| ApiError::NotFound)?;
    if !state.storage.meta().delete_api_token(user.id, id).await? {
        return Err(ApiError::NotFound);
    }
    auth::audit(
        &state,
        Actor::User(user.id),
        "token.delete",
        ip,
        Outcome::Success,
    )
    .await?;
    Ok(StatusCode::NO_CONTENT)
}
