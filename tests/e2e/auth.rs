//! Accounts and authentication: first-administrator setup, logins and their cookie, CSRF,
//! API tokens, logout, password change, throttling, session timeouts and audit entries.

use std::time::Duration;

use casevault_server::AppState;
use casevault_server::auth::setup::ensure_setup_token;
use casevault_server::auth::{AuthPolicy, AuthRuntime, ThrottlePolicy};
use casevault_tests::{
    ADMIN_EMAIL, ADMIN_PASSWORD, Session, TestApp, login, spawn_app_with_admin,
    spawn_app_with_state, try_login,
};
use serde_json::{Value, json};

async fn me(app: &TestApp, session: &Session) -> reqwest::Response {
    session
        .get(app, "/api/v1/auth/me")
        .send()
        .await
        .expect("GET /me")
}

async fn bearer_me(app: &TestApp, token: &str) -> reqwest::Response {
    app.client
        .get(app.url("/api/v1/auth/me"))
        .bearer_auth(token)
        .send()
        .await
        .expect("GET /me with a bearer token")
}

async fn new_api_token(app: &TestApp, session: &Session, name: &str) -> Value {
    let response = session
        .post(app, "/api/v1/tokens")
        .json(&json!({ "name": name }))
        .send()
        .await
        .expect("POST /tokens");
    assert_eq!(response.status(), 201);
    response.json().await.expect("JSON body")
}

async fn error_code(response: reqwest::Response) -> String {
    let body: Value = response.json().await.expect("JSON error body");
    body["error"]["code"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

async fn audit_actions(state: &AppState) -> Vec<(String, String)> {
    state
        .storage
        .meta()
        .recent_audit(100)
        .await
        .expect("read the audit log")
        .into_iter()
        .map(|e| (e.event.action, format!("{:?}", e.event.outcome)))
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn the_setup_link_creates_the_administrator_exactly_once() {
    let (app, state) = spawn_app_with_state(|_| {}).await;
    let token = ensure_setup_token(&state)
        .await
        .expect("setup token")
        .expect("no account yet");
    let form = json!({
        "token": token.as_str(),
        "email": ADMIN_EMAIL,
        "display_name": "Admin",
        "password": ADMIN_PASSWORD,
    });
    let response = app.post_json("/api/v1/setup", &form).await;
    assert_eq!(response.status(), 201);
    let session = Session::from_response(response).await;
    let body: Value = me(&app, &session).await.json().await.expect("JSON");
    assert_eq!(body["user"]["email"], ADMIN_EMAIL);
    assert_eq!(body["user"]["is_admin"], true);

    let again = app.post_json("/api/v1/setup", &form).await;
    assert_eq!(again.status(), 403);
    assert!(ensure_setup_token(&state).await.expect("check").is_none());
    assert!(
        audit_actions(&state)
            .await
            .contains(&("auth.setup".into(), "Success".into()))
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn setup_refuses_a_wrong_token_and_a_short_password() {
    let (app, state) = spawn_app_with_state(|_| {}).await;
    let token = ensure_setup_token(&state)
        .await
        .expect("test step")
        .expect("test step");
    let wrong = casevault_server::auth::setup::ensure_setup_token(&state)
        .await
        .expect("test step")
        .expect("test step");
    // The second call replaced the first token: the first no longer works.
    let form = |token: &str, password: &str| json!({ "token": token, "email": ADMIN_EMAIL, "display_name": "A", "password": password });
    let response = app
        .post_json("/api/v1/setup", &form(&token.as_str(), ADMIN_PASSWORD))
        .await;
    assert_eq!(response.status(), 403);
    let response = app
        .post_json("/api/v1/setup", &form(&wrong.as_str(), "short"))
        .await;
    assert_eq!(response.status(), 400);
    let response = app
        .post_json("/api/v1/setup", &form(&wrong.as_str(), ADMIN_PASSWORD))
        .await;
    assert_eq!(response.status(), 201);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_setup_link_is_void_once_an_account_exists() {
    let (app, state) = spawn_app_with_state(|_| {}).await;
    let token = ensure_setup_token(&state)
        .await
        .expect("setup token")
        .expect("no account yet");
    // An administrator created otherwise (e.g. from the command line) voids the link.
    casevault_server::auth::create_account(
        &state,
        "b@example-clinic.org",
        "B",
        ADMIN_PASSWORD,
        true,
    )
    .await
    .expect("create an account");
    let form = json!({
        "token": token.as_str(),
        "email": ADMIN_EMAIL,
        "display_name": "Admin",
        "password": ADMIN_PASSWORD,
    });
    assert_eq!(app.post_json("/api/v1/setup", &form).await.status(), 403);
    assert!(ensure_setup_token(&state).await.expect("check").is_none());
}

#[tokio::test(flavor = "multi_thread")]
async fn login_sets_a_strict_cookie_with_a_new_token_each_time() {
    let (app, _state, _admin) = spawn_app_with_admin().await;
    let response = try_login(&app, "ADMIN@example-clinic.org", ADMIN_PASSWORD).await;
    assert_eq!(response.status(), 200);
    let cookie = response.headers()["set-cookie"]
        .to_str()
        .expect("test step")
        .to_owned();
    for attribute in ["Path=/", "Secure", "HttpOnly", "SameSite=Strict"] {
        assert!(
            cookie.split("; ").any(|a| a == attribute),
            "{attribute} in {cookie}"
        );
    }
    let first = Session::from_response(response).await;
    let second = login(&app, ADMIN_EMAIL, ADMIN_PASSWORD).await;
    assert_ne!(first.token, second.token);
    assert_ne!(first.csrf, second.csrf);
    assert_eq!(me(&app, &first).await.status(), 200);
    assert_eq!(me(&app, &second).await.status(), 200);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_wrong_password_and_an_unknown_account_get_the_same_answer() {
    let (app, state, _admin) = spawn_app_with_admin().await;
    let wrong = try_login(&app, ADMIN_EMAIL, "not the right password").await;
    let unknown = try_login(&app, "nobody@example-clinic.org", "not the right password").await;
    assert_eq!(wrong.status(), 401);
    assert_eq!(unknown.status(), 401);
    let wrong = wrong.bytes().await.expect("test step");
    let unknown = unknown.bytes().await.expect("test step");
    assert_eq!(wrong, unknown);
    let body: Value = serde_json::from_slice(&wrong).expect("test step");
    assert_eq!(
        body,
        json!({"error":{"code":"invalid_credentials","message":"The e-mail or password is incorrect."}})
    );
    login(&app, ADMIN_EMAIL, ADMIN_PASSWORD).await;
    let actions = audit_actions(&state).await;
    assert!(actions.contains(&("auth.login".into(), "Denied".into())));
    assert!(actions.contains(&("auth.login".into(), "Success".into())));
}

#[tokio::test(flavor = "multi_thread")]
async fn me_with_a_cookie_with_a_bearer_token_and_without() {
    let (app, _state, admin) = spawn_app_with_admin().await;
    let body: Value = me(&app, &admin).await.json().await.expect("test step");
    assert_eq!(body["user"]["id"], admin.user_id.as_str());
    assert_eq!(body["csrf_token"], admin.csrf.as_str());

    let token = new_api_token(&app, &admin, "backup script").await;
    let response = bearer_me(&app, token["token"].as_str().expect("test step")).await;
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.expect("test step");
    assert_eq!(body["user"]["id"], admin.user_id.as_str());
    assert_eq!(body["csrf_token"], Value::Null);

    let response = app.get("/api/v1/auth/me").await;
    assert_eq!(response.status(), 401);
    assert_eq!(error_code(response).await, "unauthorized");
    let forged = Session {
        token: "A".repeat(43),
        ..admin.clone()
    };
    assert_eq!(me(&app, &forged).await.status(), 401);
    assert_eq!(bearer_me(&app, "not-a-token").await.status(), 401);
}

#[tokio::test(flavor = "multi_thread")]
async fn cookie_posts_need_the_csrf_token_and_the_right_origin() {
    let (app, _state, admin) = spawn_app_with_admin().await;
    let url = app.url("/api/v1/tokens");
    let body = json!({ "name": "t" });

    let without = app
        .client
        .post(&url)
        .header("cookie", admin.cookie())
        .json(&body)
        .send()
        .await
        .expect("test step");
    assert_eq!(without.status(), 403);
    assert_eq!(error_code(without).await, "csrf_failed");

    let wrong = app
        .client
        .post(&url)
        .header("cookie", admin.cookie())
        .header("x-csrf-token", "0".repeat(64))
        .json(&body)
        .send()
        .await
        .expect("test step");
    assert_eq!(wrong.status(), 403);

    let foreign = admin
        .post(&app, "/api/v1/tokens")
        .header("origin", "https://evil.example")
        .json(&body)
        .send()
        .await
        .expect("test step");
    assert_eq!(foreign.status(), 403);
    assert_eq!(error_code(foreign).await, "csrf_failed");

    let same_origin = admin
        .post(&app, "/api/v1/tokens")
        .header("origin", app.address.as_str())
        .json(&body)
        .send()
        .await
        .expect("test step");
    assert_eq!(same_origin.status(), 201);

    let foreign_login = app
        .client
        .post(app.url("/api/v1/auth/login"))
        .header("origin", "https://evil.example")
        .json(&json!({ "email": ADMIN_EMAIL, "password": ADMIN_PASSWORD }))
        .send()
        .await
        .expect("test step");
    assert_eq!(foreign_login.status(), 403);
}

#[tokio::test(flavor = "multi_thread")]
async fn bearer_requests_need_no_csrf_token() {
    let (app, _state, admin) = spawn_app_with_admin().await;
    let token = new_api_token(&app, &admin, "script").await;
    let secret = token["token"].as_str().expect("test step");
    let response = app
        .client
        .post(app.url("/api/v1/tokens"))
        .bearer_auth(secret)
        .json(&json!({ "name": "made by a script" }))
        .send()
        .await
        .expect("test step");
    assert_eq!(response.status(), 201);
}

#[tokio::test(flavor = "multi_thread")]
async fn api_tokens_are_listed_without_secrets_and_revoked() {
    let (app, state, admin) = spawn_app_with_admin().await;
    let token = new_api_token(&app, &admin, "nightly export").await;
    let secret = token["token"].as_str().expect("test step");
    let id = token["id"].as_str().expect("test step");

    let list: Value = admin
        .get(&app, "/api/v1/tokens")
        .send()
        .await
        .expect("test step")
        .json()
        .await
        .expect("test step");
    assert_eq!(list.as_array().expect("test step").len(), 1);
    assert_eq!(list[0]["id"], id);
    assert_eq!(list[0]["name"], "nightly export");
    assert!(!list.to_string().contains(secret));

    // Another user cannot revoke it.
    casevault_server::auth::create_account(
        &state,
        "b@example-clinic.org",
        "B",
        ADMIN_PASSWORD,
        false,
    )
    .await
    .expect("test step");
    let other = login(&app, "b@example-clinic.org", ADMIN_PASSWORD).await;
    let path = format!("/api/v1/tokens/{id}");
    assert_eq!(
        other
            .delete(&app, &path)
            .send()
            .await
            .expect("test step")
            .status(),
        404
    );

    assert_eq!(
        admin
            .delete(&app, &path)
            .send()
            .await
            .expect("test step")
            .status(),
        204
    );
    assert_eq!(bearer_me(&app, secret).await.status(), 401);
    assert_eq!(
        admin
            .delete(&app, &path)
            .send()
            .await
            .expect("test step")
            .status(),
        404
    );
    let actions = audit_actions(&state).await;
    assert!(actions.contains(&("token.create".into(), "Success".into())));
    assert!(actions.contains(&("token.delete".into(), "Success".into())));
}

#[tokio::test(flavor = "multi_thread")]
async fn logout_ends_the_session_of_the_cookie() {
    let (app, _state, admin) = spawn_app_with_admin().await;
    let other = login(&app, ADMIN_EMAIL, ADMIN_PASSWORD).await;
    let response = admin
        .post(&app, "/api/v1/auth/logout")
        .send()
        .await
        .expect("test step");
    assert_eq!(response.status(), 204);
    let cleared = response.headers()["set-cookie"]
        .to_str()
        .expect("test step");
    assert!(cleared.starts_with("cv_session=;") && cleared.contains("Max-Age=0"));
    assert_eq!(me(&app, &admin).await.status(), 401);
    assert_eq!(me(&app, &other).await.status(), 200);
}

#[tokio::test(flavor = "multi_thread")]
async fn logout_all_ends_every_session_and_token() {
    let (app, state, admin) = spawn_app_with_admin().await;
    let other = login(&app, ADMIN_EMAIL, ADMIN_PASSWORD).await;
    let token = new_api_token(&app, &admin, "script").await;
    let response = admin
        .post(&app, "/api/v1/auth/logout-all")
        .send()
        .await
        .expect("test step");
    assert_eq!(response.status(), 204);
    assert_eq!(me(&app, &admin).await.status(), 401);
    assert_eq!(me(&app, &other).await.status(), 401);
    assert_eq!(
        bearer_me(&app, token["token"].as_str().expect("test step"))
            .await
            .status(),
        401
    );
    assert!(
        audit_actions(&state)
            .await
            .contains(&("auth.logout_all".into(), "Success".into()))
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_password_change_ends_other_sessions_and_the_old_password() {
    let (app, state, admin) = spawn_app_with_admin().await;
    let other = login(&app, ADMIN_EMAIL, ADMIN_PASSWORD).await;
    let change = |current: &str, new: &str| {
        admin
            .post(&app, "/api/v1/auth/password")
            .json(&json!({ "current": current, "new": new }))
    };
    let new_password = "a much better passphrase";
    assert_eq!(
        change("wrong password!", new_password)
            .send()
            .await
            .expect("test step")
            .status(),
        400
    );
    assert_eq!(
        change(ADMIN_PASSWORD, "short")
            .send()
            .await
            .expect("test step")
            .status(),
        400
    );
    let too_long = "x".repeat(1025);
    assert_eq!(
        change(ADMIN_PASSWORD, &too_long)
            .send()
            .await
            .expect("test step")
            .status(),
        400
    );
    assert_eq!(
        change(ADMIN_PASSWORD, new_password)
            .send()
            .await
            .expect("test step")
            .status(),
        204
    );

    assert_eq!(me(&app, &admin).await.status(), 200);
    assert_eq!(me(&app, &other).await.status(), 401);
    assert_eq!(
        try_login(&app, ADMIN_EMAIL, ADMIN_PASSWORD).await.status(),
        401
    );
    login(&app, ADMIN_EMAIL, new_password).await;
    assert!(
        audit_actions(&state)
            .await
            .contains(&("auth.password".into(), "Success".into()))
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn repeated_failures_lock_the_account_even_for_the_right_password() {
    let (app, state, _admin) = spawn_app_with_admin().await;
    let policy = AuthPolicy {
        throttle: ThrottlePolicy::for_tests(),
        ..AuthPolicy::default()
    };
    let lockout = policy.throttle.lockout_failures;
    AuthRuntime::configure(&state, policy);
    for _ in 0..lockout {
        let response = try_login(&app, ADMIN_EMAIL, "wrong password, again").await;
        assert_eq!(response.status(), 401);
    }
    let response = try_login(&app, ADMIN_EMAIL, ADMIN_PASSWORD).await;
    assert_eq!(response.status(), 429);
    let retry_after: u64 = response.headers()["retry-after"]
        .to_str()
        .expect("test step")
        .parse()
        .expect("test step");
    assert!(retry_after > 0 && retry_after <= 15 * 60, "{retry_after}");
    assert_eq!(error_code(response).await, "rate_limited");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_successful_login_clears_the_account_counter() {
    let (app, state, _admin) = spawn_app_with_admin().await;
    let mut policy = AuthPolicy {
        throttle: ThrottlePolicy::for_tests(),
        ..AuthPolicy::default()
    };
    // Three failures stay below the lockout of both the account and the address.
    policy.throttle.lockout_failures = 4;
    let runtime = AuthRuntime::configure(&state, policy);
    for _ in 0..3 {
        assert_eq!(
            try_login(&app, ADMIN_EMAIL, "wrong password, again")
                .await
                .status(),
            401
        );
    }
    login(&app, ADMIN_EMAIL, ADMIN_PASSWORD).await;
    // The account counter was cleared; only the address counter (3) remains.
    assert_eq!(runtime.throttle.len(), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn sessions_expire_when_idle_and_after_the_absolute_timeout() {
    let (app, state, admin) = spawn_app_with_admin().await;
    let policy = AuthPolicy {
        idle_timeout: Duration::from_secs(30 * 60),
        absolute_timeout: Duration::from_secs(60 * 60),
        ..AuthPolicy::default()
    };
    let runtime = AuthRuntime::configure(&state, policy);

    // Idle: 31 minutes without a request.
    runtime.advance_clock(Duration::from_secs(31 * 60));
    assert_eq!(me(&app, &admin).await.status(), 401);

    // Absolute: active every 25 minutes, but more than an hour after the login.
    let session = login(&app, ADMIN_EMAIL, ADMIN_PASSWORD).await;
    for _ in 0..2 {
        runtime.advance_clock(Duration::from_secs(25 * 60));
        assert_eq!(me(&app, &session).await.status(), 200);
    }
    runtime.advance_clock(Duration::from_secs(25 * 60));
    assert_eq!(me(&app, &session).await.status(), 401);
}
