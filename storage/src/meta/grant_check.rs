//! The grant part of the integrity check: every grant has its index entries, every index
//! entry names a grant that agrees with it, every grant's target exists, and every uploader
//! entry belongs to a file.
//!
//! Downloads in flight cannot be checked offline (they are claims of running transfers);
//! they are reset at start instead.

use std::collections::HashMap;

use sled::{IVec, Tree};

use super::{Meta, get, key};
use crate::codec;
use crate::error::{Result, StorageError};
use crate::ids::{FileId, GrantId};
use crate::records::{FileRecord, FolderRecord, GrantRecord, GrantTarget};

/// What the grant check found.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct GrantFaults {
    /// Grants checked.
    pub grants: usize,
    /// Grants missing one of their index entries.
    pub unindexed: Vec<GrantId>,
    /// Index entries naming a grant that does not exist or does not match them.
    pub stray_index_entries: usize,
    /// Grants whose case, folder or file no longer exists.
    pub missing_targets: Vec<GrantId>,
    /// Uploader entries of files that no longer exist.
    pub stray_uploaders: Vec<FileId>,
}

impl GrantFaults {
    /// True when nothing is wrong.
    pub fn is_clean(&self) -> bool {
        self.unindexed.is_empty()
            && self.stray_index_entries == 0
            && self.missing_targets.is_empty()
            && self.stray_uploaders.is_empty()
    }
}

/// Every key and value of a tree, read before anything else is (see
/// [`super::join_index`]).
fn entries(tree: &Tree) -> Result<Vec<(IVec, IVec)>> {
    Ok(tree.iter().collect::<std::result::Result<_, _>>()?)
}

/// Splits an index key `prefix id ‖ grant id` into its two ids.
fn split(entry: &[u8]) -> Option<([u8; 16], GrantId)> {
    let (prefix, grant) = entry.split_at_checked(16)?;
    Some((prefix.try_into().ok()?, GrantId::from_slice(grant).ok()?))
}

impl Meta {
    /// Checks the grants and their indexes (see the module documentation).
    pub async fn check_grants(&self) -> Result<GrantFaults> {
        self.run_blocking(|m| m.check_grants_now()).await
    }

    fn check_grants_now(&self) -> Result<GrantFaults> {
        let t = &self.trees;
        let mut grants: HashMap<GrantId, GrantRecord> = HashMap::new();
        for (id, value) in entries(&t.grants)? {
            let id =
                GrantId::from_slice(&id).map_err(|_| StorageError::Codec("grant key".into()))?;
            grants.insert(id, codec::decode(&value)?);
        }
        let mut faults = GrantFaults {
            grants: grants.len(),
            ..GrantFaults::default()
        };

        type Owner = fn(&GrantRecord) -> Option<[u8; 16]>;
        let prefixed: [(&Tree, Owner); 3] = [
            (&t.grants_by_owner, |g| Some(g.owner.0)),
            (&t.grants_by_case, |g| Some(g.target.case().0)),
            (&t.grants_by_grantee, |g| g.grantee().map(|u| u.0)),
        ];
        for (tree, prefix_of) in prefixed {
            for (entry, _) in entries(tree)? {
                let agrees = split(&entry).is_some_and(|(prefix, id)| {
                    grants.get(&id).and_then(prefix_of) == Some(prefix)
                });
                if !agrees {
                    faults.stray_index_entries += 1;
                }
            }
        }
        for (hash, id) in entries(&t.grants_by_token)? {
            let agrees = GrantId::from_slice(&id)
                .ok()
                .and_then(|id| grants.get(&id))
                .and_then(GrantRecord::token_hash)
                .is_some_and(|token| token.0.as_slice() == &hash[..]);
            if !agrees {
                faults.stray_index_entries += 1;
            }
        }

        for (id, grant) in &grants {
            let raw = id.as_bytes();
            let mut indexed = t
                .grants_by_owner
                .contains_key(key(&[grant.owner.as_bytes(), raw]))?
                && t.grants_by_case
                    .contains_key(key(&[grant.target.case().as_bytes(), raw]))?;
            if let Some(grantee) = grant.grantee() {
                indexed &= t
                    .grants_by_grantee
                    .contains_key(key(&[grantee.as_bytes(), raw]))?;
            }
            if let Some(hash) = grant.token_hash() {
                indexed &= t.grants_by_token.get(hash.0)?.as_deref() == Some(&raw[..]);
            }
            if !indexed {
                faults.unindexed.push(*id);
            }
            if !self.target_exists(&grant.target)? {
                faults.missing_targets.push(*id);
            }
        }

        for (file, _) in entries(&t.file_uploaders)? {
            if !t.files.contains_key(&file)? {
                faults.stray_uploaders.push(
                    FileId::from_slice(&file)
                        .map_err(|_| StorageError::Codec("uploader key".into()))?,
                );
            }
        }
        faults.unindexed.sort();
        faults.missing_targets.sort();
        Ok(faults)
    }

    /// Whether a grant's target exists (outside any transaction).
    fn target_exists(&self, target: &GrantTarget) -> Result<bool> {
        let t = &self.trees;
        Ok(match *target {
            GrantTarget::Case(case) => t.cases.contains_key(case.as_bytes())?,
            GrantTarget::Folder(case, folder) => {
                get::<FolderRecord>(&t.folders, folder.as_bytes())?.is_some_and(|f| f.case == case)
            }
            GrantTarget::File(case, file) => {
                get::<FileRecord>(&t.files, file.as_bytes())?.is_some_and(|f| f.case == case)
            }
        })
    }
}
