//! The OpenAPI document: served, OpenAPI 3, and every operation it describes exists.

use casevault_tests::spawn_app;
use serde_json::Value;

#[tokio::test(flavor = "multi_thread")]
async fn every_documented_operation_is_routed() {
    let app = spawn_app().await;
    let response = app.get("/api/v1/openapi.json").await;
    assert_eq!(response.status(), 200);
    let doc: Value = response.json().await.expect("a JSON document");
    assert!(
        doc["openapi"].as_str().is_some_and(|v| v.starts_with("3.")),
        "an OpenAPI 3 document: {}",
        doc["openapi"]
    );
    let paths = doc["paths"].as_object().expect("paths");
    for expected in [
        "/api/v1/cases",
        "/api/v1/cases/{case}/files",
        "/api/v1/cases/{case}/files/{file}/content",
        "/api/v1/auth/login",
    ] {
        assert!(paths.contains_key(expected), "{expected} is documented");
    }
    let some_id = "0123456789abcdef0123456789abcdef";
    let mut checked = 0;
    for (path, operations) in paths {
        let concrete = path
            .replace("{case}", some_id)
            .replace("{file}", some_id)
            .replace("{folder}", some_id)
            .replace("{id}", some_id)
            .replace("{grant}", some_id)
            .replace("{token}", &"A".repeat(43));
        for method in operations.as_object().expect("operations").keys() {
            let method: reqwest::Method = method.to_uppercase().parse().expect("an HTTP method");
            let response = app
                .client
                .request(method.clone(), app.url(&concrete))
                .send()
                .await
                .expect("request");
            let status = response.status().as_u16();
            let code = response
                .json::<Value>()
                .await
                .ok()
                .and_then(|body| body["error"]["code"].as_str().map(str::to_owned));
            // Anonymous requests reach the handler, which answers for itself (401, 400, a
            // link's own 404…); an undocumented path or method would get the router's
            // `not_found` 404 or its 405.
            assert!(
                status != 405 && !(status == 404 && code.as_deref() == Some("not_found")),
                "{method} {path} is routed: got {status} {code:?}"
            );
            checked += 1;
        }
    }
    assert!(checked >= 20, "checked {checked} operations");
}
