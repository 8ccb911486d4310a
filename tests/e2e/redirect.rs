//! The plain-HTTP redirect listener.

use casevault_tests::{client_builder, spawn_app_with};

#[tokio::test(flavor = "multi_thread")]
async fn the_redirect_port_answers_308_to_https() {
    let app = spawn_app_with(|s| s.http.redirect_port = Some(0)).await;
    let port = app.redirect_port.expect("redirect listener");
    let plain = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client");
    for (method, path) in [
        (reqwest::Method::GET, "/api/v1/health?verbose=1"),
        (reqwest::Method::POST, "/api/v1/cases"),
        (reqwest::Method::GET, "/"),
    ] {
        let response = plain
            .request(method.clone(), format!("http://127.0.0.1:{port}{path}"))
            .header("host", "evil.example")
            .send()
            .await
            .expect("plain HTTP request");
        assert_eq!(response.status(), 308, "{method} {path}");
        let location = response.headers()["location"].to_str().expect("ASCII");
        assert_eq!(location, format!("{}{path}", app.address));
        let body = response.bytes().await.expect("body");
        assert!(body.is_empty());
    }

    // A client that follows redirects ends up on HTTPS.
    let following = client_builder(&app.cert_pem)
        .https_only(false)
        .redirect(reqwest::redirect::Policy::limited(2))
        .build()
        .expect("client");
    let response = following
        .get(format!("http://localhost:{port}/api/v1/health"))
        .send()
        .await
        .expect("followed redirect");
    assert_eq!(response.status(), 200);
    assert_eq!(response.url().scheme(), "https");
}
