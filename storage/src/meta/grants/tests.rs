//! Unit tests of the grant indexes: creation, listing, owner edits, revocation and removal.

use casevault_crypto::Token;

use super::*;
use crate::meta::{temp_case, temp_meta};
use crate::records::{GrantAudience, GrantRole};

fn link(owner: UserId, case: CaseId) -> GrantRecord {
    GrantRecord::new(
        owner,
        GrantTarget::Case(case),
        GrantRole::Read,
        GrantAudience::External {
            token_hash: Token::generate().hash(),
        },
        None,
    )
}

fn count(tree: &Tree) -> usize {
    tree.iter().count()
}

#[tokio::test]
async fn every_index_finds_a_new_grant() {
    let (_dir, meta) = temp_meta();
    let case = temp_case(&meta).await;
    let owner = UserId::random();
    let colleague = UserId::random();
    let shared = GrantRecord::new(
        owner,
        GrantTarget::Case(case),
        GrantRole::Edit,
        GrantAudience::Colleague(colleague),
        None,
    );
    let shared = meta.create_grant(shared).await.expect("colleague grant");
    let external = meta.create_grant(link(owner, case)).await.expect("link");

    let ids = |grants: Vec<GrantRecord>| {
        let mut ids: Vec<GrantId> = grants.into_iter().map(|g| g.id).collect();
        ids.sort();
        ids
    };
    let mut both = vec![shared.id, external.id];
    both.sort();
    assert_eq!(ids(meta.grants_of(owner).await.expect("owned")), both);
    assert_eq!(ids(meta.grants_of_case(case).await.expect("case")), both);
    assert_eq!(
        ids(meta.grants_for(colleague).await.expect("shared")),
        vec![shared.id]
    );
    let hash = external.token_hash().expect("link");
    let found = meta.grant_by_token(hash).await.expect("token");
    assert_eq!(found.map(|g| g.id), Some(external.id));
    assert!(meta.check_grants().await.expect("check").is_clean());

    let mut reused = link(owner, case);
    reused.audience = external.audience;
    assert!(matches!(
        meta.create_grant(reused).await,
        Err(StorageError::NameConflict)
    ));
    let nowhere = link(owner, CaseId::random());
    assert!(matches!(
        meta.create_grant(nowhere).await,
        Err(StorageError::NotFound(_))
    ));
    assert_eq!(count(&meta.trees.grants), 2);
}

#[tokio::test]
async fn an_edit_cannot_move_a_grant_between_indexes() {
    let (_dir, meta) = temp_meta();
    let case = temp_case(&meta).await;
    let owner = UserId::random();
    let grant = meta.create_grant(link(owner, case)).await.expect("link");

    let edited = meta
        .update_grant(grant.id, |g| {
            g.role = GrantRole::Drop;
            g.upload_cap = Some(10);
            Ok(())
        })
        .await
        .expect("edit");
    assert_eq!(
        (edited.role, edited.upload_cap),
        (GrantRole::Drop, Some(10))
    );
    for change in [0, 1, 2] {
        let refused = meta
            .update_grant(grant.id, move |g| {
                match change {
                    0 => g.owner = UserId::random(),
                    1 => g.audience = GrantAudience::Colleague(UserId::random()),
                    _ => g.target = GrantTarget::Case(CaseId::random()),
                }
                Ok(())
            })
            .await;
        assert!(matches!(refused, Err(StorageError::Invalid(_))), "{change}");
    }
    let stored = meta.grant(grant.id).await.expect("get").expect("grant");
    assert_eq!((stored.owner, stored.target), (owner, grant.target));
    assert!(meta.check_grants().await.expect("check").is_clean());
}

#[tokio::test]
async fn a_deleted_case_leaves_no_grant_entry_behind() {
    let (_dir, meta) = temp_meta();
    let case = temp_case(&meta).await;
    let other = temp_case(&meta).await;
    let owner = UserId::random();
    meta.create_grant(link(owner, case)).await.expect("link");
    let colleague = GrantRecord::new(
        owner,
        GrantTarget::Case(case),
        GrantRole::Read,
        GrantAudience::Colleague(UserId::random()),
        None,
    );
    meta.create_grant(colleague).await.expect("colleague");
    let kept = meta.create_grant(link(owner, other)).await.expect("kept");

    meta.delete_case(case).await.expect("delete");
    let t = &meta.trees;
    assert_eq!(count(&t.grants), 1);
    assert_eq!(count(&t.grants_by_owner), 1);
    assert_eq!(count(&t.grants_by_token), 1);
    assert_eq!(count(&t.grants_by_grantee), 0);
    assert_eq!(count(&t.grants_by_case), 1);
    assert_eq!(meta.grants_of(owner).await.expect("owned")[0].id, kept.id);
    assert!(meta.check_grants().await.expect("check").is_clean());
}

#[tokio::test]
async fn pruning_removes_grants_whose_target_is_gone() {
    let (_dir, meta) = temp_meta();
    let case = temp_case(&meta).await;
    let owner = UserId::random();
    let grant = meta.create_grant(link(owner, case)).await.expect("link");
    // The case disappears behind the grants' back, as a racing deletion would leave it.
    meta.trees.cases.remove(case.as_bytes()).expect("remove");
    let faults = meta.check_grants().await.expect("check");
    assert_eq!(faults.missing_targets, vec![grant.id]);

    let removed = meta.prune_dangling_grants().await.expect("prune");
    assert_eq!(removed, 1);
    assert_eq!(count(&meta.trees.grants_by_token), 0);
    assert!(meta.check_grants().await.expect("check").is_clean());
}
