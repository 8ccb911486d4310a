//! Share grants: a one-time link is downloaded exactly once however many claims race, the
//! status boundaries hold, only the owner revokes, grants go with what they point at, an
//! upload through a grant stops at its cap with the quota exact, and who uploaded a file
//! through a grant is kept sealed and removed with the file.

use std::sync::Arc;

use casevault_crypto::Token;
use casevault_storage::{
    Actor, CaseRecord, GrantAudience, GrantRecord, GrantRole, GrantStatus, GrantTarget, Meta,
    StorageError, Timestamp, Uploader, UserId,
};

use crate::support::{Backend, TestStorage, backends, data, new_file, pieces};

fn link(owner: UserId, target: GrantTarget, role: GrantRole) -> GrantRecord {
    let audience = GrantAudience::External {
        token_hash: Token::generate().hash(),
    };
    let expiry = Timestamp::now().plus(GrantRecord::DEFAULT_LIFETIME);
    GrantRecord::new(owner, target, role, audience, Some(expiry))
}

async fn one_time_link(t: &TestStorage, case: &CaseRecord) -> GrantRecord {
    let mut grant = link(t.owner, GrantTarget::Case(case.id), GrantRole::Read);
    grant.download_limit = Some(1);
    t.storage
        .meta()
        .create_grant(grant)
        .await
        .expect("create grant")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 8)]
async fn a_one_time_link_is_claimed_exactly_once() {
    let t = TestStorage::open(Backend::Local).await;
    let case = t.case().await;
    for round in 0..5 {
        let grant = one_time_link(&t, &case).await;
        let meta = Arc::new(t.storage.meta().clone());
        let now = Timestamp::now();
        let claims: Vec<_> = (0..50)
            .map(|_| {
                let meta = meta.clone();
                tokio::spawn(async move { meta.claim_download(grant.id, now).await })
            })
            .collect();
        let mut won = 0;
        for claim in claims {
            match claim.await.expect("task") {
                Ok(record) => {
                    won += 1;
                    assert_eq!(record.downloads_in_flight, 1);
                    assert_eq!(record.last_access, Some(now));
                }
                Err(StorageError::GrantUnavailable) => {}
                Err(e) => panic!("round {round}: unexpected error {e}"),
            }
        }
        assert_eq!(won, 1, "round {round}: exactly one claim succeeds");

        let done = meta
            .complete_download(grant.id)
            .await
            .expect("complete")
            .expect("grant");
        assert_eq!((done.downloads, done.downloads_in_flight), (1, 0));
        assert_eq!(done.status(Timestamp::now()), GrantStatus::UsedUp);
        let after = meta.claim_download(grant.id, Timestamp::now()).await;
        assert!(matches!(after, Err(StorageError::GrantUnavailable)));
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_released_claim_is_refunded_and_claims_do_not_survive_a_restart() {
    let t = TestStorage::open(Backend::Local).await;
    let case = t.case().await;
    let grant = one_time_link(&t, &case).await;
    let meta = t.storage.meta().clone();
    let now = Timestamp::now();
    meta.claim_download(grant.id, now).await.expect("claim");
    let refused = meta.claim_download(grant.id, now).await;
    assert!(matches!(refused, Err(StorageError::GrantUnavailable)));
    let released = meta
        .release_download(grant.id)
        .await
        .expect("release")
        .expect("grant");
    assert_eq!((released.downloads, released.downloads_in_flight), (0, 0));
    assert_eq!(released.status(now), GrantStatus::Active);
    meta.claim_download(grant.id, now)
        .await
        .expect("claim again");
    drop(meta);

    let t = t.reopen().await;
    let reopened = t
        .storage
        .meta()
        .grant(grant.id)
        .await
        .expect("get")
        .expect("grant");
    assert_eq!(reopened.downloads_in_flight, 0, "reset at start");
    t.storage
        .meta()
        .claim_download(grant.id, Timestamp::now())
        .await
        .expect("claimable after a restart");
}

#[tokio::test(flavor = "multi_thread")]
async fn statuses_at_their_boundaries() {
    let t = TestStorage::open(Backend::Local).await;
    let case = t.case().await;
    let meta = t.storage.meta();
    let expiry = Timestamp(Timestamp::now().0 + 60_000);
    let mut grant = link(t.owner, GrantTarget::Case(case.id), GrantRole::Read);
    grant.expires_at = Some(expiry);
    let grant = meta.create_grant(grant).await.expect("create");

    assert!(matches!(
        meta.claim_download(grant.id, expiry).await,
        Err(StorageError::GrantUnavailable)
    ));
    let claimed = meta
        .claim_download(grant.id, Timestamp(expiry.0 - 1))
        .await
        .expect("a millisecond before expiry");
    assert_eq!(claimed.status(expiry), GrantStatus::Expired);
    let done = meta
        .complete_download(grant.id)
        .await
        .expect("a transfer under way may finish after expiry")
        .expect("grant");
    assert_eq!(done.downloads, 1);

    for attempt in 1..=3 {
        let counted = meta
            .record_failed_attempt(grant.id, Timestamp(expiry.0 - 10), 3)
            .await
            .expect("attempt");
        assert_eq!(counted.failed_attempts, attempt);
        assert_eq!(counted.locked_at.is_some(), attempt == 3);
    }
    let reset = meta.reset_failed_attempts(grant.id).await.expect("reset");
    assert_eq!(reset.failed_attempts, 0);
    assert_eq!(reset.status(Timestamp(0)), GrantStatus::Locked);

    let unknown = meta
        .claim_download(casevault_storage::GrantId::random(), Timestamp::now())
        .await;
    assert!(matches!(unknown, Err(StorageError::GrantUnavailable)));
}

#[tokio::test(flavor = "multi_thread")]
async fn only_the_owner_revokes() {
    let t = TestStorage::open(Backend::Local).await;
    let case = t.case().await;
    let meta = t.storage.meta();
    let mine = meta
        .create_grant(link(t.owner, GrantTarget::Case(case.id), GrantRole::Read))
        .await
        .expect("mine");
    let intruder = UserId::random();
    let now = Timestamp::now();
    assert_eq!(
        meta.revoke_grants(intruder, &[mine.id], now)
            .await
            .expect("revoke"),
        0
    );
    let untouched = meta.grant(mine.id).await.expect("get").expect("grant");
    assert_eq!(untouched.status(now), GrantStatus::Active);

    let ids = [mine.id, mine.id, casevault_storage::GrantId::random()];
    assert_eq!(
        meta.revoke_grants(t.owner, &ids, now)
            .await
            .expect("revoke"),
        1
    );
    assert_eq!(
        meta.revoke_grants(t.owner, &ids, now).await.expect("again"),
        0
    );
    let revoked = meta.grant(mine.id).await.expect("get").expect("grant");
    assert_eq!(revoked.status(now), GrantStatus::Revoked);
    assert!(matches!(
        meta.claim_download(mine.id, now).await,
        Err(StorageError::GrantUnavailable)
    ));
}

#[tokio::test(flavor = "multi_thread")]
async fn grants_go_with_what_they_point_at() {
    let t = TestStorage::open(Backend::Local).await;
    let case = t.case().await;
    let meta = t.storage.meta();
    let colleague = UserId::random();
    let folder = t
        .storage
        .create_folder(case.id, None, "scans")
        .await
        .expect("folder");
    let mut inside = new_file(&case, "inside.stl");
    inside.folder = Some(folder.id);
    let inside = t
        .storage
        .upload(inside, pieces(data(1000, 1), 300))
        .await
        .expect("upload");
    let loose = t
        .upload(&case, "loose.pdf", &data(500, 2))
        .await
        .expect("upload");

    let on_case = GrantRecord::new(
        t.owner,
        GrantTarget::Case(case.id),
        GrantRole::Edit,
        GrantAudience::Colleague(colleague),
        None,
    );
    let on_case = meta.create_grant(on_case).await.expect("case grant");
    let on_folder = meta
        .create_grant(link(
            t.owner,
            GrantTarget::Folder(case.id, folder.id),
            GrantRole::Read,
        ))
        .await
        .expect("folder grant");
    let on_inside = meta
        .create_grant(link(
            t.owner,
            GrantTarget::File(case.id, inside.id),
            GrantRole::Read,
        ))
        .await
        .expect("file grant");
    let on_loose = meta
        .create_grant(link(
            t.owner,
            GrantTarget::File(case.id, loose.id),
            GrantRole::Read,
        ))
        .await
        .expect("file grant");
    assert_eq!(meta.grants_of_case(case.id).await.expect("list").len(), 4);
    assert_eq!(meta.grants_for(colleague).await.expect("shared").len(), 1);

    t.storage.delete_file(loose.id).await.expect("delete file");
    assert!(meta.grant(on_loose.id).await.expect("get").is_none());
    t.storage
        .delete_folder(folder.id)
        .await
        .expect("delete folder");
    for gone in [&on_folder, &on_inside, &on_loose] {
        assert!(meta.grant(gone.id).await.expect("get").is_none());
        let hash = gone.token_hash().expect("a link");
        assert!(meta.grant_by_token(hash).await.expect("by token").is_none());
    }
    let remaining = meta.grants_of_case(case.id).await.expect("list");
    assert_eq!(remaining.len(), 1);
    assert_eq!(remaining[0].id, on_case.id);
    t.assert_clean().await;

    let missing = link(
        t.owner,
        GrantTarget::Folder(case.id, folder.id),
        GrantRole::Read,
    );
    assert!(matches!(
        meta.create_grant(missing).await,
        Err(StorageError::NotFound(_))
    ));

    let external = meta
        .create_grant(link(t.owner, GrantTarget::Case(case.id), GrantRole::Drop))
        .await
        .expect("link");
    t.storage.delete_case(case.id).await.expect("delete case");
    assert!(meta.grants_of_case(case.id).await.expect("list").is_empty());
    assert!(meta.grants_of(t.owner).await.expect("owned").is_empty());
    assert!(meta.grants_for(colleague).await.expect("shared").is_empty());
    let hash = external.token_hash().expect("a link");
    assert!(meta.grant_by_token(hash).await.expect("by token").is_none());
    t.assert_clean().await;
}

fn through(case: &CaseRecord, grant: &GrantRecord, name: &str) -> casevault_storage::NewFile {
    let mut new = new_file(case, name);
    new.grant = Some(grant.id);
    new.uploaded_by = Actor::Grant(grant.id);
    new.owner_only = true;
    new
}

#[tokio::test(flavor = "multi_thread")]
async fn an_upload_past_the_grant_cap_is_refused_and_the_quota_stays_exact() {
    for backend in backends() {
        let t = TestStorage::open(backend).await;
        let case = t.case().await;
        let meta = t.storage.meta();
        let mut grant = link(t.owner, GrantTarget::Case(case.id), GrantRole::Drop);
        grant.upload_cap = Some(50_000);
        let grant = meta.create_grant(grant).await.expect("grant");

        let first = t
            .storage
            .upload(through(&case, &grant, "a"), pieces(data(30_000, 1), 4000))
            .await
            .expect("fits");
        // Unknown length: refused while streaming.
        let err = t
            .storage
            .upload(through(&case, &grant, "b"), pieces(data(30_000, 2), 4000))
            .await
            .expect_err("past the cap");
        assert!(
            matches!(err, StorageError::GrantCapExceeded { .. }),
            "{err}"
        );
        // Announced length: refused before the first byte.
        let mut announced = through(&case, &grant, "c");
        announced.expected_size = Some(30_000);
        let err = t
            .storage
            .begin_upload(announced)
            .await
            .expect_err("past the cap");
        assert!(
            matches!(err, StorageError::GrantCapExceeded { .. }),
            "{err}"
        );

        // Two uploads that each fit alone: the commit transaction refuses the second.
        let mut one = through(&case, &grant, "d");
        one.expected_size = Some(15_000);
        let mut two = through(&case, &grant, "e");
        two.expected_size = Some(15_000);
        let mut one = t.storage.begin_upload(one).await.expect("begin");
        let mut two = t.storage.begin_upload(two).await.expect("begin");
        one.write(&data(15_000, 3)).await.expect("write");
        two.write(&data(15_000, 4)).await.expect("write");
        let second = one.finish().await.expect("fits");
        let err = two.finish().await.expect_err("the cap is reached");
        assert!(
            matches!(err, StorageError::GrantCapExceeded { .. }),
            "{err}"
        );

        let charged = meta.grant(grant.id).await.expect("get").expect("grant");
        assert_eq!(charged.uploaded, first.size + second.size);
        let quota = meta.quota(t.account()).await.expect("quota");
        assert_eq!(quota.used, first.size + second.size, "{backend:?}");
        assert_eq!(quota.reserved, 0, "{backend:?}");
        t.assert_clean().await;

        meta.revoke_grants(t.owner, &[grant.id], Timestamp::now())
            .await
            .expect("revoke");
        let err = t
            .storage
            .upload(through(&case, &grant, "f"), pieces(data(10, 5), 10))
            .await
            .expect_err("revoked");
        assert!(matches!(err, StorageError::GrantUnavailable), "{err}");
        t.assert_clean().await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_uploader_is_kept_sealed_and_goes_with_the_file() {
    let t = TestStorage::open(Backend::Local).await;
    let case = t.case().await;
    let meta = t.storage.meta();
    let grant = meta
        .create_grant(link(t.owner, GrantTarget::Case(case.id), GrantRole::Drop))
        .await
        .expect("grant");
    let who = Uploader {
        name: "Dr. Zed Quimby".into(),
        email: "zed.quimby@lab.example".into(),
    };
    let mut new = through(&case, &grant, "impression.stl");
    new.uploader = Some(who.clone());
    let dropped = t
        .storage
        .upload(new, pieces(data(2000, 7), 500))
        .await
        .expect("upload");
    let plain = t.upload(&case, "own.pdf", b"pdf").await.expect("upload");

    let key = t.storage.case_key(&case).expect("key");
    let found = t.storage.file_uploader(&key, &dropped).await.expect("read");
    assert_eq!(found, Some(who.clone()));
    assert_eq!(
        t.storage.file_uploader(&key, &plain).await.expect("read"),
        None
    );
    t.storage.meta().flush().await.expect("flush");
    for secret in [&who.email, &who.name] {
        assert_eq!(
            super::support::occurs_under(t.dir.path(), secret.as_bytes()),
            None
        );
    }

    let (_copy_dir, restored) = restore(meta).await;
    let copy = restored
        .grant(grant.id)
        .await
        .expect("get")
        .expect("restored grant");
    assert_eq!(copy.uploaded, dropped.size);
    assert!(
        restored
            .file_uploader(dropped.id)
            .await
            .expect("get")
            .is_some()
    );

    t.storage.delete_file(dropped.id).await.expect("delete");
    assert!(meta.file_uploader(dropped.id).await.expect("get").is_none());
    t.assert_clean().await;
}

/// A copy of a metadata database through its logical backup, in a folder of its own.
async fn restore(meta: &Meta) -> (tempfile::TempDir, Meta) {
    let source = meta.clone();
    tokio::task::spawn_blocking(move || {
        let mut stream = Vec::new();
        source.export(&mut stream).expect("export");
        let dir = tempfile::tempdir().expect("tempdir");
        let target = Meta::open(&dir.path().join("meta")).expect("open");
        target.import(&stream[..]).expect("import");
        (dir, target)
    })
    .await
    .expect("task")
}
