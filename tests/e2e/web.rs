//! The web interface over HTTP: pages and their redirects, the language choice, static
//! assets, and the API the pages need beyond the rest (preferences, colleagues, named
//! history, tus folder paths). The browser tests drive the same pages in Chromium.

use base64::Engine;
use casevault_storage::OrgRole;
use casevault_tests::{Practice, expect_error, expect_json, id_of};
use reqwest::{Method, Response, StatusCode};
use serde_json::{Value, json};

async fn get_page(
    practice: &Practice,
    user: Option<&casevault_tests::TestUser>,
    path: &str,
) -> Response {
    practice
        .request(user, Method::GET, path)
        .send()
        .await
        .expect("GET a page")
}

fn location(response: &Response) -> String {
    response.headers()["location"]
        .to_str()
        .expect("ASCII location")
        .to_owned()
}

#[tokio::test(flavor = "multi_thread")]
async fn pages_send_visitors_to_the_right_place() {
    let practice = Practice::spawn().await;
    let dr = practice.user("dr-web").await;

    // Signed-in pages send anonymous visitors to the sign-in page, and back afterwards.
    for path in [
        "/cases",
        "/cases/0123456789abcdef0123456789abcdef?folder=x",
        "/shares",
        "/account",
        "/org",
    ] {
        let response = get_page(&practice, None, path).await;
        assert_eq!(response.status(), StatusCode::SEE_OTHER, "{path}");
        let to = location(&response);
        assert!(to.starts_with("/login?next=/"), "{path} → {to}");
        assert!(
            !to.contains('?') || to.matches('?').count() == 1,
            "the next path is encoded: {to}"
        );
    }
    let home = get_page(&practice, None, "/").await;
    assert_eq!(location(&home), "/login");
    let home = get_page(&practice, Some(&dr), "/").await;
    assert_eq!(location(&home), "/cases");
    // Signed in, the sign-in page sends on to the cases.
    let login = get_page(&practice, Some(&dr), "/login").await;
    assert_eq!(login.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&login), "/cases");

    // Pages anyone may open.
    for path in ["/login", "/setup", "/s/not-a-real-token"] {
        let response = get_page(&practice, None, path).await;
        assert_eq!(response.status(), StatusCode::OK, "{path}");
        assert_eq!(
            response.headers()["content-type"],
            "text/html; charset=utf-8"
        );
        assert_eq!(response.headers()["cache-control"], "no-store");
        let csp = response.headers()["content-security-policy"]
            .to_str()
            .expect("CSP");
        assert!(csp.contains("script-src 'self'") && !csp.contains("unsafe-inline"));
        let html = response.text().await.expect("HTML");
        assert!(
            html.contains("data-csrf=\"\""),
            "no session, no CSRF token: {path}"
        );
    }

    // A signed-in page carries the session's CSRF token for its scripts, and the name.
    let cases = get_page(&practice, Some(&dr), "/cases").await;
    assert_eq!(cases.status(), StatusCode::OK);
    let html = cases.text().await.expect("HTML");
    assert!(html.contains(&format!("data-csrf=\"{}\"", dr.session.csrf)));
    assert!(html.contains("dr-web"));

    // Anything else outside the API is an HTML 404; inside, the JSON one.
    let missing = get_page(&practice, None, "/no/such/page").await;
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);
    assert!(
        missing
            .text()
            .await
            .expect("HTML")
            .contains("<html lang=\"en\"")
    );
    let api_missing = get_page(&practice, None, "/api/v1/nothing").await;
    assert_eq!(expect_error(api_missing, 404).await, "not_found");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_language_comes_from_the_switch_then_the_browser() {
    let practice = Practice::spawn().await;
    let page = |accept: Option<&'static str>, cookie: Option<&'static str>, path: &'static str| {
        let mut request = practice.app.client.get(practice.app.url(path));
        if let Some(accept) = accept {
            request = request.header("accept-language", accept);
        }
        if let Some(cookie) = cookie {
            request = request.header("cookie", cookie);
        }
        request.send()
    };
    let html = |response: Response| async move { response.text().await.expect("HTML") };

    let french = html(
        page(Some("fr-CH, fr;q=0.9, en;q=0.5"), None, "/login")
            .await
            .expect("GET"),
    )
    .await;
    assert!(french.contains("<html lang=\"fr\""));
    assert!(french.contains("Se connecter"), "French strings: {french}");
    let german = html(page(Some("de-AT"), None, "/login").await.expect("GET")).await;
    assert!(german.contains("<html lang=\"de\"") && german.contains("Anmelden"));
    let english = html(
        page(Some("es, it;q=0.8"), None, "/login")
            .await
            .expect("GET"),
    )
    .await;
    assert!(english.contains("<html lang=\"en\"") && english.contains("Sign in"));

    // The switch sets a cookie that wins over the browser's languages.
    let switched = page(Some("fr"), None, "/login?lang=de").await.expect("GET");
    let cookie = switched.headers()["set-cookie"]
        .to_str()
        .expect("cookie")
        .to_owned();
    assert!(
        cookie.starts_with("cv_lang=de;") && cookie.contains("Secure"),
        "{cookie}"
    );
    assert!(html(switched).await.contains("<html lang=\"de\""));
    let remembered = html(
        page(Some("fr"), Some("cv_lang=de"), "/login")
            .await
            .expect("GET"),
    )
    .await;
    assert!(remembered.contains("<html lang=\"de\""));
    // An unknown choice changes nothing.
    let unknown = page(Some("fr"), None, "/login?lang=xx").await.expect("GET");
    assert!(unknown.headers().get("set-cookie").is_none());
    assert!(html(unknown).await.contains("<html lang=\"fr\""));
}

#[tokio::test(flavor = "multi_thread")]
async fn static_assets_are_served_with_validators() {
    let practice = Practice::spawn().await;
    // Every script and stylesheet a page refers to exists.
    let html = get_page(&practice, None, "/login")
        .await
        .text()
        .await
        .expect("HTML");
    let mut referenced = 0;
    for part in html.split("/static/").skip(1) {
        let path = part.split('"').next().expect("a path");
        let response = get_page(&practice, None, &format!("/static/{path}")).await;
        assert_eq!(response.status(), StatusCode::OK, "{path}");
        referenced += 1;
    }
    assert!(referenced >= 3, "layout refers to its assets");

    let app = get_page(&practice, None, "/static/js/app.js").await;
    assert_eq!(app.status(), StatusCode::OK);
    assert_eq!(
        app.headers()["content-type"],
        "text/javascript; charset=utf-8"
    );
    assert_eq!(app.headers()["cache-control"], "no-cache");
    let etag = app.headers()["etag"].to_str().expect("etag").to_owned();
    let body = app.text().await.expect("JS");
    assert!(body.contains("export async function api"));
    let again = practice
        .request(None, Method::GET, "/static/js/app.js")
        .header("if-none-match", &etag)
        .send()
        .await
        .expect("GET");
    assert_eq!(again.status(), StatusCode::NOT_MODIFIED);
    assert!(again.bytes().await.expect("body").is_empty());

    for path in [
        "/static/nope.js",
        "/static/../Cargo.toml",
        "/static/%2e%2e/Cargo.toml",
        "/static/js",
    ] {
        let response = get_page(&practice, None, path).await;
        assert_eq!(response.status(), StatusCode::NOT_FOUND, "{path}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn preferences_hold_labels_and_notifications_per_user() {
    let practice = Practice::spawn().await;
    let dr = practice.user("dr-prefs").await;
    let other = practice.user("dr-other").await;

    let defaults = expect_json(
        practice
            .send(&dr, Method::GET, "/api/v1/preferences", None)
            .await,
        200,
    )
    .await;
    assert_eq!(defaults["labels"], json!([]));
    assert_eq!(
        defaults["notify"],
        json!({ "drops": true, "downloads": false, "expiry": true })
    );

    let labels = json!([
        { "id": 1, "name": "Implant", "colour": "#AA3300" },
        { "id": 7, "name": "<b>Urgent</b>", "colour": "#2f6fdf" }
    ]);
    let saved = expect_json(
        practice
            .send(
                &dr,
                Method::PATCH,
                "/api/v1/preferences",
                Some(json!({ "labels": labels })),
            )
            .await,
        200,
    )
    .await;
    assert_eq!(
        saved["labels"][0]["colour"], "#aa3300",
        "colours are normalised"
    );
    assert_eq!(
        saved["labels"][1]["name"], "<b>Urgent</b>",
        "stored as given, escaped when shown"
    );
    assert_eq!(saved["notify"], defaults["notify"], "absent fields stay");
    let notify = json!({ "drops": false, "downloads": true, "expiry": false });
    let saved = expect_json(
        practice
            .send(
                &dr,
                Method::PATCH,
                "/api/v1/preferences",
                Some(json!({ "notify": notify })),
            )
            .await,
        200,
    )
    .await;
    assert_eq!(saved["notify"], notify);
    assert_eq!(saved["labels"].as_array().map(Vec::len), Some(2));

    for bad in [
        json!({ "labels": [{ "id": 1, "name": "x", "colour": "red" }] }),
        json!({ "labels": [{ "id": 1, "name": "", "colour": "#000000" }] }),
        json!({ "labels": [{ "id": 1, "name": "a", "colour": "#000000" }, { "id": 1, "name": "b", "colour": "#000000" }] }),
        json!({ "labels": [{ "id": 1, "name": "a".repeat(41), "colour": "#000000" }] }),
        json!({ "theme": "dark" }),
    ] {
        let response = practice
            .send(&dr, Method::PATCH, "/api/v1/preferences", Some(bad.clone()))
            .await;
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{bad}");
    }
    let kept = expect_json(
        practice
            .send(&dr, Method::GET, "/api/v1/preferences", None)
            .await,
        200,
    )
    .await;
    assert_eq!(kept, saved, "a refused change changes nothing");

    let theirs = expect_json(
        practice
            .send(&other, Method::GET, "/api/v1/preferences", None)
            .await,
        200,
    )
    .await;
    assert_eq!(theirs, defaults, "preferences are per user");
    let anonymous = practice
        .request(None, Method::GET, "/api/v1/preferences")
        .send()
        .await
        .expect("GET");
    assert_eq!(expect_error(anonymous, 401).await, "unauthorized");
    let no_csrf = practice
        .app
        .client
        .patch(practice.app.url("/api/v1/preferences"))
        .header("cookie", dr.session.cookie())
        .json(&json!({ "labels": [] }))
        .send()
        .await
        .expect("PATCH");
    assert_eq!(expect_error(no_csrf, 403).await, "csrf_failed");
}

#[tokio::test(flavor = "multi_thread")]
async fn colleagues_are_the_practice_and_past_collaborators() {
    let practice = Practice::spawn().await;
    let dr = practice.user("dr-main").await;
    let partner = practice.user("dr-partner").await;
    let hygienist = practice.user("hygienist").await;
    let specialist = practice.user("specialist").await;
    let stranger = practice.user("stranger").await;
    practice
        .org(
            "Smile Clinic",
            &[
                (&dr, OrgRole::Admin),
                (&partner, OrgRole::Member),
                (&hygienist, OrgRole::Member),
            ],
        )
        .await;
    let case = practice.new_case(&dr).await;
    let shared = practice
        .send(
            &dr,
            Method::POST,
            "/api/v1/grants",
            Some(json!({ "case": case, "role": "read", "colleague": specialist.email })),
        )
        .await;
    expect_json(shared, 201).await;

    let list = expect_json(
        practice
            .send(&dr, Method::GET, "/api/v1/colleagues", None)
            .await,
        200,
    )
    .await;
    let emails: Vec<&str> = list["colleagues"]
        .as_array()
        .expect("a list")
        .iter()
        .map(|c| c["email"].as_str().expect("an e-mail"))
        .collect();
    assert_eq!(
        emails,
        [&partner.email, &hygienist.email, &specialist.email].map(String::as_str)
    );
    // Sorted by name; strangers and oneself are not suggested.
    assert!(!emails.contains(&stranger.email.as_str()) && !emails.contains(&dr.email.as_str()));
    // The specialist sees who shared with them.
    let theirs = expect_json(
        practice
            .send(&specialist, Method::GET, "/api/v1/colleagues", None)
            .await,
        200,
    )
    .await;
    assert_eq!(theirs["colleagues"][0]["email"], dr.email);
    assert_eq!(theirs["colleagues"].as_array().map(Vec::len), Some(1));
}

#[tokio::test(flavor = "multi_thread")]
async fn the_history_names_people_and_files() {
    let practice = Practice::spawn().await;
    let dr = practice.user("dr-history").await;
    let case = practice.new_case(&dr).await;
    let file = practice
        .upload(&dr, &case, "crown <v2>.stl", b"solid crown")
        .await;
    let file_id = id_of(&file);
    practice.download(&dr, &case, &file_id).await;
    let created = expect_json(
        practice
            .send(&dr, Method::POST, "/api/v1/grants", Some(json!({ "case": case, "role": "read", "recipient_email": "patient@example.net", "no_password": true })))
            .await,
        201,
    )
    .await;
    let token = created["link"]
        .as_str()
        .expect("link")
        .rsplit('/')
        .next()
        .expect("token")
        .to_owned();
    let recipient = casevault_tests::client_builder(&practice.app.cert_pem)
        .build()
        .expect("client");
    let opened = recipient
        .post(practice.app.url(&format!("/api/v1/links/{token}/session")))
        .json(&json!({}))
        .send()
        .await
        .expect("unlock");
    assert_eq!(opened.status(), StatusCode::CREATED);
    let cookie = opened.headers()["set-cookie"]
        .to_str()
        .expect("cookie")
        .split(';')
        .next()
        .expect("pair")
        .to_owned();
    let download = recipient
        .get(
            practice
                .app
                .url(&format!("/api/v1/link/files/{file_id}/content")),
        )
        .header("cookie", cookie)
        .send()
        .await
        .expect("download");
    assert_eq!(
        download.bytes().await.expect("body").as_ref(),
        b"solid crown"
    );

    // The download through the link is recorded once its stream has ended.
    let mut history = practice.history(&dr, &case).await;
    for _ in 0..100 {
        if history.iter().any(|e| e["action"] == "share.download") {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        history = practice.history(&dr, &case).await;
    }
    let of = |action: &str| -> Vec<&Value> {
        history.iter().filter(|e| e["action"] == action).collect()
    };
    let upload = of("file.upload");
    assert_eq!(upload[0]["actor_name"], "dr-history");
    assert_eq!(upload[0]["file_name"], "crown <v2>.stl");
    assert_eq!(of("file.download")[0]["actor_name"], "dr-history");
    let through_link = of("share.download");
    assert_eq!(through_link.len(), 1, "{history:?}");
    assert_eq!(through_link[0]["actor_name"], "patient@example.net");
    assert_eq!(through_link[0]["file_name"], "crown <v2>.stl");
    assert!(
        through_link[0]["ip"]
            .as_str()
            .is_some_and(|ip| ip.starts_with("127."))
    );

    // Once the file is gone, its entries stay but no longer name it.
    let deleted = practice
        .send(
            &dr,
            Method::DELETE,
            &format!("/api/v1/cases/{case}/files/{file_id}"),
            None,
        )
        .await;
    assert_eq!(deleted.status(), StatusCode::NO_CONTENT);
    let history = practice.history(&dr, &case).await;
    let upload = history
        .iter()
        .find(|e| e["action"] == "file.upload")
        .expect("upload entry");
    assert_eq!(upload["file_name"], Value::Null);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_resumable_upload_can_create_its_folders() {
    let practice = Practice::spawn().await;
    let dr = practice.user("dr-tus-path").await;
    let case = practice.new_case(&dr).await;
    let b64 = |text: &str| base64::engine::general_purpose::STANDARD.encode(text);
    let body = b"intraoral scan";
    let created = practice
        .request(Some(&dr), Method::POST, "/api/v1/uploads")
        .header("tus-resumable", "1.0.0")
        .header("upload-length", body.len().to_string())
        .header(
            "upload-metadata",
            format!(
                "filename {},case {},path {}",
                b64("upper.stl"),
                b64(&case),
                b64("visit 1/scans")
            ),
        )
        .send()
        .await
        .expect("POST");
    assert_eq!(created.status(), StatusCode::CREATED);
    let location = created.headers()["location"]
        .to_str()
        .expect("location")
        .to_owned();
    let path = location
        .split_once("/api/")
        .map(|(_, p)| format!("/api/{p}"))
        .expect("a path");
    let patched = practice
        .request(Some(&dr), Method::PATCH, &path)
        .header("tus-resumable", "1.0.0")
        .header("upload-offset", "0")
        .header("content-type", "application/offset+octet-stream")
        .body(body.to_vec())
        .send()
        .await
        .expect("PATCH");
    assert_eq!(patched.status(), StatusCode::NO_CONTENT);

    let tree = practice.tree(&dr, &case).await;
    let folder = |name: &str| -> Value {
        tree["folders"]
            .as_array()
            .expect("folders")
            .iter()
            .find(|f| f["name"] == name)
            .cloned()
            .expect(name)
    };
    let visit = folder("visit 1");
    let scans = folder("scans");
    assert_eq!(visit["parent"], Value::Null);
    assert_eq!(scans["parent"], visit["id"]);
    let file = &tree["files"][0];
    assert_eq!(file["name"], "upper.stl");
    assert_eq!(file["folder"], scans["id"]);

    // A path that is not a valid folder name is refused before anything is stored.
    let refused = practice
        .request(Some(&dr), Method::POST, "/api/v1/uploads")
        .header("tus-resumable", "1.0.0")
        .header("upload-length", "4")
        .header(
            "upload-metadata",
            format!(
                "filename {},case {},path {}",
                b64("x.stl"),
                b64(&case),
                b64("a/../b")
            ),
        )
        .send()
        .await
        .expect("POST");
    assert_eq!(expect_error(refused, 400).await, "bad_request");
    assert_eq!(practice.tree(&dr, &case).await, tree);
}
