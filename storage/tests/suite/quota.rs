//! Quota: reservations never overshoot under concurrency, and used always equals the sum of
//! the stored files' sizes.

use std::sync::Arc;

use casevault_storage::{OnConflict, StorageError};

use crate::support::{Backend, TestStorage, backends, data, new_file, pieces};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_uploads_never_overshoot_the_quota() {
    for backend in backends() {
        let t = Arc::new(TestStorage::open(backend).await);
        const LIMIT: u64 = 1_000_000;
        t.set_quota(LIMIT).await;
        let case = t.case().await;
        let mut tasks = Vec::new();
        for i in 0..16u64 {
            let t = t.clone();
            let case = case.clone();
            tasks.push(tokio::spawn(async move {
                // Half announce their size, half stream an unknown length.
                let size = 90_000 + (i as usize * 7919) % 50_000;
                let mut request = new_file(&case, &format!("part-{i}"));
                if i % 2 == 0 {
                    request.expected_size = Some(size as u64);
                }
                t.storage.upload(request, pieces(data(size, i), 3000)).await
            }));
        }
        let mut stored = 0u64;
        let mut refused = 0;
        for task in tasks {
            match task.await.expect("task") {
                Ok(file) => stored += file.size,
                Err(StorageError::QuotaExceeded { .. }) => refused += 1,
                Err(e) => panic!("unexpected error: {e}"),
            }
        }
        assert!(refused > 0, "the quota should have refused some uploads");
        let quota = t.storage.meta().quota(t.account()).await.expect("quota");
        assert!(
            quota.used <= LIMIT,
            "{backend:?}: used {} > limit",
            quota.used
        );
        assert_eq!(
            quota.used, stored,
            "{backend:?}: used differs from the sum of stored sizes"
        );
        assert_eq!(quota.reserved, 0);
        t.assert_clean().await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn an_upload_past_the_quota_stores_nothing() {
    for backend in backends() {
        let t = TestStorage::open(backend).await;
        t.set_quota(100_000).await;
        let case = t.case().await;
        t.upload(&case, "first", &data(60_000, 1))
            .await
            .expect("fits");

        // Unknown length: refused while streaming, before anything past the limit is stored.
        let err = t
            .upload(&case, "second", &data(60_000, 2))
            .await
            .expect_err("over quota");
        assert!(matches!(err, StorageError::QuotaExceeded { .. }), "{err}");
        // Announced length: refused before the first byte.
        let mut request = new_file(&case, "third");
        request.expected_size = Some(50_000);
        let err = t
            .storage
            .upload(request, pieces(data(50_000, 3), 1000))
            .await
            .expect_err("over quota");
        assert!(matches!(err, StorageError::QuotaExceeded { .. }), "{err}");

        let quota = t.storage.meta().quota(t.account()).await.expect("quota");
        assert_eq!((quota.used, quota.reserved), (60_000, 0));
        assert_eq!(
            t.storage
                .meta()
                .files_of(case.id)
                .await
                .expect("files")
                .len(),
            1
        );
        t.assert_clean().await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn delete_and_replace_keep_quota_exact() {
    for backend in backends() {
        let t = TestStorage::open(backend).await;
        t.set_quota(10_000_000).await;
        let case = t.case().await;
        let a = t.upload(&case, "a.pdf", &data(30_000, 1)).await.expect("a");
        t.upload(&case, "b.pdf", &data(20_000, 2)).await.expect("b");
        assert_eq!(
            t.storage.meta().quota(t.account()).await.expect("q").used,
            50_000
        );

        let err = t
            .upload(&case, "A.PDF", &data(5, 3))
            .await
            .expect_err("same name, other case");
        assert!(matches!(err, StorageError::NameConflict), "{err}");

        let mut replace = new_file(&case, "a.pdf");
        replace.on_conflict = OnConflict::Replace;
        let new_a = t
            .storage
            .upload(replace, pieces(data(1_000, 4), 100))
            .await
            .expect("replace");
        assert_eq!(
            t.storage.meta().quota(t.account()).await.expect("q").used,
            21_000
        );
        assert!(t.storage.meta().file(a.id).await.expect("get").is_none());
        assert_eq!(
            t.storage.blobs().size(a.blob).await.expect("head"),
            None,
            "replaced object deleted"
        );

        t.storage.delete_file(new_a.id).await.expect("delete");
        assert_eq!(
            t.storage.meta().quota(t.account()).await.expect("q").used,
            20_000
        );
        assert_eq!(
            t.storage.blobs().size(new_a.blob).await.expect("head"),
            None
        );
        t.assert_clean().await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_zero_quota_refuses_every_byte() {
    let t = TestStorage::open(Backend::Local).await;
    t.set_quota(0).await;
    let case = t.case().await;
    let err = t
        .upload(&case, "x", &data(1, 1))
        .await
        .expect_err("no quota");
    assert!(matches!(err, StorageError::QuotaExceeded { .. }));
}
