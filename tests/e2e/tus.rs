//! Resumable uploads (tus 1.0): creation, offsets, a connection that breaks mid-PATCH and a
//! resume from the offset the server reports, termination, expiry, and refusals.

use casevault_server::admin::storage::Timestamp;
use casevault_tests::{Practice, TestUser, expect_error};
use reqwest::{Method, Response};
use tokio::io::AsyncWriteExt;

const TUS: (&str, &str) = ("tus-resumable", "1.0.0");

fn b64(text: &str) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(text)
}

/// Deterministic bytes that never repeat at chunk boundaries.
fn data(len: usize) -> Vec<u8> {
    let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
    (0..len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 32) as u8
        })
        .collect()
}

async fn create(
    practice: &Practice,
    user: &TestUser,
    case: &str,
    name: &str,
    len: u64,
) -> Response {
    practice
        .request(Some(user), Method::POST, "/api/v1/uploads")
        .header(TUS.0, TUS.1)
        .header("upload-length", len.to_string())
        .header(
            "upload-metadata",
            format!("filename {},case {}", b64(name), b64(case)),
        )
        .send()
        .await
        .expect("POST /uploads")
}

/// Creates an upload and returns its path (`/api/v1/uploads/<id>`).
async fn start(practice: &Practice, user: &TestUser, case: &str, name: &str, len: u64) -> String {
    let response = create(practice, user, case, name, len).await;
    assert_eq!(response.status(), 201, "creation succeeds");
    assert_eq!(response.headers()["tus-resumable"], "1.0.0");
    assert!(response.headers().contains_key("upload-expires"));
    let location = response.headers()["location"]
        .to_str()
        .expect("ASCII")
        .to_owned();
    let path = location
        .strip_prefix(&practice.app.address)
        .expect("the location is on this server")
        .to_owned();
    assert!(path.starts_with("/api/v1/uploads/"), "{path}");
    path
}

async fn patch(
    practice: &Practice,
    user: &TestUser,
    path: &str,
    offset: u64,
    body: &[u8],
) -> Response {
    practice
        .request(Some(user), Method::PATCH, path)
        .header(TUS.0, TUS.1)
        .header("content-type", "application/offset+octet-stream")
        .header("upload-offset", offset.to_string())
        .body(body.to_vec())
        .send()
        .await
        .expect("PATCH")
}

async fn offset(practice: &Practice, user: &TestUser, path: &str) -> u64 {
    let response = practice
        .request(Some(user), Method::HEAD, path)
        .header(TUS.0, TUS.1)
        .send()
        .await
        .expect("HEAD");
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["cache-control"], "no-store");
    response.headers()["upload-offset"]
        .to_str()
        .expect("ASCII")
        .parse()
        .expect("a number")
}

#[tokio::test(flavor = "multi_thread")]
async fn an_upload_in_pieces_is_stored_whole() {
    let practice = Practice::spawn().await;
    let ann = practice.user("ann").await;
    let case = practice.new_case(&ann).await;
    let bytes = data(3 * 1024 * 1024 + 17);
    let path = start(
        &practice,
        &ann,
        &case,
        "CBCT série 1.zip",
        bytes.len() as u64,
    )
    .await;
    assert_eq!(offset(&practice, &ann, &path).await, 0);
    let cuts = [0, 1, 65_537, 2 * 1024 * 1024, bytes.len()];
    let mut file_id = None;
    for pair in cuts.windows(2) {
        let response = patch(
            &practice,
            &ann,
            &path,
            pair[0] as u64,
            &bytes[pair[0]..pair[1]],
        )
        .await;
        assert_eq!(response.status(), 204);
        assert_eq!(
            response.headers()["upload-offset"],
            pair[1].to_string().as_str()
        );
        file_id = response
            .headers()
            .get("x-file-id")
            .map(|v| v.to_str().expect("ASCII").to_owned());
        assert_eq!(offset(&practice, &ann, &path).await, pair[1] as u64);
    }
    let file_id = file_id.expect("the last PATCH names the stored file");
    assert_eq!(practice.download(&ann, &case, &file_id).await, bytes);
    let tree = practice.tree(&ann, &case).await;
    assert_eq!(tree["files"][0]["name"], "CBCT série 1.zip");
    let quota = practice.quota_of(&ann).await;
    assert_eq!((quota.used, quota.reserved), (bytes.len() as u64, 0));
    let history = practice.history(&ann, &case).await;
    assert!(
        history
            .iter()
            .any(|e| e["action"] == "file.upload" && e["file"] == file_id.as_str())
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_broken_connection_resumes_from_the_reported_offset() {
    let practice = Practice::spawn().await;
    let ann = practice.user("ann").await;
    let case = practice.new_case(&ann).await;
    let bytes = data(2 * 1024 * 1024 + 5);
    let path = start(&practice, &ann, &case, "scan.stl", bytes.len() as u64).await;

    // Announce the whole body, send a part, then cut the connection.
    let config = practice
        .app
        .tls_config(&[&rustls::version::TLS13], &[b"http/1.1"]);
    let mut tls = practice
        .app
        .tls_connect(config)
        .await
        .expect("TLS connection");
    let head = format!(
        "PATCH {path} HTTP/1.1\r\nhost: localhost\r\ncookie: {}\r\nx-csrf-token: {}\r\n\
         tus-resumable: 1.0.0\r\ncontent-type: application/offset+octet-stream\r\n\
         upload-offset: 0\r\ncontent-length: {}\r\n\r\n",
        ann.session.cookie(),
        ann.session.csrf,
        bytes.len()
    );
    tls.write_all(head.as_bytes()).await.expect("send the head");
    let sent = 1024 * 1024 + 4321;
    tls.write_all(&bytes[..sent])
        .await
        .expect("send part of the body");
    tls.flush().await.expect("flush");
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    drop(tls);

    // The server keeps what it received (HEAD waits for the broken request to let go of the
    // upload); the client goes on from there.
    let resumed_at = offset(&practice, &ann, &path).await;
    assert!(
        resumed_at > 0 && resumed_at <= sent as u64,
        "kept {resumed_at} of {sent}"
    );
    let response = patch(
        &practice,
        &ann,
        &path,
        resumed_at,
        &bytes[resumed_at as usize..],
    )
    .await;
    assert_eq!(response.status(), 204);
    let file = response.headers()["x-file-id"]
        .to_str()
        .expect("ASCII")
        .to_owned();
    assert_eq!(practice.download(&ann, &case, &file).await, bytes);
}

#[tokio::test(flavor = "multi_thread")]
async fn refusals_are_clear_and_leave_nothing() {
    let practice = Practice::spawn().await;
    let ann = practice.user("ann").await;
    let bob = practice.user("bob").await;
    let case = practice.new_case(&ann).await;
    let before = practice.snapshot(&ann, &case).await;
    let path = start(&practice, &ann, &case, "a.bin", 10).await;

    // Protocol errors.
    let response = practice
        .request(Some(&ann), Method::PATCH, &path)
        .header("content-type", "application/offset+octet-stream")
        .header("upload-offset", "0")
        .body(vec![1])
        .send()
        .await
        .expect("PATCH");
    assert_eq!(response.status(), 412, "Tus-Resumable is required");
    assert_eq!(response.headers()["tus-version"], "1.0.0");
    let response = practice
        .request(Some(&ann), Method::PATCH, &path)
        .header(TUS.0, TUS.1)
        .header("upload-offset", "0")
        .body(vec![1])
        .send()
        .await
        .expect("PATCH");
    assert_eq!(response.status(), 415);
    assert_eq!(
        expect_error(patch(&practice, &ann, &path, 3, b"x").await, 409).await,
        "conflict"
    );
    // Past the announced length: the upload ends and leaves nothing.
    assert_eq!(
        expect_error(patch(&practice, &ann, &path, 0, &[0; 11]).await, 400).await,
        "bad_request"
    );
    let response = practice
        .request(Some(&ann), Method::HEAD, &path)
        .header(TUS.0, TUS.1)
        .send()
        .await
        .expect("HEAD");
    assert_eq!(response.status(), 404);
    practice.assert_left_as(&ann, &case, &before).await;

    // Someone else's upload does not exist for them; a terminated one is gone.
    let path = start(&practice, &ann, &case, "b.bin", 10).await;
    assert_eq!(
        patch(&practice, &ann, &path, 0, b"12345").await.status(),
        204
    );
    assert_eq!(practice.quota_of(&ann).await.reserved, 10);
    assert_eq!(
        patch(&practice, &bob, &path, 5, b"67890").await.status(),
        404
    );
    let response = practice
        .request(Some(&ann), Method::DELETE, &path)
        .header(TUS.0, TUS.1)
        .send()
        .await
        .expect("DELETE");
    assert_eq!(response.status(), 204);
    assert_eq!(
        patch(&practice, &ann, &path, 5, b"67890").await.status(),
        404
    );
    practice.assert_left_as(&ann, &case, &before).await;

    // More than the quota is refused at creation, a case of someone else is not found.
    practice.set_user_quota(&ann, 1000).await;
    assert_eq!(
        expect_error(create(&practice, &ann, &case, "c.bin", 1001).await, 413).await,
        "quota_exceeded"
    );
    assert_eq!(
        expect_error(create(&practice, &bob, &case, "c.bin", 1).await, 404).await,
        "not_found"
    );
    let response = practice
        .request(Some(&ann), Method::POST, "/api/v1/uploads")
        .header(TUS.0, TUS.1)
        .header("upload-length", "1")
        .header("upload-metadata", format!("case {}", b64(&case)))
        .send()
        .await
        .expect("POST");
    assert_eq!(
        expect_error(response, 400).await,
        "bad_request",
        "the file name is required"
    );
    let response = practice
        .request(Some(&ann), Method::OPTIONS, "/api/v1/uploads")
        .send()
        .await
        .expect("OPTIONS");
    assert_eq!(response.status(), 204);
    assert!(
        response.headers()["tus-extension"]
            .to_str()
            .expect("ASCII")
            .contains("creation")
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn expired_uploads_are_swept_and_release_their_reservation() {
    let practice = Practice::spawn().await;
    let ann = practice.user("ann").await;
    let case = practice.new_case(&ann).await;
    let before = practice.snapshot(&ann, &case).await;
    let path = start(&practice, &ann, &case, "late.bin", 100).await;
    assert_eq!(
        patch(&practice, &ann, &path, 0, &[7; 40]).await.status(),
        204
    );
    assert_eq!(
        practice.state.uploads.sweep(Timestamp::now()).await,
        0,
        "not expired yet"
    );
    let later = Timestamp(Timestamp::now().0 + 21 * 60 * 60 * 1000);
    assert_eq!(practice.state.uploads.sweep(later).await, 1);
    assert_eq!(
        patch(&practice, &ann, &path, 40, &[7; 60]).await.status(),
        404
    );
    practice.assert_left_as(&ann, &case, &before).await;
}
