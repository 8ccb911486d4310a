//! Round trips of every size class, ranges, streaming a large file in bounded memory, and
//! the absence of plaintext at rest.

use casevault_storage::{FileKind, StorageError};
use futures::StreamExt;

use crate::support::{
    Backend, TestStorage, backends, data, new_file, occurs_under, pieces, s3_data_dir,
};

const CHUNK: usize = 4096;

#[tokio::test(flavor = "multi_thread")]
async fn every_size_class_round_trips() {
    for backend in backends() {
        let t = TestStorage::open(backend).await;
        let case = t.case().await;
        for (i, len) in [
            0,
            1,
            CHUNK - 1,
            CHUNK,
            CHUNK + 1,
            7 * CHUNK,
            7 * CHUNK + 13,
            3_000_000,
        ]
        .into_iter()
        .enumerate()
        {
            let body = data(len, i as u64);
            let file = t
                .upload(&case, &format!("file-{len}.bin"), &body)
                .await
                .expect("upload");
            assert_eq!(file.size, len as u64);
            assert_eq!(
                t.read_all(&file, None).await.expect("read"),
                body,
                "{backend:?} size {len}"
            );
            let key = t.storage.case_key(&case).expect("case key");
            assert_eq!(
                t.storage.file_name(&key, &file).expect("name"),
                format!("file-{len}.bin")
            );
            assert_eq!(
                t.storage.file_sha256(&key, &file).expect("sha"),
                casevault_crypto::sha256(&body)
            );
        }
        t.assert_clean().await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn ranges_at_chunk_boundaries_and_random_ranges_match_the_plaintext() {
    for backend in backends() {
        let t = TestStorage::open(backend).await;
        let case = t.case().await;
        let body = data(10 * CHUNK + 77, 3);
        let file = t.upload(&case, "video.mp4", &body).await.expect("upload");
        let len = body.len() as u64;
        let c = CHUNK as u64;
        let mut ranges = vec![
            0..1,
            0..c,
            c - 1..c + 1,
            c..2 * c,
            3 * c - 1..3 * c,
            0..len,
            len - 1..len,
            5 * c..len,
        ];
        let mut seed = 0x1234_5678u64;
        for _ in 0..40 {
            seed = seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let start = (seed >> 11) % len;
            let end = start + 1 + (seed >> 37) % (len - start);
            ranges.push(start..end);
        }
        for range in ranges {
            let got = t
                .read_all(&file, Some(range.clone()))
                .await
                .expect("ranged read");
            assert_eq!(
                got,
                &body[range.start as usize..range.end as usize],
                "{backend:?} {range:?}"
            );
        }
        for bad in [len..len + 1, 5..5, 0..len + 1] {
            assert!(
                matches!(
                    t.storage.read_file(&file, Some(bad.clone())).await,
                    Err(StorageError::RangeNotSatisfiable { .. })
                ),
                "{bad:?}"
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn content_kinds_are_detected_from_bytes() {
    let t = TestStorage::open(Backend::Local).await;
    let case = t.case().await;
    let pdf = t
        .upload(&case, "report", b"%PDF-1.7 ...")
        .await
        .expect("upload");
    assert_eq!(pdf.kind, FileKind::Pdf);
    let scan = t
        .upload(&case, "lower jaw.stl", b"solid jaw\nfacet normal")
        .await
        .expect("upload");
    assert_eq!(scan.kind, FileKind::Scan);
}

/// Peak resident memory of this process (nextest runs each test in its own process).
fn peak_rss_bytes() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map_or(0, |kib| kib * 1024)
}

/// A 1 GiB file goes up and comes back with the same SHA-256 while the process's peak
/// memory stays far below the file's size.
#[tokio::test(flavor = "multi_thread")]
async fn one_gib_streams_in_bounded_memory() {
    const GIB: u64 = 1 << 30;
    const PIECE: usize = 256 * 1024;
    for backend in backends() {
        let t = TestStorage::open_with(backend, |c| {
            c.chunk_size = casevault_crypto::DEFAULT_CHUNK_SIZE
        })
        .await;
        let case = t.case().await;
        let before = peak_rss_bytes();
        let mut sent = casevault_crypto::Sha256::new();
        let template = data(PIECE, 9);
        let body = futures::stream::iter(0..GIB / PIECE as u64).map(move |i| {
            let mut piece = template.clone();
            piece[..8].copy_from_slice(&i.to_le_bytes());
            Ok::<_, std::convert::Infallible>(bytes::Bytes::from(piece))
        });
        for i in 0..GIB / PIECE as u64 {
            let mut piece = data(PIECE, 9);
            piece[..8].copy_from_slice(&i.to_le_bytes());
            sent.update(&piece);
        }
        let mut request = new_file(&case, "cbct.dcm");
        request.expected_size = Some(GIB);
        let file = t
            .storage
            .upload(request, Box::pin(body))
            .await
            .expect("upload 1 GiB");
        assert_eq!(file.size, GIB);

        let mut received = casevault_crypto::Sha256::new();
        let mut stream = t.storage.read_file(&file, None).await.expect("read");
        let mut total = 0u64;
        while let Some(piece) = stream.next().await {
            let piece = piece.expect("chunk");
            total += piece.len() as u64;
            received.update(&piece);
        }
        assert_eq!(total, GIB);
        assert_eq!(received.finish(), sent.finish(), "{backend:?}");
        let growth = peak_rss_bytes().saturating_sub(before);
        assert!(
            growth < 128 * 1024 * 1024,
            "{backend:?}: peak memory grew by {growth} bytes for a 1 GiB transfer"
        );
        t.assert_clean().await;
    }
}

/// A marker placed in contents, file name and patient reference is found nowhere at rest.
#[tokio::test(flavor = "multi_thread")]
async fn no_plaintext_reaches_the_disk_or_the_bucket() {
    const MARKER: &str = "MARKER-7f3a9c-PATIENT";
    for backend in backends() {
        let t = TestStorage::open(backend).await;
        let case = t
            .storage
            .create_case(casevault_storage::NewCase {
                account: t.account(),
                created_by: t.owner,
                patient_ref: MARKER.into(),
                title: format!("title {MARKER}"),
                comments: format!("comment {MARKER}"),
                labels: vec![],
                expires_at: None,
            })
            .await
            .expect("case");
        t.storage
            .create_folder(case.id, None, &format!("folder {MARKER}"))
            .await
            .expect("folder");
        let contents = MARKER.repeat(5000);
        t.storage
            .upload(
                new_file(&case, &format!("{MARKER}.stl")),
                pieces(contents.into_bytes(), 4000),
            )
            .await
            .expect("upload");
        t.storage.meta().flush().await.expect("flush");
        assert_eq!(
            occurs_under(t.dir.path(), MARKER.as_bytes()),
            None,
            "{backend:?}: plaintext in the data folder"
        );
        if backend == Backend::S3
            && let Some(dir) = s3_data_dir()
        {
            assert_eq!(
                occurs_under(&dir, MARKER.as_bytes()),
                None,
                "plaintext in the bucket"
            );
        }
    }
}
