//! Shares: a patient's one-time link, the one-time race, resumable link downloads, a drop
//! folder, colleague grants, revocation (also during a download), expiry and the
//! brute-force lock.

use std::time::Duration;

use casevault_server::auth::{AuthPolicy, AuthRuntime, ThrottlePolicy};
use casevault_tests::{Backend, Practice, TestUser, expect_error, expect_json, id_of};
use futures::StreamExt;
use reqwest::{Client, Method, Response};
use serde_json::{Value, json};

/// A recipient without an account: their own client, so that cookies never mix.
struct Recipient {
    client: Client,
    cookie: Option<String>,
    csrf: Option<String>,
}

impl Recipient {
    fn new(practice: &Practice) -> Recipient {
        Recipient {
            client: casevault_tests::client_builder(&practice.app.cert_pem)
                .build()
                .expect("a client"),
            cookie: None,
            csrf: None,
        }
    }

    fn request(&self, practice: &Practice, method: Method, path: &str) -> reqwest::RequestBuilder {
        let mut request = self.client.request(method, practice.app.url(path));
        if let Some(cookie) = &self.cookie {
            request = request.header("cookie", cookie);
        }
        if let Some(csrf) = &self.csrf {
            request = request.header("x-csrf-token", csrf);
        }
        request
    }

    async fn unlock(&mut self, practice: &Practice, token: &str, form: Value) -> Response {
        let response = self
            .request(
                practice,
                Method::POST,
                &format!("/api/v1/links/{token}/session"),
            )
            .json(&form)
            .send()
            .await
            .expect("unlock");
        if response.status() == 201 {
            let cookie = response.headers()["set-cookie"].to_str().expect("ASCII");
            self.cookie = Some(cookie.split(';').next().expect("a pair").to_owned());
        }
        response
    }

    async fn open(&mut self, practice: &Practice, token: &str, password: &str) -> Value {
        self.open_with(practice, token, json!({ "password": password }))
            .await
    }

    /// Opens the link with `form` (password, uploader), asserting 201, and keeps the CSRF
    /// token for later changes.
    async fn open_with(&mut self, practice: &Practice, token: &str, form: Value) -> Value {
        let response = self.unlock(practice, token, form).await;
        let body = expect_json(response, 201).await;
        self.csrf = body["csrf_token"].as_str().map(str::to_owned);
        body
    }

    async fn get(&self, practice: &Practice, path: &str) -> Response {
        self.request(practice, Method::GET, path)
            .send()
            .await
            .expect("GET")
    }
}

/// The token at the end of a share link.
fn token_of(created: &Value) -> String {
    let link = created["link"].as_str().expect("a link");
    link.rsplit('/').next().expect("a token").to_owned()
}

async fn share(practice: &Practice, owner: &TestUser, form: Value) -> Value {
    let response = practice
        .send(owner, Method::POST, "/api/v1/grants", Some(form))
        .await;
    expect_json(response, 201).await
}

async fn grant_view(practice: &Practice, owner: &TestUser, id: &str) -> Value {
    let response = practice
        .send(owner, Method::GET, &format!("/api/v1/grants/{id}"), None)
        .await;
    expect_json(response, 200).await
}

fn bytes_of(len: usize, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u64 * 31 + u64::from(seed)) as u8 ^ (i >> 9) as u8)
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_patient_downloads_once_through_a_one_time_link() {
    patient_journey(Backend::Local).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_patient_downloads_once_through_a_one_time_link_on_s3() {
    patient_journey(Backend::S3).await;
}

async fn patient_journey(backend: Backend) {
    let Some(practice) = Practice::spawn_on(backend).await else {
        return;
    };
    let dr = practice.user("dr").await;
    let case = practice.new_case(&dr).await;
    let bytes = bytes_of(300_000, 1);
    let file = id_of(&practice.upload(&dr, &case, "Befund.pdf", &bytes).await);
    let created = share(
        &practice,
        &dr,
        json!({ "case": case, "file": file, "role": "read", "download_limit": 1,
                "recipient_email": "patient@example.org", "note": "Your results" }),
    )
    .await;
    let grant = created["grant"]["id"].as_str().expect("an id").to_owned();
    let password = created["password"]
        .as_str()
        .expect("a generated password")
        .to_owned();
    assert_eq!(password.len(), 23);
    assert_eq!(created["grant"]["status"], "active");
    assert_eq!(created["grant"]["has_password"], true);
    let expires = created["grant"]["expires_at"].as_i64().expect("an expiry");
    let created_at = created["grant"]["created_at"]
        .as_i64()
        .expect("a creation time");
    assert!(
        (expires - created_at - 7 * 24 * 3600 * 1000).abs() < 60_000,
        "seven days"
    );
    let token = token_of(&created);

    let mut patient = Recipient::new(&practice);
    let probe = expect_json(
        patient
            .get(&practice, &format!("/api/v1/links/{token}"))
            .await,
        200,
    )
    .await;
    assert_eq!(probe["password_required"], true);
    let wrong = patient
        .unlock(&practice, &token, json!({ "password": "guess guess" }))
        .await;
    assert_eq!(expect_error(wrong, 401).await, "invalid_password");
    let info = patient.open(&practice, &token, &password).await;
    assert_eq!(info["role"], "read");
    assert_eq!(info["note"], "Your results");
    assert_eq!(info["downloads_left"], 1);

    let tree = expect_json(patient.get(&practice, "/api/v1/link/tree").await, 200).await;
    assert_eq!(tree["files"].as_array().map(Vec::len), Some(1));
    assert_eq!(tree["files"][0]["name"], "Befund.pdf");
    let path = format!("/api/v1/link/files/{file}/content");
    let head = patient
        .request(&practice, Method::HEAD, &path)
        .send()
        .await
        .expect("HEAD");
    assert_eq!(head.status(), 200, "HEAD does not consume the link");
    let response = patient.get(&practice, &path).await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.bytes().await.expect("the file").as_ref(), bytes);

    let again = patient.get(&practice, &path).await;
    assert_eq!(expect_error(again, 404).await, "link_unavailable");
    // The grant records the download once the body has been sent, a moment after the
    // client has read its last byte; the session refuses at once (above).
    let mut status = 0;
    for _ in 0..100 {
        let probe = patient
            .get(&practice, &format!("/api/v1/links/{token}"))
            .await;
        status = probe.status().as_u16();
        if status == 404 {
            assert_eq!(expect_error(probe, 404).await, "link_unavailable");
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(status, 404, "the link is used up");
    let view = grant_view(&practice, &dr, &grant).await;
    assert_eq!(
        (view["status"].as_str(), view["downloads"].as_u64()),
        (Some("used_up"), Some(1))
    );

    // The same answer for a used-up, an unknown and a malformed token.
    let mut other = Recipient::new(&practice);
    for token in [token.clone(), "A".repeat(43), "not-a-token".to_owned()] {
        let response = other
            .unlock(&practice, &token, json!({ "password": password }))
            .await;
        assert_eq!(response.status(), 404, "{token}");
        let body: Value = response.json().await.expect("JSON");
        assert_eq!(body["error"]["code"], "link_unavailable");
    }
    let history = practice.history(&dr, &case).await;
    let actions: Vec<&str> = history
        .iter()
        .filter_map(|e| e["action"].as_str())
        .collect();
    for expected in ["share.create", "share.open", "share.download"] {
        assert!(actions.contains(&expected), "{expected} in {actions:?}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn fifty_concurrent_requests_for_a_one_time_link_give_one_download() {
    let practice = Practice::spawn().await;
    let dr = practice.user("dr").await;
    let case = practice.new_case(&dr).await;
    let bytes = bytes_of(200_000, 2);
    let file = id_of(&practice.upload(&dr, &case, "scan.stl", &bytes).await);
    for round in 0..3 {
        let created = share(
            &practice,
            &dr,
            json!({ "case": case, "file": file, "role": "read", "download_limit": 1,
                    "no_password": true }),
        )
        .await;
        let token = token_of(&created);
        let mut recipients = Vec::new();
        for _ in 0..50 {
            let mut recipient = Recipient::new(&practice);
            recipient.open(&practice, &token, "").await;
            recipients.push(recipient);
        }
        let path = format!("/api/v1/link/files/{file}/content");
        let downloads = recipients.iter().map(|r| {
            let path = path.clone();
            let practice = &practice;
            async move {
                let response = r.get(practice, &path).await;
                let status = response.status().as_u16();
                let body = response
                    .bytes()
                    .await
                    .map(|b| b.to_vec())
                    .unwrap_or_default();
                (status, body)
            }
        });
        let results = futures::future::join_all(downloads).await;
        let complete: Vec<_> = results
            .iter()
            .filter(|(s, b)| *s == 200 && *b == bytes)
            .collect();
        assert_eq!(complete.len(), 1, "round {round}: exactly one download");
        assert!(
            results.iter().all(|(s, _)| *s == 200 || *s == 404),
            "round {round}: the others are refused: {:?}",
            results.iter().map(|(s, _)| s).collect::<Vec<_>>()
        );
        let grant = created["grant"]["id"].as_str().expect("an id");
        let view = grant_view(&practice, &dr, grant).await;
        assert_eq!(view["downloads"], 1, "round {round}");
        assert_eq!(view["status"], "used_up");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_broken_link_download_resumes_with_range_and_counts_once() {
    let practice = Practice::spawn().await;
    let dr = practice.user("dr").await;
    let case = practice.new_case(&dr).await;
    let bytes = bytes_of(500_000, 3);
    let file = id_of(&practice.upload(&dr, &case, "video.mp4", &bytes).await);
    let created = share(
        &practice,
        &dr,
        json!({ "case": case, "file": file, "role": "read", "download_limit": 1,
                "no_password": true }),
    )
    .await;
    let grant = created["grant"]["id"].as_str().expect("an id").to_owned();
    let mut patient = Recipient::new(&practice);
    patient.open(&practice, &token_of(&created), "").await;
    let path = format!("/api/v1/link/files/{file}/content");
    let first = patient
        .request(&practice, Method::GET, &path)
        .header("range", "bytes=0-199999")
        .send()
        .await
        .expect("first range");
    assert_eq!(first.status(), 206);
    let mut got = first.bytes().await.expect("bytes").to_vec();
    assert_eq!(
        grant_view(&practice, &dr, &grant).await["downloads"],
        0,
        "not complete yet"
    );
    // Someone else cannot start a download while the first is unfinished.
    let mut other = Recipient::new(&practice);
    other.open(&practice, &token_of(&created), "").await;
    assert_eq!(
        expect_error(other.get(&practice, &path).await, 404).await,
        "link_unavailable"
    );
    let rest = patient
        .request(&practice, Method::GET, &path)
        .header("range", "bytes=200000-")
        .send()
        .await
        .expect("the rest");
    assert_eq!(rest.status(), 206);
    got.extend_from_slice(&rest.bytes().await.expect("bytes"));
    assert_eq!(got, bytes);
    let view = grant_view(&practice, &dr, &grant).await;
    assert_eq!(
        (view["downloads"].as_u64(), view["status"].as_str()),
        (Some(1), Some("used_up"))
    );
    let after = patient
        .request(&practice, Method::GET, &path)
        .header("range", "bytes=0-0")
        .send()
        .await
        .expect("after");
    assert_eq!(after.status(), 404, "a used-up link serves no more ranges");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_lab_drops_files_and_sees_nothing() {
    let practice = Practice::spawn().await;
    let dr = practice.user("dr").await;
    let case = practice.new_case(&dr).await;
    let inbox = id_of(&practice.folder(&dr, &case, "From the lab", None).await);
    practice
        .upload_to(
            &dr,
            &case,
            &format!("?folder={inbox}"),
            "crown.stl",
            b"existing secret",
        )
        .await;
    let quota_before = practice.quota_of(&dr).await;
    let created = share(
        &practice,
        &dr,
        json!({ "case": case, "folder": inbox, "role": "drop", "upload_cap": 1_000_000 }),
    )
    .await;
    let token = token_of(&created);
    let password = created["password"].as_str().expect("a password").to_owned();
    let mut lab = Recipient::new(&practice);
    let form =
        json!({ "password": password, "name": "Dental Lab Schmidt", "email": "lab@example.org" });
    let info = lab.open_with(&practice, &token, form).await;
    assert_eq!(info["role"], "drop");

    assert_eq!(lab.get(&practice, "/api/v1/link/tree").await.status(), 403);
    assert_eq!(lab.get(&practice, "/api/v1/link/zip").await.status(), 403);
    let upload = |name: &'static str, body: &'static [u8]| {
        lab.request(&practice, Method::POST, "/api/v1/link/files")
            .header("x-file-name", name)
            .body(body)
            .send()
    };
    // The same name as an existing file: stored beside it, the dropper none the wiser.
    let view = expect_json(
        upload("crown.stl", b"new crown").await.expect("upload"),
        201,
    )
    .await;
    assert_eq!(view["name"], "crown.stl");
    expect_json(
        upload("notes.txt", b"bite notes").await.expect("upload"),
        201,
    )
    .await;
    let dropped = view["id"].as_str().expect("an id");
    let read = lab
        .get(&practice, &format!("/api/v1/link/files/{dropped}/content"))
        .await;
    assert_eq!(
        read.status(),
        403,
        "a dropper cannot read even their own file"
    );
    let receipt = lab
        .request(&practice, Method::POST, "/api/v1/link/receipt")
        .send()
        .await
        .expect("receipt");
    let receipt = expect_json(receipt, 200).await;
    let names: Vec<&str> = receipt["files"]
        .as_array()
        .expect("files")
        .iter()
        .filter_map(|f| f["name"].as_str())
        .collect();
    assert_eq!(names, ["crown.stl", "notes.txt"]);

    let tree = practice.tree(&dr, &case).await;
    let mut names: Vec<&str> = tree["files"]
        .as_array()
        .expect("files")
        .iter()
        .filter_map(|f| f["name"].as_str())
        .collect();
    names.sort_unstable();
    assert_eq!(names, ["crown (2).stl", "crown.stl", "notes.txt"]);
    let quota = practice.quota_of(&dr).await;
    assert_eq!(
        quota.used,
        quota_before.used + 9 + 10,
        "drops count against the owner"
    );
    let view = grant_view(&practice, &dr, created["grant"]["id"].as_str().expect("id")).await;
    assert_eq!(view["uploaded"], 19);
}

#[tokio::test(flavor = "multi_thread")]
async fn colleagues_see_what_is_shared_with_them_until_it_is_revoked() {
    let practice = Practice::spawn().await;
    let dr = practice.user("dr").await;
    let colleague = practice.user("colleague").await;
    let case = practice.new_case(&dr).await;
    let shared = id_of(&practice.folder(&dr, &case, "For the surgeon", None).await);
    let inside = id_of(
        &practice
            .upload_to(
                &dr,
                &case,
                &format!("?folder={shared}"),
                "cbct.dcm",
                b"DICM data",
            )
            .await,
    );
    let outside = id_of(&practice.upload(&dr, &case, "private.txt", b"private").await);
    let created = share(
        &practice,
        &dr,
        json!({ "case": case, "folder": shared, "role": "read", "colleague": colleague.email }),
    )
    .await;
    assert!(created["link"].is_null() && created["password"].is_null());
    let mine = practice
        .send(&colleague, Method::GET, "/api/v1/shared-with-me", None)
        .await;
    let mine = expect_json(mine, 200).await;
    assert_eq!(mine["items"][0]["case"], case.as_str());
    assert_eq!(mine["items"][0]["role"], "read");
    let tree = practice.tree(&colleague, &case).await;
    let names: Vec<&str> = tree["files"]
        .as_array()
        .expect("files")
        .iter()
        .filter_map(|f| f["name"].as_str())
        .collect();
    assert_eq!(names, ["cbct.dcm"]);
    assert_eq!(
        practice.download(&colleague, &case, &inside).await,
        b"DICM data"
    );
    let path = format!("/api/v1/cases/{case}/files/{outside}/content");
    assert_eq!(
        practice
            .send(&colleague, Method::GET, &path, None)
            .await
            .status(),
        404
    );
    let upload = practice
        .try_upload(&colleague, &case, "", "x.txt", b"x")
        .await;
    assert_eq!(upload.status(), 403, "a read grant does not upload");
    let history = practice
        .send(
            &colleague,
            Method::GET,
            &format!("/api/v1/cases/{case}/history"),
            None,
        )
        .await;
    assert_eq!(history.status(), 403);

    let grant = created["grant"]["id"].as_str().expect("an id");
    let revoke = practice
        .send(
            &dr,
            Method::DELETE,
            &format!("/api/v1/grants/{grant}"),
            None,
        )
        .await;
    assert_eq!(revoke.status(), 204);
    let path = format!("/api/v1/cases/{case}/files/{inside}/content");
    assert_eq!(
        practice
            .send(&colleague, Method::GET, &path, None)
            .await
            .status(),
        404
    );
    let list = practice
        .send(&dr, Method::GET, "/api/v1/grants?status=revoked", None)
        .await;
    let list = expect_json(list, 200).await;
    assert_eq!(list["grants"].as_array().map(Vec::len), Some(1));

    // An edit grant lets the colleague upload, charged to the owner.
    share(
        &practice,
        &dr,
        json!({ "case": case, "role": "edit", "colleague": colleague.email }),
    )
    .await;
    let before = practice.quota_of(&dr).await.used;
    practice
        .upload(&colleague, &case, "report.pdf", b"%PDF-1.7 report")
        .await;
    assert_eq!(practice.quota_of(&dr).await.used, before + 15);
    assert_eq!(practice.quota_of(&colleague).await.used, 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_revocation_stops_a_download_in_progress() {
    let practice = Practice::spawn().await;
    let dr = practice.user("dr").await;
    let case = practice.new_case(&dr).await;
    let bytes = bytes_of(24 * 1024 * 1024, 4);
    let file = id_of(&practice.upload(&dr, &case, "big.mp4", &bytes).await);
    let created = share(
        &practice,
        &dr,
        json!({ "case": case, "file": file, "role": "read", "download_limit": 1,
                "no_password": true }),
    )
    .await;
    let grant = created["grant"]["id"].as_str().expect("an id").to_owned();
    let mut patient = Recipient::new(&practice);
    patient.open(&practice, &token_of(&created), "").await;
    let response = patient
        .get(&practice, &format!("/api/v1/link/files/{file}/content"))
        .await;
    assert_eq!(response.status(), 200);
    let mut body = response.bytes_stream();
    let first = body.next().await.expect("a first chunk").expect("bytes");
    assert!(!first.is_empty());
    let revoke = practice
        .send(
            &dr,
            Method::DELETE,
            &format!("/api/v1/grants/{grant}"),
            None,
        )
        .await;
    assert_eq!(revoke.status(), 204);
    let mut received = first.len();
    let mut failed = false;
    while let Some(chunk) = body.next().await {
        match chunk {
            Ok(chunk) => received += chunk.len(),
            Err(_) => {
                failed = true;
                break;
            }
        }
    }
    assert!(failed, "the transfer broke off");
    assert!(received < bytes.len(), "not every byte arrived: {received}");
    let view = grant_view(&practice, &dr, &grant).await;
    assert_eq!(
        (view["status"].as_str(), view["downloads"].as_u64()),
        (Some("revoked"), Some(0))
    );
    let again = patient.get(&practice, "/api/v1/link").await;
    assert_eq!(expect_error(again, 404).await, "link_unavailable");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_link_expires_at_its_second() {
    let practice = Practice::spawn().await;
    let dr = practice.user("dr").await;
    let case = practice.new_case(&dr).await;
    let file = id_of(
        &practice
            .upload(&dr, &case, "x-ray.png", b"\x89PNG\r\n\x1a\n....")
            .await,
    );
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("after 1970")
        .as_millis() as i64;
    let expires_at = now + 3_000;
    let created = share(
        &practice,
        &dr,
        json!({ "case": case, "file": file, "role": "read", "no_password": true,
                "expires_at": expires_at }),
    )
    .await;
    let mut patient = Recipient::new(&practice);
    patient.open(&practice, &token_of(&created), "").await;
    let path = format!("/api/v1/link/files/{file}/content");
    assert_eq!(patient.get(&practice, &path).await.status(), 200);
    let wait = expires_at - now + 50;
    tokio::time::sleep(Duration::from_millis(wait as u64)).await;
    assert_eq!(
        expect_error(patient.get(&practice, &path).await, 404).await,
        "link_unavailable"
    );
    let view = grant_view(&practice, &dr, created["grant"]["id"].as_str().expect("id")).await;
    assert_eq!(view["status"], "expired");
}

#[tokio::test(flavor = "multi_thread")]
async fn wrong_passwords_lock_a_link_until_its_owner_unlocks_it() {
    let practice = Practice::spawn().await;
    AuthRuntime::configure(
        &practice.state,
        AuthPolicy {
            throttle: ThrottlePolicy {
                lockout_failures: 1000,
                ..ThrottlePolicy::for_tests()
            },
            ..AuthPolicy::default()
        },
    );
    let dr = practice.user("dr").await;
    let case = practice.new_case(&dr).await;
    let file = id_of(&practice.upload(&dr, &case, "r.pdf", b"%PDF-1.4").await);
    let created = share(
        &practice,
        &dr,
        json!({ "case": case, "file": file, "role": "read", "password": "right password" }),
    )
    .await;
    let grant = created["grant"]["id"].as_str().expect("an id").to_owned();
    let token = token_of(&created);
    let mut attacker = Recipient::new(&practice);
    for attempt in 0..10 {
        let response = attacker
            .unlock(
                &practice,
                &token,
                json!({ "password": format!("wrong {attempt}") }),
            )
            .await;
        assert_eq!(response.status(), 401, "attempt {attempt}");
    }
    let response = attacker
        .unlock(&practice, &token, json!({ "password": "right password" }))
        .await;
    assert_eq!(expect_error(response, 403).await, "link_locked");
    let view = grant_view(&practice, &dr, &grant).await;
    assert_eq!(view["status"], "locked");
    let history = practice.history(&dr, &case).await;
    assert!(history.iter().any(|e| e["action"] == "share.lock"));

    let unlock = practice
        .send(
            &dr,
            Method::PATCH,
            &format!("/api/v1/grants/{grant}"),
            Some(json!({ "unlock": true })),
        )
        .await;
    assert_eq!(expect_json(unlock, 200).await["status"], "active");
    let mut patient = Recipient::new(&practice);
    patient.open(&practice, &token, "right password").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_lab_drops_a_large_file_resumably_through_its_link() {
    use base64::Engine;
    let practice = Practice::spawn().await;
    let dr = practice.user("dr").await;
    let case = practice.new_case(&dr).await;
    practice
        .upload(&dr, &case, "impression.stl", b"the practice's own")
        .await;
    let created = share(&practice, &dr, json!({ "case": case, "role": "drop" })).await;
    let mut lab = Recipient::new(&practice);
    lab.open_with(
        &practice,
        &token_of(&created),
        json!({ "password": created["password"], "name": "Lab" }),
    )
    .await;
    let bytes = bytes_of(3 * 1024 * 1024 + 11, 9);
    let name = base64::engine::general_purpose::STANDARD.encode("impression.stl");
    let response = lab
        .request(&practice, Method::POST, "/api/v1/uploads")
        .header("tus-resumable", "1.0.0")
        .header("upload-length", bytes.len().to_string())
        .header("upload-metadata", format!("filename {name}"))
        .send()
        .await
        .expect("create");
    assert_eq!(response.status(), 201);
    let location = response.headers()["location"]
        .to_str()
        .expect("ASCII")
        .to_owned();
    let path = location
        .strip_prefix(&practice.app.address)
        .expect("on this server")
        .to_owned();
    let half = bytes.len() / 2;
    let mut file_id = None;
    for (offset, piece) in [(0, &bytes[..half]), (half, &bytes[half..])] {
        let response = lab
            .request(&practice, Method::PATCH, &path)
            .header("tus-resumable", "1.0.0")
            .header("content-type", "application/offset+octet-stream")
            .header("upload-offset", offset.to_string())
            .body(piece.to_vec())
            .send()
            .await
            .expect("PATCH");
        assert_eq!(response.status(), 204);
        file_id = response
            .headers()
            .get("x-file-id")
            .map(|v| v.to_str().expect("ASCII").to_owned());
    }
    let file_id = file_id.expect("the stored file");
    // The owner has both files; the dropper's kept its own name in the receipt only.
    let tree = practice.tree(&dr, &case).await;
    let dropped = tree["files"]
        .as_array()
        .expect("files")
        .iter()
        .find(|f| f["id"] == file_id.as_str())
        .expect("the dropped file is in the case")
        .clone();
    assert_eq!(dropped["name"], "impression (2).stl");
    assert_eq!(practice.download(&dr, &case, &file_id).await, bytes);
    let receipt = lab
        .request(&practice, Method::POST, "/api/v1/link/receipt")
        .send()
        .await
        .expect("receipt");
    let receipt = expect_json(receipt, 200).await;
    assert_eq!(receipt["files"][0]["name"], "impression.stl");
    assert_eq!(receipt["files"][0]["size"], bytes.len());
    // Another session cannot see or feed the upload.
    let stranger = Recipient::new(&practice);
    let head = stranger
        .request(&practice, Method::HEAD, &path)
        .header("tus-resumable", "1.0.0")
        .send()
        .await
        .expect("HEAD");
    assert_eq!(head.status(), 401);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_revocation_stops_a_colleagues_download_in_progress() {
    let practice = Practice::spawn().await;
    let dr = practice.user("dr").await;
    let colleague = practice.user("colleague").await;
    let case = practice.new_case(&dr).await;
    let bytes = bytes_of(24 * 1024 * 1024, 5);
    let file = id_of(&practice.upload(&dr, &case, "cbct.zip", &bytes).await);
    let created = share(
        &practice,
        &dr,
        json!({ "case": case, "role": "read", "colleague": colleague.email }),
    )
    .await;
    let path = format!("/api/v1/cases/{case}/files/{file}/content");
    let response = practice.send(&colleague, Method::GET, &path, None).await;
    assert_eq!(response.status(), 200);
    let mut body = response.bytes_stream();
    let mut received = body.next().await.expect("a chunk").expect("bytes").len();
    let grant = created["grant"]["id"].as_str().expect("an id");
    let revoke = practice
        .send(
            &dr,
            Method::DELETE,
            &format!("/api/v1/grants/{grant}"),
            None,
        )
        .await;
    assert_eq!(revoke.status(), 204);
    let mut failed = false;
    while let Some(chunk) = body.next().await {
        match chunk {
            Ok(chunk) => received += chunk.len(),
            Err(_) => {
                failed = true;
                break;
            }
        }
    }
    assert!(
        failed && received < bytes.len(),
        "stopped after {received} bytes"
    );
    assert_eq!(
        practice
            .send(&colleague, Method::GET, &path, None)
            .await
            .status(),
        404
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_dropped_folder_keeps_its_structure() {
    let practice = Practice::spawn().await;
    let dr = practice.user("dr").await;
    let case = practice.new_case(&dr).await;
    practice
        .upload(&dr, &case, "Scans", b"a file named like the folder")
        .await;
    let created = share(&practice, &dr, json!({ "case": case, "role": "drop" })).await;
    let mut lab = Recipient::new(&practice);
    lab.open_with(
        &practice,
        &token_of(&created),
        json!({ "password": created["password"] }),
    )
    .await;
    for (path, name) in [
        ("Scans/Upper", "a.stl"),
        ("Scans/Upper", "b.stl"),
        ("Scans/Lower", "c.stl"),
    ] {
        let response = lab
            .request(&practice, Method::POST, "/api/v1/link/files")
            .header("x-folder-path", path)
            .header("x-file-name", name)
            .body(name.as_bytes().to_vec())
            .send()
            .await
            .expect("upload");
        assert_eq!(response.status(), 201, "{path}/{name}");
    }
    // The owner sees the structure under a free name beside their own file "Scans".
    let tree = practice.tree(&dr, &case).await;
    let folders = tree["folders"].as_array().expect("folders");
    let name_of = |id: &Value| {
        folders
            .iter()
            .find(|f| &f["id"] == id)
            .map(|f| f["name"].as_str().unwrap_or_default().to_owned())
    };
    let mut paths: Vec<String> = tree["files"]
        .as_array()
        .expect("files")
        .iter()
        .filter(|f| !f["folder"].is_null())
        .map(|f| {
            let folder = folders
                .iter()
                .find(|d| d["id"] == f["folder"])
                .expect("its folder");
            let parent = name_of(&folder["parent"]).unwrap_or_default();
            format!(
                "{parent}/{}/{}",
                folder["name"].as_str().unwrap_or_default(),
                f["name"].as_str().unwrap_or_default()
            )
        })
        .collect();
    paths.sort();
    assert_eq!(
        paths,
        [
            "Scans (2)/Lower/c.stl",
            "Scans (2)/Upper/a.stl",
            "Scans (2)/Upper/b.stl"
        ]
    );
    // The folders the drop made are in the history, with the share and the address.
    let grant = created["grant"]["id"].as_str().expect("an id");
    let made: Vec<Value> = practice
        .history(&dr, &case)
        .await
        .into_iter()
        .filter(|e| e["action"] == "folder.create")
        .collect();
    assert_eq!(made.len(), 3, "Scans (2), Upper, Lower");
    assert!(
        made.iter()
            .all(|e| e["grant"] == grant && e["ip"] == "127.0.0.1")
    );
    // An owner's own upload into a path through a file's name is refused plainly.
    let response = practice
        .upload_request(&dr, &case, "", "x.stl")
        .header("x-folder-path", "Scans/Deeper")
        .body(b"x".to_vec())
        .send()
        .await
        .expect("upload");
    assert_eq!(expect_error(response, 409).await, "conflict");
}
