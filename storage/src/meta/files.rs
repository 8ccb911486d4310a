//! Files: the commit transaction, listing, rename, move and delete.
//!
//! A file uploaded through a grant is charged to the grant in its commit transaction, and
//! who uploaded it is kept (sealed) in the `file_uploaders` tree, which loses the entry
//! with the file.

use sled::Transactional;
use sled::transaction::{ConflictableTransactionResult, TransactionalTree};

use super::cases::{
    NAME_FILE, NameEntry, check_folder_in_case, codec_now, name_value, parse_name_value,
    release_used,
};
use super::grant_counters::charge_upload;
use super::grants::{GrantTrees, grant_ids_of_case, prune_grants};
use super::{Meta, abort, get, join_index, key, name_key, tx_get, tx_put};
use crate::error::{Result, StorageError};
use crate::ids::{BlobId, CaseId, FileId, FolderId, GrantId, UploadId};
use crate::quota::QuotaRecord;
use crate::records::{FileRecord, GrantTarget, PendingUpload};
use crate::time::Timestamp;

/// The trees a file record lives in, inside one transaction.
pub(crate) struct FileTrees<'a> {
    pub files: &'a TransactionalTree,
    pub by_case: &'a TransactionalTree,
    pub by_blob: &'a TransactionalTree,
    pub quota: &'a TransactionalTree,
    pub garbage: &'a TransactionalTree,
    pub uploaders: &'a TransactionalTree,
}

impl FileTrees<'_> {
    /// Removes a file's record and indexes (not its name, which the caller may reuse),
    /// releases its size from its account and queues its object for deletion.
    pub(crate) fn remove(
        &self,
        file: &FileRecord,
    ) -> ConflictableTransactionResult<(), StorageError> {
        release_used(self.quota, file.account, file.size)?;
        self.files.remove(file.id.as_bytes())?;
        self.by_case
            .remove(key(&[file.case.as_bytes(), file.id.as_bytes()]))?;
        self.by_blob.remove(file.blob.as_bytes())?;
        self.garbage.insert(file.blob.as_bytes(), codec_now())?;
        self.uploaders.remove(file.id.as_bytes())?;
        Ok(())
    }
}

/// What to do when the name is already taken in the folder.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OnConflict {
    /// Refuse with [`StorageError::NameConflict`].
    Fail,
    /// Replace the existing file (a new version); its object is deleted afterwards.
    Replace,
}

/// A finished upload to record.
#[derive(Clone, Debug)]
pub struct CommitFile {
    /// The upload whose reservation is settled.
    pub upload: UploadId,
    /// The file record (its `blob` and `account` must match the upload's).
    pub file: FileRecord,
    /// Conflict policy.
    pub on_conflict: OnConflict,
    /// The grant the file is uploaded through: its size is charged to the grant, and the
    /// commit is refused past the grant's upload cap or once the grant no longer accepts
    /// uploads.
    pub grant: Option<GrantId>,
    /// Who uploaded the file, sealed with the case key (see [`crate::Uploader`]).
    pub uploader: Option<casevault_crypto::Sealed>,
}

impl Meta {
    /// Records a completely written object as a file and charges its size in one
    /// transaction: the upload's reservation is released, `used` grows by the file's size,
    /// the pending-upload record disappears. Returns the object of a replaced file, which is
    /// queued for deletion.
    pub async fn commit_file(&self, commit: CommitFile) -> Result<Option<BlobId>> {
        self.run_durable(move |m| {
            let t = &m.trees;
            let trees = [
                &t.uploads,
                &t.cases,
                &t.folders,
                &t.files,
                &t.files_by_case,
                &t.files_by_blob,
                &t.names,
                &t.quota,
                &t.garbage,
                &t.file_uploaders,
                &t.grants,
            ];
            let now = Timestamp::now();
            let replaced = trees[..].transaction(|tx| {
                let [
                    uploads,
                    cases,
                    folders,
                    files,
                    by_case,
                    by_blob,
                    names,
                    quota,
                    garbage,
                    uploaders,
                    grants,
                ] = &tx[..]
                else {
                    return abort(StorageError::Invalid("transaction trees".into()));
                };
                let file = &commit.file;
                let Some(upload) = tx_get::<PendingUpload>(uploads, commit.upload.as_bytes())?
                else {
                    return abort(StorageError::NotFound("upload"));
                };
                if upload.blob != file.blob || upload.account != file.account {
                    return abort(StorageError::Invalid(
                        "commit does not match its upload".into(),
                    ));
                }
                if cases.get(file.case.as_bytes())?.is_none() {
                    return abort(StorageError::NotFound("case"));
                }
                if let Some(folder) = file.folder {
                    check_folder_in_case(folders, folder, file.case)?;
                }
                let name = name_key(file.case, file.folder, &file.name_tag);
                let mut replaced = None;
                if let Some(existing) = names.get(&name)? {
                    match (parse_name_value(&existing), commit.on_conflict) {
                        (Some(NameEntry::File(old_id)), OnConflict::Replace) => {
                            if let Some(old) = tx_get::<FileRecord>(files, old_id.as_bytes())? {
                                FileTrees {
                                    files,
                                    by_case,
                                    by_blob,
                                    quota,
                                    garbage,
                                    uploaders,
                                }
                                .remove(&old)?;
                                replaced = Some(old.blob);
                            }
                        }
                        _ => return abort(StorageError::NameConflict),
                    }
                }
                let mut record: QuotaRecord =
                    tx_get(quota, &upload.account.key())?.unwrap_or_default();
                if file.size > upload.reserved {
                    return abort(StorageError::Invalid(
                        "file larger than its reservation".into(),
                    ));
                }
                if let Some(grant) = commit.grant {
                    charge_upload(grants, grant, file.case, file.size, now)?;
                }
                if let Some(uploader) = &commit.uploader {
                    tx_put(uploaders, file.id.as_bytes(), uploader)?;
                }
                record.reserved = record.reserved.saturating_sub(upload.reserved);
                record.used = record.used.saturating_add(file.size);
                tx_put(quota, &upload.account.key(), &record)?;
                names.insert(name, name_value(NAME_FILE, file.id.as_bytes()))?;
                tx_put(files, file.id.as_bytes(), file)?;
                by_case.insert(key(&[file.case.as_bytes(), file.id.as_bytes()]), &[])?;
                by_blob.insert(file.blob.as_bytes(), file.id.as_bytes())?;
                uploads.remove(commit.upload.as_bytes())?;
                Ok(replaced)
            })?;
            Ok(replaced)
        })
        .await
    }

    /// A file by id.
    pub async fn file(&self, id: FileId) -> Result<Option<FileRecord>> {
        self.run(move |m| get(&m.trees.files, id.as_bytes())).await
    }

    /// Every file of a case.
    pub async fn files_of(&self, case: CaseId) -> Result<Vec<FileRecord>> {
        self.run(move |m| join_index(&m.trees.files_by_case, case.as_bytes(), &m.trees.files))
            .await
    }

    /// Every file record (for the integrity check).
    pub async fn all_files(&self) -> Result<Vec<FileRecord>> {
        self.run(|m| {
            m.trees
                .files
                .iter()
                .values()
                .map(|v| crate::codec::decode(&v?))
                .collect()
        })
        .await
    }

    /// Renames and/or moves a file within its case: `name` is the new sealed name and tag.
    pub async fn move_file(
        &self,
        id: FileId,
        folder: Option<FolderId>,
        name: casevault_crypto::Sealed,
        name_tag: [u8; 32],
    ) -> Result<FileRecord> {
        self.run_durable(move |m| {
            let t = &m.trees;
            let record =
                (&t.files, &t.folders, &t.names).transaction(|(files, folders, names)| {
                    let Some(mut file) = tx_get::<FileRecord>(files, id.as_bytes())? else {
                        return abort(StorageError::NotFound("file"));
                    };
                    if let Some(folder) = folder {
                        check_folder_in_case(folders, folder, file.case)?;
                    }
                    let old_key = name_key(file.case, file.folder, &file.name_tag);
                    let new_key = name_key(file.case, folder, &name_tag);
                    if new_key != old_key {
                        if names.get(&new_key)?.is_some() {
                            return abort(StorageError::NameConflict);
                        }
                        names.remove(old_key)?;
                        names.insert(new_key, name_value(NAME_FILE, id.as_bytes()))?;
                    }
                    file.folder = folder;
                    file.name = name.clone();
                    file.name_tag = name_tag;
                    tx_put(files, id.as_bytes(), &file)?;
                    Ok(file)
                })?;
            Ok(record)
        })
        .await
    }

    /// Deletes a file record with the grants pointing at it and who uploaded it, releases
    /// its quota and queues its object for deletion.
    pub async fn delete_file(&self, id: FileId) -> Result<FileRecord> {
        self.run_durable(move |m| {
            let Some(found) = get::<FileRecord>(&m.trees.files, id.as_bytes())? else {
                return Err(StorageError::NotFound("file"));
            };
            let planned = grant_ids_of_case(m, found.case)?;
            let t = &m.trees;
            let mut trees = vec![
                &t.files,
                &t.files_by_case,
                &t.files_by_blob,
                &t.names,
                &t.quota,
                &t.garbage,
                &t.file_uploaders,
            ];
            trees.extend(t.grant_trees());
            let record = trees[..].transaction(|tx| {
                let [
                    files,
                    by_case,
                    by_blob,
                    names,
                    quota,
                    garbage,
                    uploaders,
                    rest @ ..,
                ] = &tx[..]
                else {
                    return abort(StorageError::Invalid("transaction trees".into()));
                };
                let Some(file) = tx_get::<FileRecord>(files, id.as_bytes())? else {
                    return abort(StorageError::NotFound("file"));
                };
                FileTrees {
                    files,
                    by_case,
                    by_blob,
                    quota,
                    garbage,
                    uploaders,
                }
                .remove(&file)?;
                names.remove(name_key(file.case, file.folder, &file.name_tag))?;
                GrantTrees::new(rest)?.remove_where(&planned, |target| {
                    *target == GrantTarget::File(file.case, id)
                })?;
                Ok(file)
            })?;
            prune_grants(m, record.case)?;
            Ok(record)
        })
        .await
    }

    /// Who uploaded a file through a grant, sealed (see [`crate::Storage::file_uploader`]).
    pub async fn file_uploader(&self, id: FileId) -> Result<Option<casevault_crypto::Sealed>> {
        self.run(move |m| get(&m.trees.file_uploaders, id.as_bytes()))
            .await
    }

    /// Whether a committed file uses this object.
    pub async fn blob_in_use(&self, blob: BlobId) -> Result<bool> {
        self.run(move |m| Ok(m.trees.files_by_blob.contains_key(blob.as_bytes())?))
            .await
    }
}
