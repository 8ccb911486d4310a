//! Unit tests: extractor rejections come out as JSON errors, through the middleware stack.

use std::time::Duration;

use axum::Router;
use axum::body::Body as AxumBody;
use axum::routing::{get, post};
use http::{Request, StatusCode, header};
use http_body_util::BodyExt;
use serde::Deserialize;
use tower::ServiceExt;

use super::{Json, Path, Query};
use crate::http::middleware;
use crate::http::min_rate::{MinRate, MinRateBody};

#[derive(Debug, Deserialize)]
struct Payload {
    #[allow(dead_code)]
    name: String,
}

#[derive(Debug, Deserialize)]
struct Page {
    #[allow(dead_code)]
    page: u32,
}

async fn panics() -> &'static str {
    panic!("boom")
}

fn app() -> Router {
    let router = Router::new()
        .route("/json", post(|Json(_): Json<Payload>| async { "ok" }))
        .route("/items/{id}", get(|Path(_): Path<u32>| async { "ok" }))
        .route("/list", get(|Query(_): Query<Page>| async { "ok" }))
        .route("/panic", get(panics));
    middleware::apply(router)
}

/// Sends `request` and returns the status, the error code and whether the CSP header is set.
async fn send(request: Request<AxumBody>) -> (StatusCode, String, bool) {
    let response = app().oneshot(request).await.expect("infallible");
    let status = response.status();
    let csp = response
        .headers()
        .contains_key(header::CONTENT_SECURITY_POLICY);
    let bytes = response
        .into_body()
        .collect()
        .await
        .expect("body")
        .to_bytes();
    let json: serde_json::Value = serde_json::from_slice(&bytes).unwrap_or_default();
    let code = json["error"]["code"].as_str().unwrap_or("").to_owned();
    if !code.is_empty() {
        assert!(json["error"]["message"].is_string(), "{json}");
    }
    (status, code, csp)
}

fn json_post(body: &'static str, content_type: &str) -> Request<AxumBody> {
    Request::post("/json")
        .header(header::CONTENT_TYPE, content_type)
        .body(AxumBody::from(body))
        .expect("request")
}

#[tokio::test]
async fn rejections_are_json_errors() {
    let cases = [
        (json_post("{\"name\":\"x\"}", "application/json"), 200, ""),
        (
            json_post("{\"name\":", "application/json"),
            400,
            "bad_request",
        ),
        (
            json_post("{\"nom\":\"x\"}", "application/json"),
            400,
            "bad_request",
        ),
        (
            json_post("name=x", "text/plain"),
            415,
            "unsupported_media_type",
        ),
        (
            Request::get("/items/abc")
                .body(AxumBody::empty())
                .expect("request"),
            400,
            "bad_request",
        ),
        (
            Request::get("/list?page=-1")
                .body(AxumBody::empty())
                .expect("request"),
            400,
            "bad_request",
        ),
        (
            Request::get("/panic")
                .body(AxumBody::empty())
                .expect("request"),
            500,
            "internal",
        ),
    ];
    for (request, status, code) in cases {
        let uri = request.uri().clone();
        let (got_status, got_code, csp) = send(request).await;
        assert_eq!(
            (got_status.as_u16(), got_code.as_str()),
            (status, code),
            "{uri}"
        );
        assert!(csp, "security headers on {uri}");
    }
}

/// A request body whose client never sends anything.
struct Stalled;

impl http_body::Body for Stalled {
    type Data = bytes::Bytes;
    type Error = std::io::Error;

    fn poll_frame(
        self: std::pin::Pin<&mut Self>,
        _cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<http_body::Frame<bytes::Bytes>, std::io::Error>>> {
        std::task::Poll::Pending
    }
}

#[tokio::test]
async fn a_too_slow_body_is_a_408() {
    let rule = MinRate {
        min_bytes: 10,
        window: Duration::from_millis(200),
    };
    let body = AxumBody::new(MinRateBody::new(Stalled, rule));
    let request = Request::post("/json")
        .header(header::CONTENT_TYPE, "application/json")
        .body(body)
        .expect("request");
    let (status, code, _) = send(request).await;
    assert_eq!((status.as_u16(), code.as_str()), (408, "request_timeout"));
}
