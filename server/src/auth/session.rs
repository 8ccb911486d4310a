//! Session cookies, CSRF tokens and the `Origin` check.
//!
//! The cookie `cv_session` carries a fresh 256-bit token at every login (rotation); only
//! its SHA-256 is stored. The CSRF token is derived from the session token
//! (SHA-256 of a label and the token), so it needs no storage, changes with every session
//! and can be handed out again by `GET /api/v1/auth/me` after a page reload.

use std::net::IpAddr;

use axum::http::header::{COOKIE, ORIGIN};
use axum::http::{HeaderMap, HeaderValue};
use casevault_crypto::{Token, TokenHash, sha256};
use casevault_storage::UserId;
use casevault_storage::meta::SessionRecord;

use super::runtime::AuthRuntime;
use crate::error::ApiError;
use crate::state::AppState;

/// Name of the session cookie.
pub const COOKIE_NAME: &str = "cv_session";

/// Header carrying the CSRF token on state-changing requests.
pub const CSRF_HEADER: &str = "x-csrf-token";

/// The `Set-Cookie` value that installs a session token.
pub fn set_cookie(token: &Token) -> HeaderValue {
    let text = format!(
        "{COOKIE_NAME}={}; Path=/; Secure; HttpOnly; SameSite=Strict",
        token.as_str()
    );
    HeaderValue::try_from(text).unwrap_or_else(|_| clear_cookie())
}

/// The `Set-Cookie` value that removes the session cookie.
pub fn clear_cookie() -> HeaderValue {
    HeaderValue::from_static("cv_session=; Path=/; Max-Age=0; Secure; HttpOnly; SameSite=Strict")
}

/// The value of the session cookie, if the request has one.
pub fn cookie_value(headers: &HeaderMap) -> Option<String> {
    cookie(headers, COOKIE_NAME).map(str::to_owned)
}

/// The value of the cookie `name`, if the request has one.
pub fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(key, _)| *key == name)
        .map(|(_, value)| value.trim())
}

/// The CSRF token that belongs to a session token (its text form).
pub fn csrf_token(session_token: &str) -> String {
    let digest = sha256(format!("casevault csrf v1\0{session_token}").as_bytes());
    TokenHash(digest).to_hex()
}

/// Whether the request's `X-CSRF-Token` matches the session (constant-time).
pub fn csrf_ok(headers: &HeaderMap, session_token: &str) -> bool {
    let Some(sent) = headers.get(CSRF_HEADER) else {
        return false;
    };
    casevault_crypto::ct_eq(sent.as_bytes(), csrf_token(session_token).as_bytes())
}

/// The origin (`scheme://host[:port]`) of the public URL.
pub fn public_origin(public_url: &str) -> &str {
    let after_scheme = public_url.find("://").map_or(0, |i| i + 3);
    match public_url[after_scheme..].find('/') {
        Some(slash) => &public_url[..after_scheme + slash],
        None => public_url,
    }
}

/// `false` when the request has an `Origin` header that is not the public URL's origin.
pub fn origin_ok(headers: &HeaderMap, state: &AppState) -> bool {
    match headers.get(ORIGIN) {
        None => true,
        Some(origin) => origin
            .to_str()
            .is_ok_and(|o| o.eq_ignore_ascii_case(public_origin(&state.public_url))),
    }
}

/// Refuses (403 `csrf_failed`) a request from a foreign origin.
pub fn require_origin(headers: &HeaderMap, state: &AppState) -> Result<(), ApiError> {
    if origin_ok(headers, state) {
        Ok(())
    } else {
        Err(ApiError::CsrfFailed)
    }
}

/// A session just created: the cookie token and its CSRF token.
pub struct NewSession {
    /// The secret that goes into the cookie.
    pub token: Token,
    /// The CSRF token to send back with state-changing requests.
    pub csrf_token: String,
}

/// Starts a new session for `user`.
pub async fn start(
    state: &AppState,
    user: UserId,
    ip: Option<IpAddr>,
) -> Result<NewSession, ApiError> {
    let token = Token::generate();
    let now = AuthRuntime::of(state).now();
    let record = SessionRecord {
        user,
        created_at: now,
        last_seen: now,
        ip,
    };
    state
        .storage
        .meta()
        .create_session(token.hash(), record)
        .await?;
    let csrf_token = csrf_token(&token.as_str());
    Ok(NewSession { token, csrf_token })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_origin_is_scheme_host_and_port() {
        assert_eq!(
            public_origin("https://files.example.org"),
            "https://files.example.org"
        );
        assert_eq!(
            public_origin("https://files.example.org:8443/casevault"),
            "https://files.example.org:8443"
        );
    }

    #[test]
    fn the_session_cookie_is_found_among_others() {
        let mut headers = HeaderMap::new();
        headers.append(COOKIE, HeaderValue::from_static("theme=dark"));
        headers.append(
            COOKIE,
            HeaderValue::from_static("a=1; cv_session=abc ; b=2"),
        );
        assert_eq!(cookie_value(&headers).as_deref(), Some("abc"));
        assert_eq!(cookie_value(&HeaderMap::new()), None);
    }

    #[test]
    fn the_csrf_token_belongs_to_its_session() {
        let token = Token::generate().as_str();
        let mut headers = HeaderMap::new();
        assert!(!csrf_ok(&headers, &token));
        let csrf = HeaderValue::try_from(csrf_token(&token)).expect("header value");
        headers.insert(CSRF_HEADER, csrf);
        assert!(csrf_ok(&headers, &token));
        assert!(!csrf_ok(&headers, &Token::generate().as_str()));
    }

    #[test]
    fn the_cookie_is_secure_http_only_and_strict() {
        let cookie = set_cookie(&Token::generate());
        let text = cookie.to_str().expect("ASCII");
        assert!(text.ends_with("; Path=/; Secure; HttpOnly; SameSite=Strict"));
    }
}
