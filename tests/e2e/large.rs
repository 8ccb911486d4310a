//! A 1 GiB file up and down, streamed on both sides: generated on the fly for the upload,
//! hashed piece by piece on the download, so that neither side holds it in memory. The
//! SHA-256 the server reports, the one computed while sending and the one of the bytes
//! received must agree.

use std::sync::{Arc, Mutex};

use aws_lc_rs::digest::{Context, SHA256};
use bytes::Bytes;
use casevault_tests::{Backend, Practice, hex, id_of};
use futures::StreamExt;
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use reqwest::Method;

const GIB: u64 = 1 << 30;
const PIECE: usize = 1 << 20;

/// `len` pseudo-random bytes in 1 MiB pieces, hashed into `hash` as they are produced.
fn generated(
    seed: u64,
    len: u64,
    hash: Arc<Mutex<Context>>,
) -> impl futures::Stream<Item = Result<Bytes, std::io::Error>> {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut left = len;
    futures::stream::poll_fn(move |_| {
        if left == 0 {
            return std::task::Poll::Ready(None);
        }
        let size = left.min(PIECE as u64) as usize;
        let mut piece = vec![0u8; size];
        rng.fill(&mut piece[..]);
        hash.lock().expect("the hash").update(&piece);
        left -= size as u64;
        std::task::Poll::Ready(Some(Ok(Bytes::from(piece))))
    })
}

async fn a_gibibyte_goes_up_and_down_intact(backend: Backend, announce_length: bool) {
    let Some(practice) = Practice::spawn_on(backend).await else {
        return;
    };
    let ann = practice.user("ann").await;
    let case = practice.new_case(&ann).await;
    let sent_hash = Arc::new(Mutex::new(Context::new(&SHA256)));
    let mut request = practice
        .upload_request(&ann, &case, "", "CBCT full skull.dcm")
        .body(reqwest::Body::wrap_stream(generated(
            42,
            GIB,
            sent_hash.clone(),
        )));
    if announce_length {
        request = request.header("content-length", GIB.to_string());
    }
    let response = request.send().await.expect("the upload");
    let status = response.status();
    let view: serde_json::Value = response.json().await.expect("JSON");
    assert_eq!(status, 201, "{view}");
    // The server answered after reading the whole body: the stream has ended.
    let sent = hex(sent_hash
        .lock()
        .expect("the hash")
        .clone()
        .finish()
        .as_ref());
    assert_eq!(view["size"], GIB);
    assert_eq!(view["sha256"], sent.as_str());
    let quota = practice.quota_of(&ann).await;
    assert_eq!((quota.used, quota.reserved), (GIB, 0));

    let path = format!("/api/v1/cases/{case}/files/{}/content", id_of(&view));
    let response = practice.send(&ann, Method::GET, &path, None).await;
    assert_eq!(response.status(), 200);
    assert_eq!(
        response
            .headers()
            .get("content-length")
            .and_then(|v| v.to_str().ok()),
        Some(GIB.to_string().as_str())
    );
    let mut received = Context::new(&SHA256);
    let mut count = 0u64;
    let mut body = response.bytes_stream();
    while let Some(piece) = body.next().await {
        let piece = piece.expect("a piece of the download");
        count += piece.len() as u64;
        received.update(&piece);
    }
    assert_eq!(count, GIB);
    assert_eq!(hex(received.finish().as_ref()), sent);

    // A range near the end, crossing a chunk boundary, agrees with the full download.
    let tail = practice
        .request(Some(&ann), Method::GET, &path)
        .header("range", format!("bytes={}-", GIB - 65_536 - 10))
        .send()
        .await
        .expect("a ranged GET");
    assert_eq!(tail.status(), 206);
    let start = GIB - 65_536 - 10;
    let mut expected = Vec::new();
    let mut offset = 0u64;
    let mut again = std::pin::pin!(generated(
        42,
        GIB,
        Arc::new(Mutex::new(Context::new(&SHA256)))
    ));
    while let Some(piece) = again.next().await {
        let piece = piece.expect("a generated piece");
        let end = offset + piece.len() as u64;
        if end > start {
            let from = start.saturating_sub(offset) as usize;
            expected.extend_from_slice(&piece[from..]);
        }
        offset = end;
    }
    assert!(tail.bytes().await.expect("the tail")[..] == expected[..]);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_gibibyte_on_the_local_backend() {
    a_gibibyte_goes_up_and_down_intact(Backend::Local, true).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_gibibyte_of_unannounced_length_on_s3() {
    a_gibibyte_goes_up_and_down_intact(Backend::S3, false).await;
}
