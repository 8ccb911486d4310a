//! Upload sessions, the incremental form of an upload that resumable uploads keep open
//! across requests: uneven writes round-trip, and a session that does not commit (dropped,
//! aborted, too long, too short, beaten to its name) leaves everything as it was.

use std::path::PathBuf;
use std::time::Duration;

use casevault_storage::{BlobId, CaseRecord, FileId, NewFile, StorageError, UploadSession};
use futures::FutureExt;

use crate::support::{Backend, TestStorage, backends, data, files_under, new_file};

/// Everything an upload that does not commit must leave as it found it.
#[derive(Debug, PartialEq, Eq)]
struct Snapshot {
    used: u64,
    reserved: u64,
    pending: usize,
    objects: Vec<BlobId>,
    files: Vec<FileId>,
    /// Files under the local object folder (staging files included); empty for S3.
    local_files: Vec<PathBuf>,
}

async fn snapshot(t: &TestStorage, case: &CaseRecord) -> Snapshot {
    let meta = t.storage.meta();
    let quota = meta.quota(t.account()).await.expect("quota");
    let mut objects: Vec<BlobId> = t
        .storage
        .blobs()
        .list()
        .await
        .expect("list")
        .into_iter()
        .map(|o| o.id)
        .collect();
    objects.sort();
    let mut files: Vec<FileId> = meta
        .files_of(case.id)
        .await
        .expect("files")
        .into_iter()
        .map(|f| f.id)
        .collect();
    files.sort();
    let mut local_files = files_under(&t.dir.path().join("objects"));
    local_files.sort();
    Snapshot {
        used: quota.used,
        reserved: quota.reserved,
        pending: meta.pending_uploads().await.expect("pending").len(),
        objects,
        files,
        local_files,
    }
}

/// Storage holding one committed file, so that "as before" is not merely "empty".
async fn with_one_file(backend: Backend) -> (TestStorage, CaseRecord) {
    let t = TestStorage::open(backend).await;
    let case = t.case().await;
    t.upload(&case, "kept.pdf", &data(30_000, 99))
        .await
        .expect("upload");
    (t, case)
}

fn announced(case: &CaseRecord, name: &str, size: u64) -> NewFile {
    let mut new = new_file(case, name);
    new.expected_size = Some(size);
    new
}

/// Waits for the background clean-up of a dropped session.
async fn settle(t: &TestStorage) {
    for _ in 0..250 {
        if t.storage
            .meta()
            .pending_uploads()
            .await
            .expect("pending")
            .is_empty()
        {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("a dropped session was not cleaned up");
}

/// Asserts that a session is in progress: one pending upload holding a reservation.
async fn assert_in_progress(t: &TestStorage, case: &CaseRecord, before: &Snapshot) {
    let during = snapshot(t, case).await;
    assert_eq!(during.pending, before.pending + 1, "{during:?}");
    assert!(during.reserved > before.reserved, "{during:?}");
}

const UNEVEN: [usize; 10] = [
    1,
    65_535,
    65_537,
    0,
    5 * 1024 * 1024 + 1,
    4095,
    4097,
    3,
    4096,
    123_457,
];

#[tokio::test(flavor = "multi_thread")]
async fn uneven_writes_round_trip_with_the_right_checksum() {
    for backend in backends() {
        let t = TestStorage::open(backend).await;
        let case = t.case().await;
        let pieces: Vec<Vec<u8>> = UNEVEN
            .iter()
            .enumerate()
            .map(|(i, &len)| data(len, i as u64))
            .collect();
        let body = pieces.concat();
        let total = body.len() as u64;

        for announce in [true, false] {
            let name = format!("scan-{announce}.stl");
            let new = if announce {
                announced(&case, &name, total)
            } else {
                new_file(&case, &name)
            };
            let mut session = t.storage.begin_upload(new).await.expect("begin");
            let mut offset = 0u64;
            for piece in &pieces {
                // Each write in a task of its own, as each request of a resumable upload
                // would run: the session moves between tasks.
                let piece = piece.clone();
                offset += piece.len() as u64;
                session = tokio::spawn(async move {
                    session.write(&piece).await.expect("write");
                    session
                })
                .await
                .expect("task");
                assert_eq!(session.received(), offset, "{backend:?}");
            }
            let file = session.finish().await.expect("finish");
            assert_eq!(file.size, total);
            let key = t.storage.case_key(&case).expect("case key");
            assert_eq!(
                t.storage.file_sha256(&key, &file).expect("sha"),
                casevault_crypto::sha256(&body),
                "{backend:?} announced: {announce}"
            );
            assert_eq!(t.storage.file_name(&key, &file).expect("name"), name);
            assert!(
                t.read_all(&file, None).await.expect("read") == body,
                "{backend:?} announced: {announce}: contents differ"
            );
        }
        let quota = t.storage.meta().quota(t.account()).await.expect("quota");
        assert_eq!((quota.used, quota.reserved), (2 * total, 0));
        t.assert_clean().await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_dropped_session_leaves_everything_as_before() {
    for backend in backends() {
        let (t, case) = with_one_file(backend).await;
        let before = snapshot(&t, &case).await;
        for new in [
            announced(&case, "dropped.bin", 10_000_000),
            new_file(&case, "dropped.bin"),
        ] {
            let mut session = t.storage.begin_upload(new).await.expect("begin");
            for i in 0..30 {
                session.write(&data(100_000, i)).await.expect("write");
            }
            assert_in_progress(&t, &case, &before).await;
            drop(session);
            settle(&t).await;
            assert_eq!(snapshot(&t, &case).await, before, "{backend:?}");
        }
        t.assert_clean().await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn an_aborted_session_leaves_everything_as_before() {
    for backend in backends() {
        let (t, case) = with_one_file(backend).await;
        let before = snapshot(&t, &case).await;
        for new in [
            announced(&case, "aborted.bin", 10_000_000),
            new_file(&case, "aborted.bin"),
        ] {
            let mut session = t.storage.begin_upload(new).await.expect("begin");
            session.write(&data(3_000_000, 1)).await.expect("write");
            assert_in_progress(&t, &case, &before).await;
            session.abort().await;
            // Cleaned up before `abort` returns: no waiting.
            assert_eq!(snapshot(&t, &case).await, before, "{backend:?}");
        }
        // A session aborted before its first byte, too.
        let session = t
            .storage
            .begin_upload(announced(&case, "empty.bin", 5))
            .await
            .expect("begin");
        session.abort().await;
        assert_eq!(snapshot(&t, &case).await, before, "{backend:?}");
        t.assert_clean().await;
    }
}

/// Asserts that a spent session refuses everything.
async fn assert_spent(mut session: UploadSession) {
    let err = session.write(b"more").await.expect_err("spent");
    assert!(matches!(err, StorageError::Aborted(_)), "{err}");
    let err = session.finish().await.expect_err("spent");
    assert!(matches!(err, StorageError::Aborted(_)), "{err}");
}

#[tokio::test(flavor = "multi_thread")]
async fn writing_past_the_announced_size_fails_and_cleans_up() {
    for backend in backends() {
        let (t, case) = with_one_file(backend).await;
        let before = snapshot(&t, &case).await;
        let mut session = t
            .storage
            .begin_upload(announced(&case, "long.bin", 100_000))
            .await
            .expect("begin");
        session.write(&data(60_000, 1)).await.expect("write");
        let err = session
            .write(&data(40_001, 2))
            .await
            .expect_err("past the announced size");
        assert!(
            matches!(
                err,
                StorageError::SizeMismatch {
                    announced: 100_000,
                    received: 100_001
                }
            ),
            "{err}"
        );
        assert_eq!(
            session.received(),
            60_000,
            "the refused bytes were not accepted"
        );
        assert_eq!(snapshot(&t, &case).await, before, "{backend:?}");
        assert_spent(session).await;
        t.assert_clean().await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn finishing_short_of_the_announced_size_fails_and_cleans_up() {
    for backend in backends() {
        let (t, case) = with_one_file(backend).await;
        let before = snapshot(&t, &case).await;
        for sent in [0, 1, 99_999] {
            let mut session = t
                .storage
                .begin_upload(announced(&case, "short.bin", 100_000))
                .await
                .expect("begin");
            session.write(&data(sent, 1)).await.expect("write");
            let err = session.finish().await.expect_err("short");
            assert!(
                matches!(
                    err,
                    StorageError::SizeMismatch { announced: 100_000, received }
                        if received == sent as u64
                ),
                "{err}"
            );
            assert_eq!(snapshot(&t, &case).await, before, "{backend:?} sent {sent}");
        }
        t.assert_clean().await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn of_two_sessions_for_one_name_the_second_to_finish_conflicts() {
    for backend in backends() {
        let (t, case) = with_one_file(backend).await;
        let before = snapshot(&t, &case).await;
        let mut first = t
            .storage
            .begin_upload(announced(&case, "jaw.stl", 50_000))
            .await
            .expect("begin first");
        // The name is free when both begin; only the commit can tell them apart.
        let mut second = t
            .storage
            .begin_upload(new_file(&case, "JAW.STL"))
            .await
            .expect("begin second");
        first.write(&data(50_000, 1)).await.expect("write first");
        second.write(&data(70_000, 2)).await.expect("write second");

        let file = first.finish().await.expect("first finishes");
        let after_first = snapshot(&t, &case).await;
        assert_eq!(after_first.pending, 1, "the second is still in progress");
        let err = second.finish().await.expect_err("name taken");
        assert!(matches!(err, StorageError::NameConflict), "{err}");

        let after = snapshot(&t, &case).await;
        let mut expected = before;
        expected.used += 50_000;
        expected.objects.push(file.blob);
        expected.objects.sort();
        expected.files.push(file.id);
        expected.files.sort();
        expected.local_files = after.local_files.clone();
        assert_eq!(after, expected, "{backend:?}");
        if backend == Backend::Local {
            assert_eq!(after.local_files.len(), 2, "{after:?}");
        }
        assert_eq!(
            t.read_all(&file, None).await.expect("read"),
            data(50_000, 1)
        );
        t.assert_clean().await;
    }
}

/// A write whose future is dropped halfway leaves the object out of step with what the
/// session counted: the session refuses to go on and cleans up.
#[tokio::test(flavor = "multi_thread")]
async fn a_session_whose_write_was_interrupted_is_cleaned_up_and_refused() {
    let (t, case) = with_one_file(Backend::Local).await;
    let before = snapshot(&t, &case).await;
    let mut session = t
        .storage
        .begin_upload(new_file(&case, "interrupted.bin"))
        .await
        .expect("begin");
    // Polled once and dropped: a large write waits for the object store before it is done
    // (a write that happens to finish in one poll is simply followed by another).
    let piece = data(8 * 1024 * 1024, 1);
    let mut interrupted = false;
    for _ in 0..20 {
        if session.write(&piece).now_or_never().is_none() {
            interrupted = true;
            break;
        }
    }
    assert!(
        interrupted,
        "no write was ever pending; the test proves nothing"
    );
    let err = session.write(b"more").await.expect_err("interrupted");
    assert!(matches!(err, StorageError::Aborted(_)), "{err}");
    assert_eq!(snapshot(&t, &case).await, before);
    assert_spent(session).await;
    t.assert_clean().await;
}
