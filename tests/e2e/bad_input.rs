//! Hostile and broken requests: bad file names, bodies that do not match their
//! Content-Length, uploads beyond the quota, two uploads racing for one name, unknown and
//! malformed ids, invalid JSON. After each refusal nothing may be left behind: no file, no
//! used or reserved quota, no object.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use casevault_tests::{
    Practice, SETTLE_TIMEOUT, TestUser, expect_error, expect_json, id_of, percent_encode,
    pseudo_random, sha256_hex,
};
use futures::StreamExt;
use reqwest::{Method, Version};
use rustls::version::TLS13;
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const MIB: usize = 1024 * 1024;

/// A body stream of `bytes` in 64 KiB pieces, with no announced length (chunked in
/// HTTP/1.1, DATA frames without `content-length` in HTTP/2).
fn stream_body(bytes: Vec<u8>) -> reqwest::Body {
    let pieces: Vec<Result<Bytes, std::io::Error>> = bytes
        .chunks(64 * 1024)
        .map(|c| Ok(Bytes::copy_from_slice(c)))
        .collect();
    reqwest::Body::wrap_stream(futures::stream::iter(pieces))
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_file_names_are_refused() {
    let practice = Practice::spawn().await;
    let ann = practice.user("ann").await;
    let case = practice.new_case(&ann).await;
    practice.upload(&ann, &case, "existing.txt", b"x").await;
    let before = practice.snapshot(&ann, &case).await;
    let table: Vec<(&str, Vec<u8>)> = vec![
        ("empty", b"".to_vec()),
        ("dot", b".".to_vec()),
        ("dot dot", b"..".to_vec()),
        ("encoded dot dot", b"%2E%2E".to_vec()),
        ("slash", b"a/b".to_vec()),
        ("encoded slash", b"a%2Fb".to_vec()),
        ("path", b"..%2F..%2Fetc%2Fpasswd".to_vec()),
        ("backslash", b"a\\b".to_vec()),
        ("encoded backslash", b"..%5C..%5Cboot.ini".to_vec()),
        ("NUL", b"a%00b".to_vec()),
        ("line feed", b"a%0Ab".to_vec()),
        ("header injection", b"a%0D%0ASet-Cookie:%20x".to_vec()),
        ("tab", b"a%09b".to_vec()),
        ("escape", b"%1B%5B31m.txt".to_vec()),
        ("DEL", b"a%7Fb".to_vec()),
        ("C1 control", b"a%C2%85b".to_vec()),
        ("256 bytes", "a".repeat(256).into_bytes()),
        (
            "256 bytes of UTF-8",
            percent_encode(&"é".repeat(128)).into_bytes(),
        ),
        ("truncated escape", b"a%2".to_vec()),
        ("escape of non-hex", b"a%zz".to_vec()),
        ("lone percent", b"100%".to_vec()),
        ("invalid UTF-8", b"%FF%FE".to_vec()),
        ("overlong UTF-8", b"%C0%AF".to_vec()),
        ("UTF-16 surrogate", b"%ED%A0%80".to_vec()),
        ("raw invalid UTF-8", b"a\xffb".to_vec()),
        ("leading space", b"%20a".to_vec()),
        ("trailing space", b"a%20".to_vec()),
    ];
    for (what, raw) in &table {
        let value = reqwest::header::HeaderValue::from_bytes(raw).expect("a header value");
        let response = practice
            .request(
                Some(&ann),
                Method::POST,
                &format!("/api/v1/cases/{case}/files"),
            )
            .header("x-file-name", value)
            .body(b"contents".to_vec())
            .send()
            .await
            .expect("upload");
        assert_eq!(expect_error(response, 400).await, "bad_request", "{what}");
    }
    let missing = practice
        .request(
            Some(&ann),
            Method::POST,
            &format!("/api/v1/cases/{case}/files"),
        )
        .body(b"contents".to_vec())
        .send()
        .await
        .expect("upload");
    assert_eq!(expect_error(missing, 400).await, "bad_request");

    // The same names for folders and renames.
    let file = practice.upload(&ann, &case, "file.txt", b"y").await;
    let before_renames = practice.snapshot(&ann, &case).await;
    let names = [
        "",
        ".",
        "..",
        "a/b",
        "a\\b",
        "a\0b",
        "a\nb",
        "a\u{85}b",
        " a",
        "a ",
        &"a".repeat(256),
    ];
    for name in names {
        let path = format!("/api/v1/cases/{case}/folders");
        let response = practice
            .send(&ann, Method::POST, &path, Some(json!({ "name": name })))
            .await;
        assert_eq!(
            expect_error(response, 400).await,
            "bad_request",
            "folder {name:?}"
        );
        let path = format!("/api/v1/cases/{case}/files/{}", id_of(&file));
        let response = practice
            .send(&ann, Method::PATCH, &path, Some(json!({ "name": name })))
            .await;
        assert_eq!(
            expect_error(response, 400).await,
            "bad_request",
            "rename {name:?}"
        );
    }
    practice.assert_left_as(&ann, &case, &before_renames).await;
    let path = format!("/api/v1/cases/{case}/files/{}", id_of(&file));
    assert_eq!(
        practice
            .send(&ann, Method::DELETE, &path, None)
            .await
            .status(),
        204
    );
    practice.assert_left_as(&ann, &case, &before).await;

    // 255 bytes is the longest name.
    for name in ["a".repeat(255), format!("{}a", "é".repeat(127))] {
        let view = practice.upload(&ann, &case, &name, b"z").await;
        assert_eq!(view["name"], name.as_str());
    }
}

/// Sends a raw HTTP/1.1 upload announcing `content_length` bytes and sending `body`; then
/// either closes the write side and reads the answer, or drops the connection at once.
async fn raw_upload(
    practice: &Practice,
    user: &TestUser,
    case: &str,
    content_length: usize,
    body: &[u8],
    read_answer: bool,
) -> String {
    let tls = practice
        .app
        .tls_connect(practice.app.tls_config(&[&TLS13], &[b"http/1.1"]))
        .await
        .expect("TLS handshake");
    let (mut reader, mut writer) = tokio::io::split(tls);
    let head = format!(
        "POST /api/v1/cases/{case}/files HTTP/1.1\r\nHost: localhost\r\n\
         Cookie: {}\r\nX-CSRF-Token: {}\r\nX-File-Name: lying.bin\r\n\
         Content-Type: application/octet-stream\r\nContent-Length: {content_length}\r\n\r\n",
        user.session.cookie(),
        user.session.csrf,
    );
    writer
        .write_all(head.as_bytes())
        .await
        .expect("send the head");
    writer.write_all(body).await.expect("send the body");
    writer.flush().await.expect("flush");
    if !read_answer {
        return String::new();
    }
    writer.shutdown().await.expect("close the write side");
    let mut answer = Vec::new();
    tokio::time::timeout(SETTLE_TIMEOUT, reader.read_to_end(&mut answer))
        .await
        .expect("the server answers and closes")
        .ok();
    String::from_utf8_lossy(&answer).into_owned()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_body_shorter_than_its_content_length_leaves_nothing() {
    let practice = Practice::spawn().await;
    let ann = practice.user("ann").await;
    let case = practice.new_case(&ann).await;
    practice.upload(&ann, &case, "kept.txt", b"kept").await;
    let before = practice.snapshot(&ann, &case).await;
    let big = pseudo_random(5, 5 * MIB / 2);
    for (announced, sent) in [(100_000, &big[..1000]), (4 * MIB, &big[..])] {
        let answer = raw_upload(&practice, &ann, &case, announced, sent, true).await;
        assert!(
            answer.starts_with("HTTP/1.1 400"),
            "{announced} announced, {} sent: {answer}",
            sent.len()
        );
        practice.assert_left_as(&ann, &case, &before).await;

        raw_upload(&practice, &ann, &case, announced, sent, false).await;
        practice.assert_left_as(&ann, &case, &before).await;
    }
}

/// Waits until the server holds a reservation for an upload of `user`.
async fn wait_for_reservation(practice: &Practice, user: &TestUser) {
    let start = std::time::Instant::now();
    while practice.quota_of(user).await.reserved == 0 {
        assert!(start.elapsed() < SETTLE_TIMEOUT, "the upload never started");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_cancelled_upload_leaves_nothing() {
    let practice = Practice::spawn().await;
    let ann = practice.user("ann").await;
    let case = practice.new_case(&ann).await;
    let before = practice.snapshot(&ann, &case).await;

    // HTTP/1.1, chunked: two MiB, then the connection is dropped.
    let tls = practice
        .app
        .tls_connect(practice.app.tls_config(&[&TLS13], &[b"http/1.1"]))
        .await
        .expect("TLS handshake");
    let (_reader, mut writer) = tokio::io::split(tls);
    let head = format!(
        "POST /api/v1/cases/{case}/files HTTP/1.1\r\nHost: localhost\r\n\
         Cookie: {}\r\nX-CSRF-Token: {}\r\nX-File-Name: cancelled.bin\r\n\
         Transfer-Encoding: chunked\r\n\r\n",
        ann.session.cookie(),
        ann.session.csrf,
    );
    writer
        .write_all(head.as_bytes())
        .await
        .expect("send the head");
    for piece in pseudo_random(6, 2 * MIB).chunks(64 * 1024) {
        writer
            .write_all(format!("{:x}\r\n", piece.len()).as_bytes())
            .await
            .expect("a chunk size");
        writer.write_all(piece).await.expect("a chunk");
        writer.write_all(b"\r\n").await.expect("a chunk end");
    }
    writer.flush().await.expect("flush");
    wait_for_reservation(&practice, &ann).await;
    drop((_reader, writer));
    practice.assert_left_as(&ann, &case, &before).await;

    // HTTP/2: two MiB, then the stream is reset (the connection stays open); then two MiB
    // on another stream, and the whole connection is dropped.
    for reset in [false, true] {
        let tls = practice
            .app
            .tls_connect(practice.app.tls_config(&[&TLS13], &[b"h2"]))
            .await
            .expect("TLS handshake");
        let (mut sender, connection) = h2::client::handshake(tls).await.expect("h2 handshake");
        let connection = tokio::spawn(connection);
        let request = http::Request::post(practice.app.url(&format!("/api/v1/cases/{case}/files")))
            .header("cookie", ann.session.cookie())
            .header("x-csrf-token", &ann.session.csrf)
            .header("x-file-name", "cancelled.bin")
            .body(())
            .expect("a request");
        sender = sender.ready().await.expect("ready to send");
        let (response, mut stream) = sender.send_request(request, false).expect("send");
        for piece in pseudo_random(7, 2 * MIB).chunks(16 * 1024) {
            stream.reserve_capacity(piece.len());
            while stream.capacity() < piece.len() {
                futures::future::poll_fn(|cx| stream.poll_capacity(cx))
                    .await
                    .expect("capacity")
                    .expect("capacity");
            }
            stream
                .send_data(Bytes::copy_from_slice(piece), false)
                .expect("send data");
        }
        wait_for_reservation(&practice, &ann).await;
        if reset {
            stream.send_reset(h2::Reason::CANCEL);
            drop(response);
            practice.assert_left_as(&ann, &case, &before).await;
            assert!(!connection.is_finished(), "the connection stays open");
        }
        connection.abort();
        drop((sender, stream));
        practice.assert_left_as(&ann, &case, &before).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn bytes_beyond_the_content_length_are_not_part_of_the_file() {
    let practice = Practice::spawn().await;
    let ann = practice.user("ann").await;
    let case = practice.new_case(&ann).await;
    let bytes = pseudo_random(7, 1500);
    let mut sent = bytes.clone();
    sent.extend_from_slice(b"\r\n\r\nnot a request\r\n\r\n");
    let answer = raw_upload(&practice, &ann, &case, 1000, &sent, true).await;
    assert!(answer.starts_with("HTTP/1.1 201"), "{answer}");
    let tree = practice.tree(&ann, &case).await;
    let files = tree["files"].as_array().expect("files");
    assert_eq!(files.len(), 1, "{tree}");
    assert_eq!(files[0]["size"], 1000);
    assert_eq!(files[0]["sha256"], sha256_hex(&bytes[..1000]));
    let quota = practice.quota_of(&ann).await;
    assert_eq!((quota.used, quota.reserved), (1000, 0));

    // Over HTTP/2, DATA beyond the announced content-length is an error of the stream.
    let before = practice.snapshot(&ann, &case).await;
    let client = practice.app.client_for(Version::HTTP_2);
    let result = practice
        .request_with(
            &client,
            Some(&ann),
            Method::POST,
            &format!("/api/v1/cases/{case}/files"),
        )
        .header("x-file-name", "longer.bin")
        .header("content-length", "1000")
        .body(stream_body(bytes.clone()))
        .send()
        .await;
    if let Ok(response) = result {
        assert_eq!(response.status(), 400, "a longer body is refused");
    }
    practice.assert_left_as(&ann, &case, &before).await;
}

/// Sends a raw HTTP/1.1 upload of `body` (with Content-Length or chunked) from a separate
/// task, and reads the server's answer (head and body) meanwhile.
async fn raw_upload_answer(
    practice: &Practice,
    user: &TestUser,
    case: &str,
    body: &[u8],
    announced: bool,
) -> String {
    let tls = practice
        .app
        .tls_connect(practice.app.tls_config(&[&TLS13], &[b"http/1.1"]))
        .await
        .expect("TLS handshake");
    let (mut reader, mut writer) = tokio::io::split(tls);
    let framing = if announced {
        format!("Content-Length: {}", body.len())
    } else {
        "Transfer-Encoding: chunked".to_owned()
    };
    let head = format!(
        "POST /api/v1/cases/{case}/files HTTP/1.1\r\nHost: localhost\r\n\
         Cookie: {}\r\nX-CSRF-Token: {}\r\nX-File-Name: too-big.bin\r\n{framing}\r\n\r\n",
        user.session.cookie(),
        user.session.csrf,
    );
    let body = body.to_vec();
    let sender = tokio::spawn(async move {
        writer.write_all(head.as_bytes()).await?;
        for piece in body.chunks(64 * 1024) {
            if announced {
                writer.write_all(piece).await?;
            } else {
                writer
                    .write_all(format!("{:x}\r\n", piece.len()).as_bytes())
                    .await?;
                writer.write_all(piece).await?;
                writer.write_all(b"\r\n").await?;
            }
        }
        if !announced {
            writer.write_all(b"0\r\n\r\n").await?;
        }
        writer.flush().await?;
        Ok::<_, std::io::Error>(writer)
    });
    let mut answer = Vec::new();
    let mut buf = [0u8; 4096];
    let read = async {
        loop {
            if let Some(end) = answer.windows(4).position(|w| w == b"\r\n\r\n") {
                let text = String::from_utf8_lossy(&answer[..end]).to_ascii_lowercase();
                let length: usize = text
                    .lines()
                    .find_map(|l| l.strip_prefix("content-length:"))
                    .and_then(|v| v.trim().parse().ok())
                    .unwrap_or(0);
                if answer.len() >= end + 4 + length {
                    return;
                }
            }
            match reader.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(n) => answer.extend_from_slice(&buf[..n]),
            }
        }
    };
    tokio::time::timeout(SETTLE_TIMEOUT, read)
        .await
        .expect("the server answers");
    sender.abort();
    String::from_utf8_lossy(&answer).into_owned()
}

#[tokio::test(flavor = "multi_thread")]
async fn uploads_beyond_the_quota_are_refused_and_leave_nothing() {
    let practice = Practice::spawn().await;
    let ann = practice.user("ann").await;
    let case = practice.new_case(&ann).await;
    practice.set_user_quota(&ann, MIB as u64).await;
    practice
        .upload(&ann, &case, "small.txt", &[1u8; 1000])
        .await;
    let before = practice.snapshot(&ann, &case).await;
    let big = pseudo_random(8, 3 * MIB);
    let path = format!("/api/v1/cases/{case}/files");
    // HTTP/2: the whole body is offered, announced or not.
    let client = practice.app.client_for(Version::HTTP_2);
    for announced in [true, false] {
        let body = if announced {
            reqwest::Body::from(big.clone())
        } else {
            stream_body(big.clone())
        };
        let response = practice
            .request_with(&client, Some(&ann), Method::POST, &path)
            .header("x-file-name", "too-big.bin")
            .body(body)
            .send()
            .await
            .expect("an upload over HTTP/2");
        assert_eq!(
            expect_error(response, 413).await,
            "quota_exceeded",
            "announced {announced}"
        );
        practice.assert_left_as(&ann, &case, &before).await;
    }
    // HTTP/1.1 by hand: the answer is read while the body is still being sent (a client
    // library stops at the broken pipe when the server answers early and closes).
    for announced in [true, false] {
        let answer = raw_upload_answer(&practice, &ann, &case, &big, announced).await;
        assert!(
            answer.starts_with("HTTP/1.1 413"),
            "announced {announced}: {answer}"
        );
        assert!(answer.contains("\"quota_exceeded\""), "{answer}");
        practice.assert_left_as(&ann, &case, &before).await;
    }
    // What is left fits exactly; one byte more does not.
    let rest = MIB - 1000;
    let fits = practice.upload(&ann, &case, "fits.bin", &big[..rest]).await;
    assert_eq!(fits["size"], rest);
    let full = practice.quota_of(&ann).await;
    assert_eq!(
        (full.used, full.reserved, full.limit),
        (MIB as u64, 0, MIB as u64)
    );
    let at_limit = practice.snapshot(&ann, &case).await;
    for body in [reqwest::Body::from(vec![0u8]), stream_body(vec![0u8])] {
        let response = practice
            .upload_request(&ann, &case, "", "one-more.bin")
            .body(body)
            .send()
            .await
            .expect("upload");
        assert_eq!(expect_error(response, 413).await, "quota_exceeded");
        practice.assert_left_as(&ann, &case, &at_limit).await;
    }
    // Deleting frees the room again.
    let file_path = format!("/api/v1/cases/{case}/files/{}", id_of(&fits));
    let deleted = practice.send(&ann, Method::DELETE, &file_path, None).await;
    assert_eq!(deleted.status(), 204);
    practice.assert_left_as(&ann, &case, &before).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn of_two_uploads_racing_for_one_name_exactly_one_wins() {
    let practice = Arc::new(Practice::spawn().await);
    let ann = practice.user("ann").await;
    let case = practice.new_case(&ann).await;
    for round in 0..3u64 {
        let name = format!("race-{round}.bin");
        let barrier = Arc::new(tokio::sync::Barrier::new(2));
        let mut tasks = Vec::new();
        for side in 0..2u64 {
            let contents = pseudo_random(100 + round * 2 + side, MIB + 17);
            let (practice, ann, case, name) =
                (practice.clone(), ann.clone(), case.clone(), name.clone());
            let barrier = barrier.clone();
            tasks.push(tokio::spawn(async move {
                // Both bodies start before either ends.
                let (head, tail) = contents.split_at(64 * 1024);
                let (head, tail) = (Bytes::copy_from_slice(head), Bytes::copy_from_slice(tail));
                let body = futures::stream::iter([head])
                    .chain(futures::stream::once(async move {
                        barrier.wait().await;
                        tail
                    }))
                    .map(Ok::<_, std::io::Error>);
                let response = practice
                    .upload_request(&ann, &case, "", &name)
                    .header("content-length", (MIB + 17).to_string())
                    .body(reqwest::Body::wrap_stream(body))
                    .send()
                    .await
                    .expect("upload");
                let status = response.status().as_u16();
                let body: serde_json::Value = response.json().await.expect("JSON");
                (status, body, contents)
            }));
        }
        let mut results = Vec::new();
        for task in tasks {
            results.push(task.await.expect("an upload task"));
        }
        results.sort_by_key(|(status, _, _)| *status);
        let statuses: Vec<u16> = results.iter().map(|(s, _, _)| *s).collect();
        assert_eq!(statuses, [201, 409], "round {round}: {results:?}");
        assert_eq!(results[1].1["error"]["code"], "conflict");
        let (_, winner, contents) = &results[0];
        assert_eq!(winner["sha256"], sha256_hex(contents));
        let tree = practice.tree(&ann, &case).await;
        let same_name: Vec<_> = tree["files"]
            .as_array()
            .expect("files")
            .iter()
            .filter(|f| f["name"] == name.as_str())
            .collect();
        assert_eq!(same_name, [winner], "round {round}");
        assert_eq!(
            &practice.download(&ann, &case, &id_of(winner)).await,
            contents
        );
        let before = practice.snapshot(&ann, &case).await;
        let quota = practice.quota_of(&ann).await;
        assert_eq!(
            (quota.used, quota.reserved),
            ((round + 1) * (MIB as u64 + 17), 0),
            "round {round}"
        );
        practice.assert_left_as(&ann, &case, &before).await;
        if practice.backend == casevault_tests::Backend::Local {
            assert_eq!(
                before.objects.len() as u64,
                round + 1,
                "{:#?}",
                before.objects
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn unknown_and_malformed_ids_are_not_found() {
    let practice = Practice::spawn().await;
    let ann = practice.user("ann").await;
    let case = practice.new_case(&ann).await;
    let folder = practice.folder(&ann, &case, "F", None).await;
    let file = id_of(&practice.upload(&ann, &case, "f.txt", b"f").await);
    let other_case = practice.new_case(&ann).await;
    let other_file = id_of(&practice.upload(&ann, &other_case, "g.txt", b"g").await);
    let before = practice.snapshot(&ann, &case).await;
    let bad_ids = [
        "0".repeat(32),
        "z".repeat(32),
        "abc".to_owned(),
        format!("{case}0"),
        case[..31].to_owned(),
        "a%2Fb".to_owned(),
        "%00".to_owned(),
        "-1".to_owned(),
    ];
    // (method, path with {case} and {file}, JSON body, upload)
    let endpoints: &[(Method, &str, Option<serde_json::Value>)] = &[
        (Method::GET, "/api/v1/cases/{case}", None),
        (
            Method::PATCH,
            "/api/v1/cases/{case}",
            Some(json!({ "title": "t" })),
        ),
        (Method::DELETE, "/api/v1/cases/{case}", None),
        (Method::GET, "/api/v1/cases/{case}/history", None),
        (Method::GET, "/api/v1/cases/{case}/tree", None),
        (
            Method::POST,
            "/api/v1/cases/{case}/folders",
            Some(json!({ "name": "n" })),
        ),
        (Method::POST, "/api/v1/cases/{case}/files", None),
        (Method::GET, "/api/v1/cases/{case}/files/{file}", None),
        (
            Method::PATCH,
            "/api/v1/cases/{case}/files/{file}",
            Some(json!({ "name": "n" })),
        ),
        (Method::DELETE, "/api/v1/cases/{case}/files/{file}", None),
        (
            Method::GET,
            "/api/v1/cases/{case}/files/{file}/content",
            None,
        ),
        (
            Method::HEAD,
            "/api/v1/cases/{case}/files/{file}/content",
            None,
        ),
    ];
    let folder_id = id_of(&folder);
    for (method, template, body) in endpoints {
        let mut paths = Vec::new();
        for bad in &bad_ids {
            paths.push(template.replace("{case}", bad).replace("{file}", &file));
            if template.contains("{file}") {
                paths.push(template.replace("{case}", &case).replace("{file}", bad));
            }
        }
        if template.contains("{file}") {
            // A real file of another case, a folder's id, a file under the wrong case.
            for (c, f) in [
                (&case, &other_file),
                (&case, &folder_id),
                (&other_case, &file),
            ] {
                paths.push(template.replace("{case}", c).replace("{file}", f));
            }
        }
        for path in paths {
            let mut request = practice.request(Some(&ann), method.clone(), &path);
            if let Some(body) = body {
                request = request.json(body);
            }
            if template.ends_with("/files") {
                request = request.header("x-file-name", "n.txt").body("n");
            }
            let response = request.send().await.expect("request");
            if *method == Method::HEAD {
                assert_eq!(response.status(), 404, "HEAD {path}");
            } else {
                assert_eq!(
                    expect_error(response, 404).await,
                    "not_found",
                    "{method} {path}"
                );
            }
        }
    }
    practice.assert_left_as(&ann, &case, &before).await;

    // Folder ids in a query or a form: malformed is a bad request, unknown is not found.
    for (query, status) in [
        ("?folder=abc".to_owned(), 400),
        (format!("?folder={}", "0".repeat(32)), 404),
        (format!("?folder={file}"), 404),
        ("?colour=red".to_owned(), 400),
    ] {
        let response = practice
            .try_upload(&ann, &case, &query, "q.txt", b"q")
            .await;
        assert_eq!(response.status(), status, "{query}");
    }
    let folders = format!("/api/v1/cases/{case}/folders");
    for (parent, status) in [("abc".to_owned(), 400), ("0".repeat(32), 404)] {
        let response = practice
            .send(
                &ann,
                Method::POST,
                &folders,
                Some(json!({ "name": "child", "parent": parent })),
            )
            .await;
        assert_eq!(response.status(), status, "parent {parent}");
    }
    // Another case's folder cannot be a parent either.
    let foreign = practice.folder(&ann, &other_case, "Foreign", None).await;
    let response = practice
        .send(
            &ann,
            Method::POST,
            &folders,
            Some(json!({ "name": "child", "parent": id_of(&foreign) })),
        )
        .await;
    assert_eq!(response.status(), 404);
    let query = format!("?folder={}", id_of(&foreign));
    let response = practice
        .try_upload(&ann, &case, &query, "q.txt", b"q")
        .await;
    assert_eq!(response.status(), 404);
    practice.assert_left_as(&ann, &case, &before).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn invalid_json_is_a_bad_request() {
    let practice = Practice::spawn().await;
    let ann = practice.user("ann").await;
    let case = practice.new_case(&ann).await;
    let file = id_of(&practice.upload(&ann, &case, "f.txt", b"f").await);
    let before = practice.snapshot(&ann, &case).await;
    let case_before = practice.case(&ann, &case).await;
    let targets = [
        (Method::POST, "/api/v1/cases".to_owned()),
        (Method::PATCH, format!("/api/v1/cases/{case}")),
        (Method::POST, format!("/api/v1/cases/{case}/folders")),
        (Method::PATCH, format!("/api/v1/cases/{case}/files/{file}")),
    ];
    let bodies: [&[u8]; 6] = [
        b"{",
        b"{\"patient_ref\": }",
        b"[]",
        b"null",
        b"\"just a string\"",
        b"\xff\xfe{}",
    ];
    for (method, path) in &targets {
        for body in bodies {
            let response = practice
                .request(Some(&ann), method.clone(), path)
                .header("content-type", "application/json")
                .body(body.to_vec())
                .send()
                .await
                .expect("request");
            assert_eq!(
                expect_error(response, 400).await,
                "bad_request",
                "{method} {path} {}",
                String::from_utf8_lossy(body)
            );
        }
        let wrong_type = practice
            .request(Some(&ann), method.clone(), path)
            .header("content-type", "text/plain")
            .body("{}")
            .send()
            .await
            .expect("request");
        assert_eq!(wrong_type.status(), 415, "{method} {path}");
        let wrong_types = practice
            .request(Some(&ann), method.clone(), path)
            .json(&json!({ "name": 5, "patient_ref": ["x"], "title": 1 }))
            .send()
            .await
            .expect("request");
        assert_eq!(wrong_types.status(), 400, "{method} {path}");
    }
    let response = practice
        .send(&ann, Method::GET, "/api/v1/cases", None)
        .await;
    assert_eq!(
        expect_json(response, 200).await["cases"],
        json!([case_before])
    );
    practice.assert_left_as(&ann, &case, &before).await;
}
