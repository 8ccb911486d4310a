//! Share grants and their four indexes (by owner, by link-token hash, by colleague, by
//! case): creating, listing, owner edits and revocation, and removal together with what
//! they point at.
//!
//! A grant is removed in the same transaction as its target: [`Meta::delete_case`] removes
//! every grant of the case, [`Meta::delete_file`] and [`Meta::delete_folder`] the grants
//! pointing at what they delete. Those grants are found by scanning the case index just
//! before the transaction; a grant created between the scan and the transaction is caught
//! by [`prune_grants`] right after it (a grant is only created while its target exists, so
//! no later one can appear).
//!
//! The counters (downloads, uploads, password attempts) are in `grant_counters`.

use casevault_crypto::TokenHash;
use sled::transaction::{ConflictableTransactionResult, TransactionalTree};
use sled::{Transactional, Tree};

use super::{Meta, abort, get, join_index, key, tx_get, tx_put};
use crate::error::{Result, StorageError};
use crate::ids::{CaseId, GrantId, UserId};
use crate::records::{FileRecord, FolderRecord, GrantRecord, GrantTarget};
use crate::time::Timestamp;

impl super::Trees {
    /// The grant trees in the order [`GrantTrees::new`] expects them.
    pub(crate) fn grant_trees(&self) -> [&Tree; 5] {
        [
            &self.grants,
            &self.grants_by_owner,
            &self.grants_by_token,
            &self.grants_by_grantee,
            &self.grants_by_case,
        ]
    }
}

/// The trees a grant lives in, inside one transaction.
pub(crate) struct GrantTrees<'a> {
    grants: &'a TransactionalTree,
    by_owner: &'a TransactionalTree,
    by_token: &'a TransactionalTree,
    by_grantee: &'a TransactionalTree,
    by_case: &'a TransactionalTree,
}

impl<'a> GrantTrees<'a> {
    /// The grant trees of a transaction over [`super::Trees::grant_trees`], in that order.
    pub(crate) fn new(
        tx: &'a [TransactionalTree],
    ) -> ConflictableTransactionResult<Self, StorageError> {
        let [grants, by_owner, by_token, by_grantee, by_case] = tx else {
            return abort(StorageError::Invalid("transaction trees".into()));
        };
        Ok(GrantTrees {
            grants,
            by_owner,
            by_token,
            by_grantee,
            by_case,
        })
    }

    /// Stores a new grant with its index entries; a token hash already in use is refused.
    fn insert(&self, grant: &GrantRecord) -> ConflictableTransactionResult<(), StorageError> {
        let id = grant.id.as_bytes();
        if let Some(hash) = grant.token_hash() {
            if self.by_token.get(hash.0)?.is_some() {
                return abort(StorageError::NameConflict);
            }
            self.by_token.insert(&hash.0, id)?;
        }
        if let Some(grantee) = grant.grantee() {
            self.by_grantee
                .insert(key(&[grantee.as_bytes(), id]), &[])?;
        }
        self.by_owner
            .insert(key(&[grant.owner.as_bytes(), id]), &[])?;
        self.by_case
            .insert(key(&[grant.target.case().as_bytes(), id]), &[])?;
        tx_put(self.grants, id, grant)
    }

    /// Removes a grant and its index entries.
    pub(crate) fn remove(
        &self,
        grant: &GrantRecord,
    ) -> ConflictableTransactionResult<(), StorageError> {
        let id = grant.id.as_bytes();
        if let Some(hash) = grant.token_hash() {
            self.by_token.remove(&hash.0)?;
        }
        if let Some(grantee) = grant.grantee() {
            self.by_grantee.remove(key(&[grantee.as_bytes(), id]))?;
        }
        self.by_owner.remove(key(&[grant.owner.as_bytes(), id]))?;
        self.by_case
            .remove(key(&[grant.target.case().as_bytes(), id]))?;
        self.grants.remove(id)?;
        Ok(())
    }

    /// Removes those of the `planned` grants that still exist and whose target `gone`
    /// accepts. Returns how many were removed.
    pub(crate) fn remove_where(
        &self,
        planned: &[GrantId],
        gone: impl Fn(&GrantTarget) -> bool,
    ) -> ConflictableTransactionResult<usize, StorageError> {
        let mut removed = 0;
        for id in planned {
            if let Some(grant) = tx_get::<GrantRecord>(self.grants, id.as_bytes())?
                && gone(&grant.target)
            {
                self.remove(&grant)?;
                removed += 1;
            }
        }
        Ok(removed)
    }
}

/// The ids of every grant of a case, from its index (outside any transaction).
pub(crate) fn grant_ids_of_case(m: &Meta, case: CaseId) -> Result<Vec<GrantId>> {
    let mut ids = Vec::new();
    for entry in m.trees.grants_by_case.scan_prefix(case.as_bytes()).keys() {
        let entry = entry?;
        let id = GrantId::from_slice(&entry[case.as_bytes().len()..])
            .map_err(|_| StorageError::Codec("grant index key".into()))?;
        ids.push(id);
    }
    Ok(ids)
}

/// Whether a grant's target exists, inside a transaction over the cases, folders and files.
fn target_exists(
    cases: &TransactionalTree,
    folders: &TransactionalTree,
    files: &TransactionalTree,
    target: &GrantTarget,
) -> ConflictableTransactionResult<bool, StorageError> {
    if cases.get(target.case().as_bytes())?.is_none() {
        return Ok(false);
    }
    Ok(match *target {
        GrantTarget::Case(_) => true,
        GrantTarget::Folder(case, folder) => {
            tx_get::<FolderRecord>(folders, folder.as_bytes())?.is_some_and(|f| f.case == case)
        }
        GrantTarget::File(case, file) => {
            tx_get::<FileRecord>(files, file.as_bytes())?.is_some_and(|f| f.case == case)
        }
    })
}

/// Removes every grant of a case whose target no longer exists; returns how many. Run after
/// a deletion, to catch grants created while it was being planned.
pub(crate) fn prune_grants(m: &Meta, case: CaseId) -> Result<usize> {
    let planned = grant_ids_of_case(m, case)?;
    if planned.is_empty() {
        return Ok(0);
    }
    let t = &m.trees;
    let mut trees = vec![&t.cases, &t.folders, &t.files];
    trees.extend(t.grant_trees());
    let removed = trees[..].transaction(|tx| {
        let [cases, folders, files, rest @ ..] = &tx[..] else {
            return abort(StorageError::Invalid("transaction trees".into()));
        };
        let grants = GrantTrees::new(rest)?;
        let mut removed = 0;
        for id in &planned {
            if let Some(grant) = tx_get::<GrantRecord>(grants.grants, id.as_bytes())?
                && !target_exists(cases, folders, files, &grant.target)?
            {
                grants.remove(&grant)?;
                removed += 1;
            }
        }
        Ok(removed)
    })?;
    Ok(removed)
}

impl Meta {
    /// Stores a new grant. Fails with [`StorageError::NotFound`] unless its target exists
    /// and with [`StorageError::NameConflict`] if its link-token hash is already in use.
    pub async fn create_grant(&self, grant: GrantRecord) -> Result<GrantRecord> {
        self.run_durable(move |m| {
            let t = &m.trees;
            let mut trees = vec![&t.cases, &t.folders, &t.files];
            trees.extend(t.grant_trees());
            trees[..].transaction(|tx| {
                let [cases, folders, files, rest @ ..] = &tx[..] else {
                    return abort(StorageError::Invalid("transaction trees".into()));
                };
                if !target_exists(cases, folders, files, &grant.target)? {
                    return abort(StorageError::NotFound("share target"));
                }
                GrantTrees::new(rest)?.insert(&grant)
            })?;
            Ok(grant)
        })
        .await
    }

    /// A grant by id.
    pub async fn grant(&self, id: GrantId) -> Result<Option<GrantRecord>> {
        self.run(move |m| get(&m.trees.grants, id.as_bytes())).await
    }

    /// The grant a link token opens, found by the token's hash.
    pub async fn grant_by_token(&self, hash: TokenHash) -> Result<Option<GrantRecord>> {
        self.run(move |m| {
            let Some(id) = m.trees.grants_by_token.get(hash.0)? else {
                return Ok(None);
            };
            get(&m.trees.grants, &id)
        })
        .await
    }

    /// Every grant an owner created.
    pub async fn grants_of(&self, owner: UserId) -> Result<Vec<GrantRecord>> {
        self.run(move |m| join_index(&m.trees.grants_by_owner, owner.as_bytes(), &m.trees.grants))
            .await
    }

    /// Every grant made out to a colleague ("shared with me"), whatever its status.
    pub async fn grants_for(&self, grantee: UserId) -> Result<Vec<GrantRecord>> {
        self.run(move |m| {
            join_index(
                &m.trees.grants_by_grantee,
                grantee.as_bytes(),
                &m.trees.grants,
            )
        })
        .await
    }

    /// Every grant on a case or on something inside it, whatever its status.
    pub async fn grants_of_case(&self, case: CaseId) -> Result<Vec<GrantRecord>> {
        self.run(move |m| join_index(&m.trees.grants_by_case, case.as_bytes(), &m.trees.grants))
            .await
    }

    /// Removes every grant whose case, folder or file no longer exists (the integrity check
    /// reports them); returns how many.
    pub async fn prune_dangling_grants(&self) -> Result<usize> {
        self.run_durable(|m| {
            let mut cases: Vec<CaseId> = Vec::new();
            for entry in m.trees.grants_by_case.iter().keys() {
                let entry = entry?;
                let case = entry
                    .get(..16)
                    .and_then(|id| CaseId::from_slice(id).ok())
                    .ok_or_else(|| StorageError::Codec("grant index key".into()))?;
                if cases.last() != Some(&case) {
                    cases.push(case);
                }
            }
            let mut removed = 0;
            for case in cases {
                removed += prune_grants(m, case)?;
            }
            Ok(removed)
        })
        .await
    }

    /// Every grant (for the integrity check).
    pub async fn all_grants(&self) -> Result<Vec<GrantRecord>> {
        self.run(|m| {
            m.trees
                .grants
                .iter()
                .values()
                .map(|v| crate::codec::decode(&v?))
                .collect()
        })
        .await
    }

    /// Applies an owner's edit to a grant atomically (role, password, recipient, expiry,
    /// limits, unlocking) and returns the new record; `change` may refuse with an error.
    /// What the indexes depend on (id, owner, target, audience) cannot change: such a change
    /// is refused with [`StorageError::Invalid`].
    pub async fn update_grant<F>(&self, id: GrantId, change: F) -> Result<GrantRecord>
    where
        F: Fn(&mut GrantRecord) -> Result<()> + Send + 'static,
    {
        self.run_durable(move |m| {
            let record = m.trees.grants.transaction(|grants| {
                let Some(mut grant) = tx_get::<GrantRecord>(grants, id.as_bytes())? else {
                    return abort(StorageError::NotFound("grant"));
                };
                let before = (grant.id, grant.owner, grant.target, grant.audience);
                if let Err(e) = change(&mut grant) {
                    return abort(e);
                }
                if (grant.id, grant.owner, grant.target, grant.audience) != before {
                    return abort(StorageError::Invalid(
                        "grant change: its owner, target and audience are fixed".into(),
                    ));
                }
                tx_put(grants, id.as_bytes(), &grant)?;
                Ok(grant)
            })?;
            Ok(record)
        })
        .await
    }

    /// Revokes those of `ids` that belong to `owner` and are not revoked yet, in one
    /// transaction, and returns how many it revoked. Other owners' grants and unknown ids
    /// are left alone (and not counted).
    pub async fn revoke_grants(
        &self,
        owner: UserId,
        ids: &[GrantId],
        now: Timestamp,
    ) -> Result<usize> {
        let ids = ids.to_vec();
        self.run_durable(move |m| {
            let revoked = m.trees.grants.transaction(|grants| {
                let mut revoked = 0;
                for id in &ids {
                    let Some(mut grant) = tx_get::<GrantRecord>(grants, id.as_bytes())? else {
                        continue;
                    };
                    if grant.owner != owner || grant.revoked_at.is_some() {
                        continue;
                    }
                    grant.revoked_at = Some(now);
                    tx_put(grants, id.as_bytes(), &grant)?;
                    revoked += 1;
                }
                Ok(revoked)
            })?;
            Ok(revoked)
        })
        .await
    }
}

#[cfg(test)]
mod tests;
