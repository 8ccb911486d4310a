//! The web interface's routes: the pages, their static assets and the HTML 404. Each page is
//! a shell from the `casevault-web` crate; its script does the work through the JSON API, so
//! the rules live in one place.

use axum::Router;
use axum::extract::{OriginalUri, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use casevault_web::{Lang, Page, Shell, Viewer, asset};
use serde::Deserialize;

use crate::auth::session;
use crate::auth::{AuthMethod, AuthUser};
use crate::error::ApiError;
use crate::extract::Path;
use crate::state::AppState;

/// The cookie that remembers the language chosen with the switch.
const LANG_COOKIE: &str = "cv_lang";

/// The page routes (merged into [`crate::routes::router`]).
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/", get(home))
        .route(
            "/login",
            get(|s, h, q, o, u| page(Page::Login, s, h, q, o, u)),
        )
        .route(
            "/setup",
            get(|s, h, q, o, u| page(Page::Setup, s, h, q, o, u)),
        )
        .route(
            "/cases",
            get(|s, h, q, o, u| page(Page::Cases, s, h, q, o, u)),
        )
        .route("/cases/{case}", get(case_page))
        .route(
            "/shares",
            get(|s, h, q, o, u| page(Page::Shares, s, h, q, o, u)),
        )
        .route(
            "/account",
            get(|s, h, q, o, u| page(Page::Account, s, h, q, o, u)),
        )
        .route("/org", get(|s, h, q, o, u| page(Page::Org, s, h, q, o, u)))
        .route("/s/{token}", get(link_page))
        .route(
            "/invite",
            get(|s, h, q, o, u| page(Page::Invite, s, h, q, o, u)),
        )
        .route("/static/{*path}", get(static_file))
}

/// The page query: only the language switch.
#[derive(Debug, Default, Deserialize)]
pub struct PageQuery {
    lang: Option<String>,
}

type MaybeUser = Result<AuthUser, ApiError>;

async fn home(user: MaybeUser) -> Redirect {
    match user {
        Ok(_) => Redirect::to("/cases"),
        Err(_) => Redirect::to("/login"),
    }
}

async fn case_page(
    state: State<AppState>,
    headers: HeaderMap,
    query: Query<PageQuery>,
    original: OriginalUri,
    user: MaybeUser,
    Path(_case): Path<String>,
) -> Response {
    page(Page::Case, state, headers, query, original, user).await
}

async fn link_page(
    state: State<AppState>,
    headers: HeaderMap,
    query: Query<PageQuery>,
    original: OriginalUri,
    user: MaybeUser,
    Path(_token): Path<String>,
) -> Response {
    page(Page::Link, state, headers, query, original, user).await
}

/// Renders `page` for the caller: signed-in pages send anonymous visitors to the sign-in
/// page (and back afterwards), the sign-in page sends signed-in users to their cases.
async fn page(
    which: Page,
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(query): Query<PageQuery>,
    OriginalUri(uri): OriginalUri,
    user: MaybeUser,
) -> Response {
    let chosen = query.lang.as_deref().and_then(Lang::from_code);
    let lang = Lang::negotiate(
        chosen
            .map(Lang::code)
            .or_else(|| session::cookie(&headers, LANG_COOKIE)),
        headers
            .get(header::ACCEPT_LANGUAGE)
            .and_then(|v| v.to_str().ok()),
    );
    let user = user.ok();
    if which == Page::Login && user.is_some() {
        return Redirect::to("/cases").into_response();
    }
    let mut shell = Shell::new(lang, which);
    match (&user, which.needs_sign_in()) {
        (None, true) => {
            let next = uri.path_and_query().map_or("/", |p| p.as_str());
            return Redirect::to(&format!("/login?next={}", percent_encode(next))).into_response();
        }
        (Some(user), _) => match viewer(&state, user, &headers).await {
            Ok(Some(viewer)) => shell = shell.signed_in(viewer),
            Ok(None) => {}
            Err(err) => return err.into_response(),
        },
        (None, false) => {}
    }
    let mut response = html(StatusCode::OK, &shell);
    if let Some(lang) = chosen {
        let cookie = format!(
            "{LANG_COOKIE}={}; Path=/; Max-Age=31536000; Secure; SameSite=Lax",
            lang.code()
        );
        if let Ok(value) = HeaderValue::try_from(cookie) {
            response.headers_mut().append(header::SET_COOKIE, value);
        }
    }
    response
}

/// What the layout shows of a signed-in user. Only cookie sessions get pages with a CSRF
/// token; a page opened with an API token renders as signed out.
async fn viewer(
    state: &AppState,
    user: &AuthUser,
    headers: &HeaderMap,
) -> Result<Option<Viewer>, ApiError> {
    if user.method != AuthMethod::Session {
        return Ok(None);
    }
    let Some(cookie) = session::cookie_value(headers) else {
        return Ok(None);
    };
    let Some(record) = state.storage.meta().user(user.id).await? else {
        return Ok(None);
    };
    Ok(Some(Viewer {
        id: record.id.to_string(),
        name: record.display_name,
        is_admin: record.is_admin,
        csrf: session::csrf_token(&cookie),
    }))
}

fn html(status: StatusCode, shell: &Shell) -> Response {
    match shell.render() {
        Ok(body) => (
            status,
            [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
            body,
        )
            .into_response(),
        Err(err) => ApiError::internal(format!("page template: {err}")).into_response(),
    }
}

/// The HTML 404 for paths outside the API, in the visitor's language.
pub fn not_found(headers: &HeaderMap) -> Response {
    let lang = Lang::negotiate(
        session::cookie(headers, LANG_COOKIE),
        headers
            .get(header::ACCEPT_LANGUAGE)
            .and_then(|v| v.to_str().ok()),
    );
    html(StatusCode::NOT_FOUND, &Shell::new(lang, Page::NotFound))
}

/// An embedded asset, revalidated with its ETag.
async fn static_file(Path(path): Path<String>, headers: HeaderMap) -> Response {
    let Some(file) = asset(&path) else {
        return not_found(&headers);
    };
    let fresh = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|tags| tags.split(',').any(|t| t.trim() == file.etag));
    let etag = HeaderValue::from_str(&file.etag).ok();
    let mut response = if fresh {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        ([(header::CONTENT_TYPE, file.content_type)], file.bytes).into_response()
    };
    let headers = response.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    if let Some(etag) = etag {
        headers.insert(header::ETAG, etag);
    }
    response
}

/// Percent-encodes everything but unreserved characters, for a query value.
fn percent_encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~/".contains(&byte) {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}
