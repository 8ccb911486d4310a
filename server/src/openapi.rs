//! The OpenAPI 3 description of the API, generated from the handlers' `#[utoipa::path]`
//! attributes and the request and response types, served at `GET /api/v1/openapi.json`.

use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::{OpenApi, ToSchema};

use crate::api;

/// The error body every failure answers with.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorBody {
    /// The error.
    pub error: ErrorDetail,
}

/// What went wrong.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorDetail {
    /// A stable code for programs, e.g. `not_found`, `quota_exceeded`.
    pub code: String,
    /// A sentence for people.
    pub message: String,
}

/// The API description.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "casevault",
        description = "Encrypted case folders for medical and dental practices. Sign in with \
            `POST /api/v1/auth/login` (a session cookie, and `X-CSRF-Token` on changes) or send \
            a personal API token as `Authorization: Bearer …`."
    ),
    paths(
        api::health::get,
        api::setup::post,
        api::auth::login,
        api::auth::logout,
        api::auth::logout_all,
        api::auth::me,
        api::auth::change_password,
        api::tokens::create,
        api::tokens::list,
        api::tokens::delete,
        api::quota::get,
        api::preferences::get,
        api::preferences::update,
        api::colleagues::list,
        api::orgs::list,
        api::orgs::get,
        api::orgs::add_member,
        api::orgs::update_member,
        api::orgs::remove_member,
        api::orgs::withdraw_invitation,
        api::orgs::invitation,
        api::orgs::accept,
        api::cases::list,
        api::cases::create,
        api::cases::get,
        api::cases::update,
        api::cases::delete,
        api::cases::history,
        api::files::tree,
        api::files::upload,
        api::files::get,
        api::files::update,
        api::files::delete,
        api::download::content,
        api::folders::create,
        api::folders::update,
        api::folders::delete,
        api::uploads::options,
        api::uploads::create,
        api::uploads::head,
        api::uploads::patch,
        api::uploads::delete,
        api::zip::case,
        api::zip::folder,
        api::grants::create,
        api::grants::list,
        api::grants::get,
        api::grants::update,
        api::grants::revoke,
        api::grants::history,
        api::grants::revoke_many,
        api::grants::shared_with_me,
        api::links::probe,
        api::links::unlock,
        api::links::current,
        api::links::tree,
        api::links::content,
        api::links::zip,
        api::links::upload,
        api::links::receipt,
        api::links::logout,
    ),
    components(schemas(ErrorBody, ErrorDetail))
)]
pub struct ApiDoc;

/// `GET /api/v1/openapi.json`.
pub async fn document() -> Response {
    axum::Json(ApiDoc::openapi()).into_response()
}
