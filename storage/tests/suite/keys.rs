//! Master-key rotation and crypto-shredding.

use casevault_crypto::Keyring;
use casevault_storage::{Storage, StorageError};

use crate::support::{Backend, TestStorage, backends, clone_keyring, data};

#[tokio::test(flavor = "multi_thread")]
async fn rotation_rewraps_case_keys_and_retires_the_old_master_key() {
    let t = TestStorage::open(Backend::Local).await;
    let key_file = t.dir.path().join("master.key");
    t.keyring.save(&key_file).expect("save keyring");
    let cases = [t.case().await, t.case().await];
    let mut files = Vec::new();
    for (i, case) in cases.iter().enumerate() {
        files.push(
            t.upload(case, "scan.stl", &data(12_345, i as u64))
                .await
                .expect("upload"),
        );
    }
    let old_id = t.keyring.current().id();

    let rewrapped = t
        .storage
        .rotate_master_key(Some(&key_file))
        .await
        .expect("rotate");
    assert_eq!(rewrapped, 2);
    let ids = t.storage.master_key_ids().expect("ids");
    assert_eq!(ids.len(), 1, "old key retired");
    assert_ne!(ids[0], old_id);

    // Objects were not rewritten: the same blobs decrypt through the re-wrapped case keys,
    // after a restart with the saved key file.
    let config = t.config.clone();
    drop(t.storage);
    let keyring = Keyring::load_or_create(&key_file).expect("load rotated key file");
    assert_eq!(keyring.key_ids(), ids);
    let storage = Storage::open(config, keyring).await.expect("reopen");
    for (i, file) in files.iter().enumerate() {
        let case = storage
            .meta()
            .case(file.case)
            .await
            .expect("case")
            .expect("exists");
        assert_eq!(case.wrapped_key.kek_id, ids[0]);
        let mut stream = storage.read_file(file, None).await.expect("read");
        let mut out = Vec::new();
        while let Some(piece) = futures::StreamExt::next(&mut stream).await {
            out.extend_from_slice(&piece.expect("chunk"));
        }
        assert_eq!(out, data(12_345, i as u64));
    }
    // The old keyring can no longer open the re-wrapped case keys.
    let old = clone_keyring(&TestStorage::open(Backend::Local).await.keyring);
    let case = storage
        .meta()
        .case(files[0].case)
        .await
        .expect("case")
        .expect("exists");
    assert!(old.unwrap_case_key(&case.wrapped_key).is_err());
}

#[tokio::test(flavor = "multi_thread")]
async fn deleting_a_case_shreds_it() {
    for backend in backends() {
        let t = TestStorage::open(backend).await;
        let case = t.case().await;
        let keep = t.case().await;
        let folder = t
            .storage
            .create_folder(case.id, None, "scans")
            .await
            .expect("folder");
        let mut request = crate::support::new_file(&case, "in-folder.stl");
        request.folder = Some(folder.id);
        let a = t
            .storage
            .upload(request, crate::support::pieces(data(5_000, 1), 999))
            .await
            .expect("a");
        let b = t.upload(&case, "b.jpg", &data(7_000, 2)).await.expect("b");
        let other = t.upload(&keep, "c.jpg", &data(3_000, 3)).await.expect("c");

        t.storage.delete_case(case.id).await.expect("delete case");
        assert!(
            t.storage.meta().case(case.id).await.expect("get").is_none(),
            "case key gone with the record"
        );
        assert!(matches!(
            t.storage.case_with_key(case.id).await,
            Err(StorageError::NotFound("case"))
        ));
        for file in [&a, &b] {
            assert!(t.storage.meta().file(file.id).await.expect("get").is_none());
            assert_eq!(
                t.storage.blobs().size(file.blob).await.expect("head"),
                None,
                "{backend:?}"
            );
        }
        assert!(
            t.storage
                .meta()
                .folders_of(case.id)
                .await
                .expect("folders")
                .is_empty()
        );
        assert_eq!(
            t.storage.meta().quota(t.account()).await.expect("q").used,
            3_000
        );
        assert_eq!(
            t.read_all(&other, None).await.expect("other case intact"),
            data(3_000, 3)
        );
        t.assert_clean().await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_copy_of_the_objects_is_useless_without_the_case_key() {
    let t = TestStorage::open(Backend::Local).await;
    let case = t.case().await;
    let body = data(9_000, 7);
    let file = t.upload(&case, "doc.pdf", &body).await.expect("upload");
    let object = t.local_object(&file);
    let stolen = std::fs::read(&object).expect("copy object");
    let key = t.storage.case_key(&case).expect("key");
    assert_eq!(
        casevault_crypto::decrypt_all(&key, &stolen).expect("with the key"),
        body
    );
    t.storage.delete_case(case.id).await.expect("delete");
    let wrong = casevault_crypto::CaseKey::generate();
    assert!(casevault_crypto::decrypt_all(&wrong, &stolen).is_err());
}

#[tokio::test(flavor = "multi_thread")]
async fn rotation_without_a_key_file_is_refused_and_changes_nothing() {
    let t = TestStorage::open(Backend::Local).await;
    let case = t.case().await;
    let before = t.storage.master_key_ids().expect("ids");
    let err = t
        .storage
        .rotate_master_key(None)
        .await
        .expect_err("no key file");
    assert!(matches!(err, StorageError::Invalid(_)), "{err}");
    assert_eq!(t.storage.master_key_ids().expect("ids"), before);
    assert!(t.storage.case_key(&case).is_ok());
}
