//! Folders: renaming and moving keep names unique and the tree acyclic; deleting a folder
//! removes everything below it, releases exactly its quota and deletes its objects.

use casevault_storage::{FolderId, FolderRecord, StorageError};

use crate::support::{Backend, TestStorage, backends, data, new_file, pieces};

impl TestStorage {
    async fn folder(
        &self,
        case: &casevault_storage::CaseRecord,
        parent: Option<FolderId>,
        name: &str,
    ) -> FolderRecord {
        self.storage
            .create_folder(case.id, parent, name)
            .await
            .expect("create folder")
    }

    fn name_of(&self, case: &casevault_storage::CaseRecord, folder: &FolderRecord) -> String {
        let key = self.storage.case_key(case).expect("case key");
        self.storage.folder_name(&key, folder).expect("folder name")
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_renamed_folder_keeps_its_place_and_frees_its_old_name() {
    let t = TestStorage::open(Backend::Local).await;
    let case = t.case().await;
    let scans = t.folder(&case, None, "scans").await;
    t.folder(&case, None, "photos").await;
    t.upload(&case, "report.pdf", b"pdf").await.expect("upload");

    let renamed = t
        .storage
        .move_folder(scans.id, None, "Scans 2024")
        .await
        .expect("rename");
    assert_eq!(renamed.parent, None);
    assert_eq!(t.name_of(&case, &renamed), "Scans 2024");
    let stored = t
        .storage
        .meta()
        .folder(scans.id)
        .await
        .expect("get")
        .expect("folder");
    assert_eq!(t.name_of(&case, &stored), "Scans 2024");
    t.folder(&case, None, "scans").await;

    let cased = t
        .storage
        .move_folder(scans.id, None, "SCANS 2024")
        .await
        .expect("a change of case only");
    assert_eq!(t.name_of(&case, &cased), "SCANS 2024");

    for taken in ["PHOTOS", "report.pdf", "scans"] {
        let err = t
            .storage
            .move_folder(scans.id, None, taken)
            .await
            .expect_err("name taken");
        assert!(matches!(err, StorageError::NameConflict), "{taken}: {err}");
    }
    for bad in ["", "a/b", ".."] {
        let err = t
            .storage
            .move_folder(scans.id, None, bad)
            .await
            .expect_err("bad name");
        assert!(matches!(err, StorageError::Invalid(_)), "{bad:?}: {err}");
    }
    t.assert_clean().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_moved_folder_takes_its_contents_along() {
    for backend in backends() {
        let t = TestStorage::open(backend).await;
        let case = t.case().await;
        let archive = t.folder(&case, None, "archive").await;
        let scans = t.folder(&case, None, "scans").await;
        let nested = t.folder(&case, Some(scans.id), "upper jaw").await;
        let body = data(10_000, 1);
        let mut request = new_file(&case, "arch.stl");
        request.folder = Some(nested.id);
        let file = t
            .storage
            .upload(request, pieces(body.clone(), 1000))
            .await
            .expect("upload");
        t.folder(&case, Some(archive.id), "Scans").await;

        let err = t
            .storage
            .move_folder(scans.id, Some(archive.id), "scans")
            .await
            .expect_err("name taken in the destination");
        assert!(matches!(err, StorageError::NameConflict), "{err}");

        let moved = t
            .storage
            .move_folder(scans.id, Some(archive.id), "scans 2023")
            .await
            .expect("move");
        assert_eq!(moved.parent, Some(archive.id));
        assert_eq!(t.name_of(&case, &moved), "scans 2023");
        let nested_now = t.storage.meta().folder(nested.id).await.expect("get");
        assert_eq!(nested_now.and_then(|f| f.parent), Some(scans.id));
        assert_eq!(t.read_all(&file, None).await.expect("read"), body);

        t.folder(&case, None, "scans").await;
        let err = t
            .storage
            .move_folder(scans.id, None, "scans")
            .await
            .expect_err("old name taken again");
        assert!(matches!(err, StorageError::NameConflict), "{err}");
        let back = t
            .storage
            .move_folder(scans.id, None, "old scans")
            .await
            .expect("back to the root");
        assert_eq!(back.parent, None);
        t.assert_clean().await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_folder_cannot_move_into_itself_or_below_itself() {
    let t = TestStorage::open(Backend::Local).await;
    let case = t.case().await;
    let top = t.folder(&case, None, "top").await;
    let middle = t.folder(&case, Some(top.id), "middle").await;
    let bottom = t.folder(&case, Some(middle.id), "bottom").await;
    for target in [&top, &middle, &bottom] {
        let err = t
            .storage
            .move_folder(top.id, Some(target.id), "top")
            .await
            .expect_err("cycle");
        let StorageError::Invalid(message) = &err else {
            panic!("expected Invalid, got {err}");
        };
        assert!(message.contains("into itself"), "{message}");
    }
    let unchanged = t
        .storage
        .meta()
        .folder(top.id)
        .await
        .expect("get")
        .expect("folder");
    assert_eq!(unchanged.parent, None);
    assert_eq!(t.name_of(&case, &unchanged), "top");

    let lifted = t
        .storage
        .move_folder(bottom.id, None, "bottom")
        .await
        .expect("a folder may move up");
    assert_eq!(lifted.parent, None);
    t.storage
        .move_folder(top.id, Some(bottom.id), "top")
        .await
        .expect("into a former descendant that is no longer below it");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_parent_from_another_case_is_refused() {
    let t = TestStorage::open(Backend::Local).await;
    let case = t.case().await;
    let other = t.case().await;
    let here = t.folder(&case, None, "here").await;
    let elsewhere = t.folder(&other, None, "elsewhere").await;
    for parent in [elsewhere.id, FolderId::random()] {
        let err = t
            .storage
            .move_folder(here.id, Some(parent), "here")
            .await
            .expect_err("foreign parent");
        assert!(matches!(err, StorageError::NotFound("folder")), "{err}");
    }
    let unchanged = t.storage.meta().folder(here.id).await.expect("get");
    assert_eq!(unchanged.map(|f| f.parent), Some(None));
}

#[tokio::test(flavor = "multi_thread")]
async fn deleting_a_folder_removes_everything_below_it() {
    for backend in backends() {
        let t = TestStorage::open(backend).await;
        let case = t.case().await;
        let top = t.folder(&case, None, "visit 1").await;
        let middle = t.folder(&case, Some(top.id), "scans").await;
        let bottom = t.folder(&case, Some(middle.id), "lower jaw").await;
        let empty = t.folder(&case, Some(top.id), "empty").await;
        let kept = t.folder(&case, None, "visit 2").await;

        let mut gone = Vec::new();
        for (i, (folder, size)) in [(&top, 5_000), (&middle, 12_345), (&bottom, 70_000)]
            .into_iter()
            .enumerate()
        {
            let mut request = new_file(&case, &format!("file {i}"));
            request.folder = Some(folder.id);
            let file = t
                .storage
                .upload(request, pieces(data(size, i as u64), 4000))
                .await
                .expect("upload");
            gone.push(file);
        }
        let mut request = new_file(&case, "kept");
        request.folder = Some(kept.id);
        let kept_file = t
            .storage
            .upload(request, pieces(data(3_000, 9), 1000))
            .await
            .expect("upload");
        let root_file = t.upload(&case, "root", &data(2_000, 8)).await.expect("up");

        let deletion = t.storage.delete_folder(top.id).await.expect("delete");
        assert_eq!(deletion.folders, 4);
        assert_eq!(deletion.files, 3);
        assert_eq!(deletion.bytes, 5_000 + 12_345 + 70_000);
        assert_eq!(deletion.objects.len(), 3);

        let quota = t.storage.meta().quota(t.account()).await.expect("quota");
        assert_eq!(
            (quota.used, quota.reserved),
            (kept_file.size + root_file.size, 0)
        );
        for file in &gone {
            assert!(t.storage.meta().file(file.id).await.expect("get").is_none());
            assert_eq!(
                t.storage.blobs().size(file.blob).await.expect("head"),
                None,
                "{backend:?}: object deleted"
            );
        }
        for folder in [&top, &middle, &bottom, &empty] {
            assert!(
                t.storage
                    .meta()
                    .folder(folder.id)
                    .await
                    .expect("get")
                    .is_none()
            );
        }
        let left: Vec<FolderId> = t
            .storage
            .meta()
            .folders_of(case.id)
            .await
            .expect("folders")
            .into_iter()
            .map(|f| f.id)
            .collect();
        assert_eq!(left, vec![kept.id]);
        assert_eq!(
            t.read_all(&kept_file, None).await.expect("read"),
            data(3_000, 9)
        );
        assert!(
            t.storage
                .meta()
                .garbage()
                .await
                .expect("garbage")
                .is_empty()
        );
        t.folder(&case, None, "visit 1").await;
        t.assert_clean().await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn unknown_folders_are_not_found() {
    let t = TestStorage::open(Backend::Local).await;
    let unknown = FolderId::random();
    assert!(matches!(
        t.storage.delete_folder(unknown).await,
        Err(StorageError::NotFound("folder"))
    ));
    assert!(matches!(
        t.storage.move_folder(unknown, None, "x").await,
        Err(StorageError::NotFound("folder"))
    ));
    let case = t.case().await;
    let folder = t.folder(&case, None, "once").await;
    t.storage.delete_folder(folder.id).await.expect("delete");
    assert!(matches!(
        t.storage.delete_folder(folder.id).await,
        Err(StorageError::NotFound("folder"))
    ));
}
