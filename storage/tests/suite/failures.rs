//! Bad input and failures lose nothing and leave nothing behind.

use std::time::Duration;

use bytes::Bytes;
use casevault_storage::{FolderId, StorageError};
use futures::{StreamExt, stream};

use crate::support::{Backend, TestStorage, backends, data, files_under, new_file, pieces};

#[tokio::test(flavor = "multi_thread")]
async fn a_body_that_fails_midway_leaves_no_file_and_no_reservation() {
    for backend in backends() {
        let t = TestStorage::open(backend).await;
        let case = t.case().await;
        let mut items: Vec<Result<Bytes, String>> =
            (0..40).map(|i| Ok(Bytes::from(data(100_000, i)))).collect();
        items.push(Err("connection reset by peer".into()));
        let err = t
            .storage
            .upload(new_file(&case, "scan.ply"), stream::iter(items))
            .await
            .expect_err("aborted");
        assert!(matches!(err, StorageError::Aborted(_)), "{err}");
        let quota = t.storage.meta().quota(t.account()).await.expect("quota");
        assert_eq!((quota.used, quota.reserved), (0, 0));
        assert!(
            t.storage
                .meta()
                .files_of(case.id)
                .await
                .expect("files")
                .is_empty()
        );
        assert!(
            t.storage.blobs().list().await.expect("list").is_empty(),
            "{backend:?}: object left behind"
        );
        t.assert_clean().await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_body_longer_or_shorter_than_announced_is_refused() {
    for backend in backends() {
        let t = TestStorage::open(backend).await;
        let case = t.case().await;
        for (announced, actual) in [(10_000u64, 10_001usize), (10_000, 9_999), (0, 1)] {
            let mut request = new_file(&case, "lying.bin");
            request.expected_size = Some(announced);
            let err = t
                .storage
                .upload(request, pieces(data(actual, 1), 777))
                .await
                .expect_err("mismatch");
            assert!(matches!(err, StorageError::SizeMismatch { .. }), "{err}");
        }
        assert!(t.storage.blobs().list().await.expect("list").is_empty());
        t.assert_clean().await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_dropped_upload_is_cleaned_up() {
    let t = TestStorage::open(Backend::Local).await;
    let case = t.case().await;
    let body = stream::iter(
        (0..20).map(|i| Ok::<_, std::convert::Infallible>(Bytes::from(data(50_000, i)))),
    )
    .chain(stream::pending());
    let upload = t
        .storage
        .upload(new_file(&case, "never.bin"), Box::pin(body));
    assert!(
        tokio::time::timeout(Duration::from_millis(300), upload)
            .await
            .is_err(),
        "body never ends"
    );
    // The guard's clean-up runs in the background.
    for _ in 0..100 {
        if t.storage
            .meta()
            .pending_uploads()
            .await
            .expect("pending")
            .is_empty()
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    t.assert_clean().await;
    let leftovers: Vec<_> = files_under(&t.dir.path().join("objects"));
    assert!(leftovers.is_empty(), "staging files left: {leftovers:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn invalid_names_unknown_cases_and_foreign_folders_are_refused() {
    let t = TestStorage::open(Backend::Local).await;
    let case = t.case().await;
    let other = t.case().await;
    for name in ["", "..", "a/b", "a\\b", "x\0y", &"n".repeat(256)] {
        let err = t.upload(&case, name, b"x").await.expect_err("bad name");
        assert!(matches!(err, StorageError::Invalid(_)), "{name:?}: {err}");
    }
    let folder = t
        .storage
        .create_folder(other.id, None, "photos")
        .await
        .expect("folder");
    let mut request = new_file(&case, "x");
    request.folder = Some(folder.id);
    let err = t
        .storage
        .upload(request, pieces(vec![1], 1))
        .await
        .expect_err("foreign folder");
    assert!(matches!(err, StorageError::NotFound("folder")), "{err}");
    let mut request = new_file(&case, "x");
    request.folder = Some(FolderId::random());
    assert!(matches!(
        t.storage.upload(request, pieces(vec![1], 1)).await,
        Err(StorageError::NotFound("folder"))
    ));
    let mut missing = case.clone();
    missing.id = casevault_storage::CaseId::random();
    assert!(matches!(
        t.upload(&missing, "x", b"x").await,
        Err(StorageError::NotFound("case"))
    ));
    let err = t
        .storage
        .create_folder(other.id, None, "PHOTOS")
        .await
        .expect_err("duplicate folder");
    assert!(matches!(err, StorageError::NameConflict));
    t.assert_clean().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn tampered_objects_fail_with_an_integrity_error() {
    let t = TestStorage::open(Backend::Local).await;
    let case = t.case().await;
    let body = data(20_000, 5);
    let file = t.upload(&case, "x-ray.jpg", &body).await.expect("upload");
    let object = t.local_object(&file);
    let mut bytes = std::fs::read(&object).expect("read object");
    let last = bytes.len() - 1;
    bytes[last] ^= 1;
    std::fs::write(&object, &bytes).expect("write object");

    let err = t.read_all(&file, None).await.expect_err("tampered");
    assert!(matches!(err, StorageError::Integrity { .. }), "{err}");
    // A range that only touches intact chunks still reads.
    assert_eq!(
        t.read_all(&file, Some(0..100)).await.expect("intact chunk"),
        &body[..100]
    );
    let report = t.storage.fsck(true).await.expect("fsck");
    assert_eq!(report.corrupt, vec![file.id]);

    bytes.truncate(bytes.len() - 10);
    std::fs::write(&object, &bytes).expect("truncate object");
    let report = t.storage.fsck(false).await.expect("fsck");
    assert_eq!(report.size_mismatches, vec![file.id]);
    std::fs::remove_file(&object).expect("remove object");
    let report = t.storage.fsck(false).await.expect("fsck");
    assert_eq!(report.missing_objects, vec![file.id]);
}

#[tokio::test(flavor = "multi_thread")]
async fn orphans_and_stale_uploads_are_collected_by_recovery() {
    for backend in backends() {
        let t = TestStorage::open(backend).await;
        let case = t.case().await;
        let kept = t
            .upload(&case, "kept", &data(9_000, 1))
            .await
            .expect("upload");
        // An object nobody refers to, as a crash between completing it and recording it
        // (with its pending record lost) would leave.
        let orphan = casevault_storage::BlobId::random();
        let (mut writer, _) = t.storage.blobs().start(orphan).await.expect("start");
        writer.write(b"ciphertext").await.expect("write");
        writer.finish().await.expect("finish");
        let report = t.storage.fsck(false).await.expect("fsck");
        assert_eq!(report.orphans, vec![orphan]);

        let t = t.reopen().await;
        assert_eq!(
            t.storage.blobs().size(orphan).await.expect("head"),
            None,
            "{backend:?}"
        );
        assert_eq!(
            t.read_all(&kept, None).await.expect("kept file"),
            data(9_000, 1)
        );
        t.assert_clean().await;
    }
}
