//! Unit tests of folder moves and deletions against the indexes.

use casevault_crypto::{CaseKey, Keyring};

use super::*;
use crate::meta::cases::NameEntry;
use crate::meta::{CommitFile, OnConflict, temp_meta};
use crate::quota::QuotaAccount;
use crate::records::{Actor, CaseRecord, CaseStatus, MultipartState, PendingUpload};
use crate::time::Timestamp;
use crate::{FileId, UploadId, UserId};

async fn case(meta: &Meta, account: QuotaAccount) -> CaseId {
    let now = Timestamp::now();
    let record = CaseRecord {
        id: CaseId::random(),
        account,
        created_by: UserId::random(),
        wrapped_key: Keyring::generate().wrap_case_key(&CaseKey::generate()),
        patient_ref: Sealed(vec![]),
        title: Sealed(vec![]),
        comments: Sealed(vec![]),
        status: CaseStatus::Active,
        labels: vec![],
        created_at: now,
        expires_at: None,
        updated_at: now,
    };
    meta.create_case(record).await.expect("case").id
}

async fn folder(meta: &Meta, case: CaseId, parent: Option<FolderId>, tag: u8) -> FolderId {
    let record = FolderRecord {
        id: FolderId::random(),
        case,
        parent,
        name: Sealed(vec![tag]),
        created_at: Timestamp::now(),
    };
    meta.create_folder(record, [tag; 32])
        .await
        .expect("folder")
        .id
}

async fn file(
    meta: &Meta,
    case: CaseId,
    account: QuotaAccount,
    folder: Option<FolderId>,
    size: u64,
) -> FileRecord {
    let upload = PendingUpload {
        id: UploadId::random(),
        blob: BlobId::random(),
        account,
        reserved: 0,
        multipart: MultipartState::NotStarted,
        started_at: Timestamp::now(),
    };
    meta.begin_upload(upload.clone()).await.expect("begin");
    meta.reserve(upload.id, size).await.expect("reserve");
    let id = FileId::random();
    let record = FileRecord {
        id,
        case,
        folder,
        name: Sealed(vec![]),
        name_tag: [7; 32],
        blob: upload.blob,
        size,
        object_size: size,
        sha256: Sealed(vec![]),
        kind: crate::kind::FileKind::Other,
        header: vec![],
        chunk_size: 4096,
        account,
        uploaded_by: Actor::System,
        owner_only: false,
        created_at: Timestamp::now(),
    };
    meta.commit_file(CommitFile {
        upload: upload.id,
        file: record.clone(),
        on_conflict: OnConflict::Fail,
        grant: None,
        uploader: None,
    })
    .await
    .expect("commit");
    record
}

fn count(tree: &sled::Tree) -> usize {
    tree.iter().count()
}

#[tokio::test]
async fn a_move_carries_the_name_entry_and_refuses_cycles() {
    let (_dir, meta) = temp_meta();
    let case = case(&meta, QuotaAccount::User(UserId::random())).await;
    let a = folder(&meta, case, None, 1).await;
    let b = folder(&meta, case, None, 2).await;
    let inner = folder(&meta, case, Some(a), 3).await;

    meta.move_folder(a, Some(b), Sealed(vec![9]), [9; 32])
        .await
        .expect("move");
    assert_eq!(
        meta.lookup_name(case, None, [1; 32]).await.expect("lookup"),
        None
    );
    assert_eq!(
        meta.lookup_name(case, Some(b), [9; 32])
            .await
            .expect("lookup"),
        Some(NameEntry::Folder(a))
    );
    assert_eq!(count(&meta.trees.names), 3);

    for target in [a, inner] {
        let err = meta
            .move_folder(b, Some(target), Sealed(vec![2]), [2; 32])
            .await
            .expect_err("cycle");
        assert!(matches!(err, StorageError::Invalid(_)), "{err}");
    }
    let b_record = meta.folder(b).await.expect("get").expect("b");
    assert_eq!(b_record.parent, None);
    assert_eq!(
        meta.lookup_name(case, None, [2; 32]).await.expect("lookup"),
        Some(NameEntry::Folder(b))
    );
}

#[tokio::test]
async fn a_deletion_leaves_no_index_entry_behind() {
    let (_dir, meta) = temp_meta();
    let account = QuotaAccount::User(UserId::random());
    meta.set_quota_limit(account, 1 << 20).await.expect("limit");
    let case = case(&meta, account).await;
    let top = folder(&meta, case, None, 1).await;
    let middle = folder(&meta, case, Some(top), 2).await;
    let bottom = folder(&meta, case, Some(middle), 3).await;
    let kept = folder(&meta, case, None, 4).await;
    let gone = [
        file(&meta, case, account, Some(top), 10).await,
        file(&meta, case, account, Some(bottom), 20).await,
    ];
    let stays = file(&meta, case, account, Some(kept), 40).await;

    let deletion = meta.delete_folder(top).await.expect("delete");
    assert_eq!(
        (deletion.folders, deletion.files, deletion.bytes),
        (3, 2, 30)
    );
    let mut objects = deletion.objects.clone();
    objects.sort();
    let mut expected: Vec<BlobId> = gone.iter().map(|f| f.blob).collect();
    expected.sort();
    assert_eq!(objects, expected);

    let t = &meta.trees;
    assert_eq!(count(&t.folders), 1);
    assert_eq!(count(&t.folders_by_case), 1);
    assert_eq!(count(&t.files), 1);
    assert_eq!(count(&t.files_by_case), 1);
    assert_eq!(count(&t.files_by_blob), 1);
    assert_eq!(count(&t.names), 2, "the kept folder and its file");
    let mut garbage = meta.garbage().await.expect("garbage");
    garbage.sort();
    assert_eq!(garbage, expected);
    assert_eq!(meta.quota(account).await.expect("quota").used, stays.size);
    assert!(matches!(
        meta.delete_folder(top).await,
        Err(StorageError::NotFound("folder"))
    ));
}
