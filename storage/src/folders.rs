//! Creating, naming, moving and deleting folders: the parts that need the case key or the
//! object store.

use casevault_crypto::CaseKey;

use crate::Storage;
use crate::error::{Result, StorageError};
use crate::ids::{CaseId, FolderId};
use crate::meta::FolderDeletion;
use crate::names::{folder_name_context, name_tag, validate_name};
use crate::records::FolderRecord;
use crate::time::Timestamp;

impl Storage {
    /// Creates a folder in a case.
    pub async fn create_folder(
        &self,
        case: CaseId,
        parent: Option<FolderId>,
        name: &str,
    ) -> Result<FolderRecord> {
        validate_name(name)?;
        let (_, key) = self.case_with_key(case).await?;
        let id = FolderId::random();
        let record = FolderRecord {
            id,
            case,
            parent,
            name: key.seal_str(&folder_name_context(id), name),
            created_at: Timestamp::now(),
        };
        self.meta.create_folder(record, name_tag(&key, name)).await
    }

    /// Opens a folder's name.
    pub fn folder_name(&self, key: &CaseKey, folder: &FolderRecord) -> Result<String> {
        Ok(key
            .open_string(&folder_name_context(folder.id), &folder.name)?
            .to_string())
    }

    /// Renames and/or moves a folder within its case, with everything in it. `parent` is
    /// the new parent (`None` for the case root; the current one to rename in place); it
    /// must be in the folder's case and must not be the folder itself or lie below it.
    pub async fn move_folder(
        &self,
        id: FolderId,
        parent: Option<FolderId>,
        name: &str,
    ) -> Result<FolderRecord> {
        validate_name(name)?;
        let folder = self
            .meta
            .folder(id)
            .await?
            .ok_or(StorageError::NotFound("folder"))?;
        let (_, key) = self.case_with_key(folder.case).await?;
        let sealed = key.seal_str(&folder_name_context(id), name);
        self.meta
            .move_folder(id, parent, sealed, name_tag(&key, name))
            .await
    }

    /// Deletes a folder with every folder and file below it: the records go and the quota
    /// is released in one transaction, then the files' objects are deleted (those that
    /// cannot be are left to the recovery sweep).
    pub async fn delete_folder(&self, id: FolderId) -> Result<FolderDeletion> {
        let deletion = self.meta.delete_folder(id).await?;
        for blob in &deletion.objects {
            self.collect_garbage_blob(*blob).await;
        }
        Ok(deletion)
    }
}
