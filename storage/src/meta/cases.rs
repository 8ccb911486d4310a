//! Cases, deleted with everything in them, and the name index their files and folders
//! share.

use sled::Transactional;
use sled::transaction::ConflictableTransactionError;

use super::files::FileTrees;
use super::grants::{GrantTrees, grant_ids_of_case, prune_grants};
use super::{Meta, abort, get, join_index, key, name_key, tx_get, tx_put};
use crate::codec;
use crate::error::{Result, StorageError};
use crate::ids::{BlobId, CaseId, FileId, FolderId};
use crate::quota::{QuotaAccount, QuotaRecord};
use crate::records::{CaseRecord, FileRecord, FolderRecord};
use crate::time::Timestamp;

/// Kind byte stored in the name index.
pub(crate) const NAME_FILE: u8 = b'f';
pub(crate) const NAME_FOLDER: u8 = b'd';

impl Meta {
    /// Stores a new case.
    pub async fn create_case(&self, case: CaseRecord) -> Result<CaseRecord> {
        self.run_durable(move |m| {
            let t = &m.trees;
            (&t.cases, &t.cases_by_account).transaction(|(cases, by_account)| {
                tx_put(cases, case.id.as_bytes(), &case)?;
                by_account.insert(key(&[&case.account.key(), case.id.as_bytes()]), &[])?;
                Ok(())
            })?;
            Ok(case)
        })
        .await
    }

    /// A case by id.
    pub async fn case(&self, id: CaseId) -> Result<Option<CaseRecord>> {
        self.run(move |m| get(&m.trees.cases, id.as_bytes())).await
    }

    /// The cases charged to an account.
    pub async fn cases_of(&self, account: QuotaAccount) -> Result<Vec<CaseRecord>> {
        self.run(move |m| join_index(&m.trees.cases_by_account, &account.key(), &m.trees.cases))
            .await
    }

    /// Every case (for administration, rotation and the integrity check).
    pub async fn all_cases(&self) -> Result<Vec<CaseRecord>> {
        self.run(|m| {
            m.trees
                .cases
                .iter()
                .values()
                .map(|v| codec::decode(&v?))
                .collect()
        })
        .await
    }

    /// Replaces a case record; its account cannot change.
    pub async fn update_case(&self, mut case: CaseRecord) -> Result<CaseRecord> {
        case.updated_at = Timestamp::now();
        self.run_durable(move |m| {
            m.trees.cases.transaction(|cases| {
                let Some(old) = tx_get::<CaseRecord>(cases, case.id.as_bytes())? else {
                    return abort(StorageError::NotFound("case"));
                };
                if old.account != case.account {
                    return abort(StorageError::Invalid("case account change".into()));
                }
                tx_put(cases, case.id.as_bytes(), &case)
            })?;
            Ok(case)
        })
        .await
    }

    /// Deletes a case with its key, folders, files and grants in one transaction, releases
    /// their quota and queues their objects for deletion. Without the wrapped case key nothing of
    /// the case can be decrypted any more, from this store or from any backup of it.
    pub async fn delete_case(&self, id: CaseId) -> Result<Vec<BlobId>> {
        self.run_durable(move |m| {
            let t = &m.trees;
            let folder_ids: Vec<sled::IVec> = t
                .folders_by_case
                .scan_prefix(id.as_bytes())
                .keys()
                .collect::<std::result::Result<_, _>>()?;
            let file_ids: Vec<sled::IVec> = t
                .files_by_case
                .scan_prefix(id.as_bytes())
                .keys()
                .collect::<std::result::Result<_, _>>()?;
            let names: Vec<sled::IVec> = t
                .names
                .scan_prefix(id.as_bytes())
                .keys()
                .collect::<std::result::Result<_, _>>()?;
            let grants = grant_ids_of_case(m, id)?;
            let mut trees = vec![
                &t.cases,
                &t.cases_by_account,
                &t.folders,
                &t.folders_by_case,
                &t.files,
                &t.files_by_case,
                &t.files_by_blob,
                &t.names,
                &t.quota,
                &t.garbage,
                &t.file_uploaders,
            ];
            trees.extend(t.grant_trees());
            let blobs = trees[..].transaction(|tx| {
                let [
                    cases,
                    by_account,
                    folders,
                    folders_by_case,
                    files,
                    files_by_case,
                    by_blob,
                    names_tx,
                    quota,
                    garbage,
                    uploaders,
                    grant_trees @ ..,
                ] = &tx[..]
                else {
                    return abort(StorageError::Invalid("transaction trees".into()));
                };
                let Some(case) = tx_get::<CaseRecord>(cases, id.as_bytes())? else {
                    return abort(StorageError::NotFound("case"));
                };
                let mut blobs = Vec::new();
                for case_file in &file_ids {
                    let file_id = &case_file[16..];
                    if let Some(file) = tx_get::<FileRecord>(files, file_id)? {
                        let trees = FileTrees {
                            files,
                            by_case: files_by_case,
                            by_blob,
                            quota,
                            garbage,
                            uploaders,
                        };
                        trees.remove(&file)?;
                        blobs.push(file.blob);
                    }
                    files.remove(file_id)?;
                    files_by_case.remove(case_file)?;
                }
                for case_folder in &folder_ids {
                    folders.remove(&case_folder[16..])?;
                    folders_by_case.remove(case_folder)?;
                }
                for name in &names {
                    names_tx.remove(name)?;
                }
                GrantTrees::new(grant_trees)?.remove_where(&grants, |_| true)?;
                by_account.remove(key(&[&case.account.key(), id.as_bytes()]))?;
                cases.remove(id.as_bytes())?;
                Ok(blobs)
            })?;
            prune_grants(m, id)?;
            Ok(blobs)
        })
        .await
    }

    /// What the name index holds for a name in a folder: a file or a folder id.
    pub async fn lookup_name(
        &self,
        case: CaseId,
        parent: Option<FolderId>,
        name_tag: [u8; 32],
    ) -> Result<Option<NameEntry>> {
        self.run(move |m| {
            let Some(value) = m.trees.names.get(name_key(case, parent, &name_tag))? else {
                return Ok(None);
            };
            Ok(parse_name_value(&value))
        })
        .await
    }
}

/// What a name in a folder refers to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NameEntry {
    /// A file.
    File(FileId),
    /// A folder.
    Folder(FolderId),
}

pub(crate) fn name_value(kind: u8, id: &[u8; 16]) -> Vec<u8> {
    let mut value = Vec::with_capacity(17);
    value.push(kind);
    value.extend_from_slice(id);
    value
}

pub(crate) fn parse_name_value(value: &[u8]) -> Option<NameEntry> {
    let (kind, id) = value.split_first()?;
    let id: [u8; 16] = id.try_into().ok()?;
    match *kind {
        NAME_FILE => Some(NameEntry::File(FileId(id))),
        NAME_FOLDER => Some(NameEntry::Folder(FolderId(id))),
        _ => None,
    }
}

/// Fails the transaction unless `folder` exists and belongs to `case`.
pub(crate) fn check_folder_in_case(
    folders: &sled::transaction::TransactionalTree,
    folder: FolderId,
    case: CaseId,
) -> sled::transaction::ConflictableTransactionResult<(), StorageError> {
    match tx_get::<FolderRecord>(folders, folder.as_bytes())? {
        Some(record) if record.case == case => Ok(()),
        _ => abort(StorageError::NotFound("folder")),
    }
}

/// Subtracts a committed file's size from its account.
pub(crate) fn release_used(
    quota: &sled::transaction::TransactionalTree,
    account: QuotaAccount,
    size: u64,
) -> sled::transaction::ConflictableTransactionResult<(), StorageError> {
    let mut record: QuotaRecord = tx_get(quota, &account.key())?.unwrap_or_default();
    record.used = record.used.checked_sub(size).ok_or_else(|| {
        ConflictableTransactionError::Abort(StorageError::Codec("quota used below zero".into()))
    })?;
    tx_put(quota, &account.key(), &record)
}

/// The value stored in the garbage tree: when the object was queued.
pub(crate) fn codec_now() -> Vec<u8> {
    Timestamp::now().0.to_be_bytes().to_vec()
}
