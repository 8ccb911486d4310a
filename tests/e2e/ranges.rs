//! Downloads with byte ranges around the 64 KiB chunk boundaries of the encrypted format,
//! conditional requests (`If-None-Match`, `If-Range`), HEAD, and the file name in
//! `Content-Disposition`.

use casevault_tests::{Practice, TestUser, expect_error, id_of, pseudo_random};
use reqwest::{Method, Response, Version};

const CHUNK: u64 = 65_536;
const SIZE: u64 = 3 * CHUNK + 123;
const NAME: &str = "Radiographie pré-op \"1\".pdf";

/// A server with one file of [`SIZE`] bytes; the user, the content path and the bytes.
async fn fixture() -> (Practice, TestUser, String, Vec<u8>, String) {
    let practice = Practice::spawn().await;
    let ann = practice.user("ann").await;
    let case = practice.new_case(&ann).await;
    let bytes = pseudo_random(36, SIZE as usize);
    let file = practice.upload(&ann, &case, NAME, &bytes).await;
    let path = format!("/api/v1/cases/{case}/files/{}/content", id_of(&file));
    (practice, ann, path, bytes, id_of(&file))
}

fn header(response: &Response, name: &str) -> Option<String> {
    response
        .headers()
        .get(name)
        .map(|v| v.to_str().expect("an ASCII header").to_owned())
}

#[tokio::test(flavor = "multi_thread")]
async fn single_ranges_around_chunk_boundaries() {
    let (practice, ann, path, bytes, _) = fixture().await;
    let last = SIZE - 1;
    // (Range header, first byte, last byte)
    let table: Vec<(String, u64, u64)> = vec![
        ("bytes=0-0".into(), 0, 0),
        ("bytes=0-65535".into(), 0, CHUNK - 1),
        ("bytes=65535-65536".into(), CHUNK - 1, CHUNK),
        ("bytes=65536-131071".into(), CHUNK, 2 * CHUNK - 1),
        ("bytes=65000-140000".into(), 65_000, 140_000),
        ("bytes=1-196730".into(), 1, 3 * CHUNK + 122),
        (format!("bytes={last}-{last}"), last, last),
        ("bytes=-1".into(), last, last),
        ("bytes=-123".into(), 3 * CHUNK, last),
        ("bytes=-124".into(), 3 * CHUNK - 1, last),
        (format!("bytes=-{}", CHUNK + 123), 2 * CHUNK, last),
        (format!("bytes=-{}", SIZE + 1000), 0, last),
        ("bytes=131072-".into(), 2 * CHUNK, last),
        ("bytes=196607-".into(), 3 * CHUNK - 1, last),
        ("bytes=0-".into(), 0, last),
        ("bytes=196600-999999999".into(), 196_600, last),
    ];
    for version in [Version::HTTP_11, Version::HTTP_2] {
        let client = practice.app.client_for(version);
        for (range, first, end) in &table {
            let response = practice
                .request_with(&client, Some(&ann), Method::GET, &path)
                .header("range", range)
                .send()
                .await
                .expect("a ranged GET");
            assert_eq!(response.version(), version);
            assert_eq!(response.status(), 206, "{range}");
            assert_eq!(
                header(&response, "content-range"),
                Some(format!("bytes {first}-{end}/{SIZE}")),
                "{range}"
            );
            assert_eq!(
                header(&response, "content-length"),
                Some((end - first + 1).to_string()),
                "{range}"
            );
            assert_eq!(header(&response, "accept-ranges").as_deref(), Some("bytes"));
            let body = response.bytes().await.expect("the range's bytes");
            assert!(
                body[..] == bytes[*first as usize..=*end as usize],
                "{range}: {} bytes differ from the file's",
                body.len()
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn ranges_outside_the_file_and_multiple_ranges() {
    let (practice, ann, path, bytes, _) = fixture().await;
    for range in [
        format!("bytes={SIZE}-"),
        format!("bytes={SIZE}-{}", SIZE + 10),
        format!("bytes={}-", SIZE + CHUNK),
        "bytes=-0".to_owned(),
    ] {
        let response = practice
            .request(Some(&ann), Method::GET, &path)
            .header("range", &range)
            .send()
            .await
            .expect("GET");
        assert_eq!(
            header(&response, "content-range"),
            Some(format!("bytes */{SIZE}")),
            "{range}"
        );
        assert_eq!(
            expect_error(response, 416).await,
            "range_not_satisfiable",
            "{range}"
        );
    }
    // Several ranges, or a range that does not parse, get the whole file.
    for range in [
        "bytes=0-0,65536-65537",
        "bytes=0-1, -1",
        "bytes=5-4",
        "pages=1-2",
        "bytes=x-y",
    ] {
        let response = practice
            .request(Some(&ann), Method::GET, &path)
            .header("range", range)
            .send()
            .await
            .expect("GET");
        assert_eq!(response.status(), 200, "{range}");
        assert_eq!(header(&response, "content-range"), None, "{range}");
        assert_eq!(header(&response, "content-length"), Some(SIZE.to_string()));
        assert!(
            response.bytes().await.expect("body")[..] == bytes[..],
            "{range}"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn etags_if_none_match_and_if_range() {
    let (practice, ann, path, bytes, file) = fixture().await;
    let response = practice
        .request(Some(&ann), Method::GET, &path)
        .send()
        .await
        .expect("GET");
    assert_eq!(response.status(), 200);
    let etag = header(&response, "etag").expect("an ETag");
    assert_eq!(etag, format!("\"{file}\""));
    assert!(response.bytes().await.expect("body")[..] == bytes[..]);

    for value in [
        etag.clone(),
        format!("W/{etag}"),
        "*".into(),
        format!("\"x\", {etag}"),
    ] {
        let response = practice
            .request(Some(&ann), Method::GET, &path)
            .header("if-none-match", &value)
            .send()
            .await
            .expect("conditional GET");
        assert_eq!(response.status(), 304, "{value}");
        assert_eq!(header(&response, "etag").as_deref(), Some(etag.as_str()));
        assert!(response.bytes().await.expect("body").is_empty());
    }
    let other = practice
        .request(Some(&ann), Method::GET, &path)
        .header("if-none-match", "\"0123\"")
        .send()
        .await
        .expect("conditional GET");
    assert_eq!(other.status(), 200);
    assert_eq!(other.bytes().await.expect("body").len() as u64, SIZE);

    // If-Range: the range applies only while the ETag still matches.
    let range = "bytes=65535-65536";
    let matching = practice
        .request(Some(&ann), Method::GET, &path)
        .header("range", range)
        .header("if-range", &etag)
        .send()
        .await
        .expect("GET");
    assert_eq!(matching.status(), 206);
    assert!(matching.bytes().await.expect("body")[..] == bytes[65_535..=65_536]);
    for stale in ["\"0000\"", "W/\"0000\"", "Wed, 21 Oct 2015 07:28:00 GMT"] {
        let response = practice
            .request(Some(&ann), Method::GET, &path)
            .header("range", range)
            .header("if-range", stale)
            .send()
            .await
            .expect("GET");
        assert_eq!(response.status(), 200, "{stale}");
        assert_eq!(header(&response, "content-range"), None);
        assert!(
            response.bytes().await.expect("body")[..] == bytes[..],
            "{stale}"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn head_answers_headers_without_a_body() {
    let (practice, ann, path, _, file) = fixture().await;
    for version in [Version::HTTP_11, Version::HTTP_2] {
        let client = practice.app.client_for(version);
        let head = practice
            .request_with(&client, Some(&ann), Method::HEAD, &path)
            .send()
            .await
            .expect("HEAD");
        assert_eq!(head.status(), 200);
        assert_eq!(header(&head, "content-length"), Some(SIZE.to_string()));
        assert_eq!(header(&head, "etag"), Some(format!("\"{file}\"")));
        assert_eq!(header(&head, "accept-ranges").as_deref(), Some("bytes"));
        assert_eq!(
            header(&head, "content-type").as_deref(),
            Some("application/pdf")
        );
        assert!(header(&head, "content-disposition").is_some());
        assert!(head.bytes().await.expect("no body").is_empty());

        let ranged = practice
            .request_with(&client, Some(&ann), Method::HEAD, &path)
            .header("range", "bytes=-10")
            .send()
            .await
            .expect("HEAD");
        assert_eq!(ranged.status(), 206);
        assert_eq!(
            header(&ranged, "content-range"),
            Some(format!("bytes {}-{}/{SIZE}", SIZE - 10, SIZE - 1))
        );
        assert_eq!(header(&ranged, "content-length").as_deref(), Some("10"));
        assert!(ranged.bytes().await.expect("no body").is_empty());
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_name_is_given_in_content_disposition() {
    let (practice, ann, path, _, _) = fixture().await;
    let expected = "attachment; filename=\"Radiographie pr_-op _1_.pdf\"; \
                    filename*=UTF-8''Radiographie%20pr%C3%A9-op%20%221%22.pdf";
    for query in ["", "?inline=true", "?inline=false"] {
        let response = practice
            .request(Some(&ann), Method::GET, &format!("{path}{query}"))
            .send()
            .await
            .expect("GET");
        assert_eq!(response.status(), 200);
        // Its contents are not a PDF: never shown inline.
        assert_eq!(
            header(&response, "content-disposition").as_deref(),
            Some(expected),
            "{query}"
        );
        assert_eq!(
            header(&response, "x-content-type-options").as_deref(),
            Some("nosniff")
        );
    }
    let bad = practice
        .request(Some(&ann), Method::GET, &format!("{path}?inline=yes"))
        .send()
        .await
        .expect("GET");
    assert_eq!(bad.status(), 400);

    // A real PDF may be shown inline when asked for.
    let case = path.split('/').nth(4).expect("the case id").to_owned();
    let pdf = practice
        .upload(&ann, &case, "Überweisung.pdf", b"%PDF-1.4\n%%EOF\n")
        .await;
    let pdf_path = format!("/api/v1/cases/{case}/files/{}/content", id_of(&pdf));
    let inline = practice
        .request(Some(&ann), Method::GET, &format!("{pdf_path}?inline=true"))
        .send()
        .await
        .expect("GET");
    assert_eq!(
        header(&inline, "content-disposition").as_deref(),
        Some("inline; filename=\"_berweisung.pdf\"; filename*=UTF-8''%C3%9Cberweisung.pdf")
    );
    let attachment = practice
        .request(Some(&ann), Method::GET, &pdf_path)
        .send()
        .await
        .expect("GET");
    assert!(
        header(&attachment, "content-disposition")
            .expect("a disposition")
            .starts_with("attachment;")
    );
}
