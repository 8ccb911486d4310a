//! The JSON error shape for unknown API paths and methods.

use casevault_tests::spawn_app;
use serde_json::{Value, json};

#[tokio::test(flavor = "multi_thread")]
async fn unknown_api_path_is_a_json_404() {
    let app = spawn_app().await;
    for path in ["/api/v1/no-such-resource/123", "/api/v2/health", "/api/"] {
        let response = app.get(path).await;
        assert_eq!(response.status(), 404, "{path}");
        assert_eq!(response.headers()["content-type"], "application/json");
        let body: Value = response.json().await.expect("JSON body");
        assert_eq!(
            body,
            json!({"error": {"code": "not_found", "message": "not found"}}),
            "{path}"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn wrong_method_is_a_json_405() {
    let app = spawn_app().await;
    let response = app.post_json("/api/v1/health", &json!({})).await;
    assert_eq!(response.status(), 405);
    let body: Value = response.json().await.expect("JSON body");
    assert_eq!(body["error"]["code"], "method_not_allowed");
}
