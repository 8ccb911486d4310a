//! `GET /api/v1/health` over both HTTP versions and on both storage backends.

use casevault_tests::{Backend, spawn_app, spawn_app_on};
use reqwest::Version;
use serde_json::Value;

#[tokio::test(flavor = "multi_thread")]
async fn health_over_http1_and_http2() {
    let app = spawn_app().await;
    for version in [Version::HTTP_11, Version::HTTP_2] {
        let response = app
            .client_for(version)
            .get(app.url("/api/v1/health"))
            .send()
            .await
            .expect("health request");
        assert_eq!(response.version(), version);
        assert_eq!(response.status(), 200);
        assert_eq!(response.headers()["content-type"], "application/json");
        let body: Value = response.json().await.expect("JSON body");
        assert_eq!(body["status"], "ok");
        assert_eq!(body["version"], env!("CARGO_PKG_VERSION"));
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_default_client_negotiates_http2() {
    let app = spawn_app().await;
    let response = app.get("/api/v1/health").await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.version(), Version::HTTP_2);
}

#[tokio::test(flavor = "multi_thread")]
async fn health_on_every_backend() {
    for backend in [Backend::Local, Backend::S3] {
        let Some(app) = spawn_app_on(backend, |_| {}).await else {
            continue;
        };
        let response = app.get("/api/v1/health").await;
        assert_eq!(response.status(), 200, "{backend:?}");
    }
}
