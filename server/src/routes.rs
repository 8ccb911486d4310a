//! The route table: every path the server answers, in one place.

use axum::Router;
use axum::http::{HeaderMap, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, head, patch, post};

use crate::api;
use crate::error::ApiError;
use crate::http::middleware;
use crate::state::AppState;

/// The whole application: routes, fallbacks and the middleware stack.
pub fn router(state: AppState) -> Router {
    let app = Router::new()
        .route("/api/v1/health", get(api::health::get))
        .route("/api/v1/quota", get(api::quota::get))
        .route(
            "/api/v1/preferences",
            get(api::preferences::get).patch(api::preferences::update),
        )
        .route("/api/v1/colleagues", get(api::colleagues::list))
        .merge(org_routes())
        .route("/api/v1/openapi.json", get(crate::openapi::document))
        .merge(crate::auth::routes())
        .merge(case_routes())
        .merge(share_routes())
        .merge(crate::pages::routes())
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .with_state(state);
    middleware::apply(app)
}

/// Cases, their folders and files.
fn case_routes() -> Router<AppState> {
    use api::{cases, download, files, folders, uploads, zip};
    Router::new()
        .route("/api/v1/cases", get(cases::list).post(cases::create))
        .route(
            "/api/v1/cases/{case}",
            get(cases::get).patch(cases::update).delete(cases::delete),
        )
        .route("/api/v1/cases/{case}/history", get(cases::history))
        .route("/api/v1/cases/{case}/tree", get(files::tree))
        .route("/api/v1/cases/{case}/zip", get(zip::case))
        .route(
            "/api/v1/cases/{case}/folders/{folder}/zip",
            get(zip::folder),
        )
        .route("/api/v1/cases/{case}/folders", post(folders::create))
        .route(
            "/api/v1/cases/{case}/folders/{folder}",
            patch(folders::update).delete(folders::delete),
        )
        .route("/api/v1/cases/{case}/files", post(files::upload))
        .route(
            "/api/v1/cases/{case}/files/{file}",
            get(files::get).patch(files::update).delete(files::delete),
        )
        .route(
            "/api/v1/cases/{case}/files/{file}/content",
            get(download::content),
        )
        .route(
            "/api/v1/uploads",
            post(uploads::create).options(uploads::options),
        )
        .route(
            "/api/v1/uploads/{id}",
            head(uploads::head)
                .patch(uploads::patch)
                .delete(uploads::delete),
        )
}

/// Organisations, their members and invitations.
fn org_routes() -> Router<AppState> {
    use api::orgs;
    Router::new()
        .route("/api/v1/orgs", get(orgs::list))
        .route("/api/v1/orgs/{org}", get(orgs::get))
        .route("/api/v1/orgs/{org}/members", post(orgs::add_member))
        .route(
            "/api/v1/orgs/{org}/members/{user}",
            patch(orgs::update_member).delete(orgs::remove_member),
        )
        .route(
            "/api/v1/orgs/{org}/invitations/{id}",
            axum::routing::delete(orgs::withdraw_invitation),
        )
        .route(
            "/api/v1/invitations/{token}",
            get(orgs::invitation).post(orgs::accept),
        )
}

/// Shares: the owner's side and the recipients' links.
fn share_routes() -> Router<AppState> {
    use api::{grants, links};
    Router::new()
        .route("/api/v1/grants", get(grants::list).post(grants::create))
        .route("/api/v1/grants/revoke", post(grants::revoke_many))
        .route(
            "/api/v1/grants/{grant}",
            get(grants::get)
                .patch(grants::update)
                .delete(grants::revoke),
        )
        .route("/api/v1/grants/{grant}/history", get(grants::history))
        .route("/api/v1/shared-with-me", get(grants::shared_with_me))
        .route("/api/v1/links/{token}", get(links::probe))
        .route("/api/v1/links/{token}/session", post(links::unlock))
        .route("/api/v1/link", get(links::current))
        .route("/api/v1/link/tree", get(links::tree))
        .route("/api/v1/link/zip", get(links::zip))
        .route("/api/v1/link/files", post(links::upload))
        .route("/api/v1/link/files/{file}/content", get(links::content))
        .route("/api/v1/link/receipt", post(links::receipt))
        .route("/api/v1/link/logout", post(links::logout))
}

/// Unknown paths: the JSON 404 under `/api/`, the web interface's page elsewhere.
async fn not_found(uri: Uri, headers: HeaderMap) -> Response {
    let path = uri.path();
    if path == "/api" || path.starts_with("/api/") {
        ApiError::NotFound.into_response()
    } else {
        crate::pages::not_found(&headers)
    }
}

/// Known path, unknown method: the JSON 405.
async fn method_not_allowed() -> ApiError {
    ApiError::MethodNotAllowed
}
