//! Security headers on every response: success, API errors, unknown pages.

use casevault_tests::spawn_app;

/// The headers every response must carry, with their exact values.
const EXPECTED: &[(&str, &str)] = &[
    (
        "strict-transport-security",
        "max-age=63072000; includeSubDomains",
    ),
    (
        "content-security-policy",
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; \
         media-src 'self' blob:; object-src 'none'; base-uri 'none'; form-action 'self'; \
         frame-ancestors 'none'",
    ),
    ("x-content-type-options", "nosniff"),
    ("referrer-policy", "no-referrer"),
    ("x-frame-options", "DENY"),
    ("cross-origin-opener-policy", "same-origin"),
    ("cross-origin-resource-policy", "same-origin"),
    (
        "permissions-policy",
        "camera=(), microphone=(), geolocation=()",
    ),
    ("cache-control", "no-store"),
];

#[tokio::test(flavor = "multi_thread")]
async fn every_response_carries_the_security_headers() {
    let app = spawn_app().await;
    let requests = [
        (reqwest::Method::GET, "/api/v1/health", 200),
        (reqwest::Method::GET, "/api/v1/nothing-here", 404),
        (reqwest::Method::DELETE, "/api/v1/health", 405),
        (reqwest::Method::GET, "/some/page", 404),
        (reqwest::Method::GET, "/", 303),
        (reqwest::Method::GET, "/login", 200),
        (reqwest::Method::GET, "/s/some-token", 200),
    ];
    for version in [reqwest::Version::HTTP_11, reqwest::Version::HTTP_2] {
        let client = app.client_for(version);
        for (method, path, status) in &requests {
            let response = client
                .request(method.clone(), app.url(path))
                .send()
                .await
                .expect("request");
            assert_eq!(response.status().as_u16(), *status, "{method} {path}");
            for (name, value) in EXPECTED {
                assert_eq!(
                    response
                        .headers()
                        .get(*name)
                        .map(|v| v.to_str().unwrap_or("")),
                    Some(*value),
                    "{name} on {method} {path} ({version:?})"
                );
            }
            let id = response.headers().get("x-request-id").expect("request id");
            assert_eq!(id.len(), 16, "{method} {path}");
        }
    }
}
