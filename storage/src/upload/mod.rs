//! The upload half of the commit protocol.
//!
//! 1. A pending-upload record is written (and flushed) before anything reaches the object
//!    store, naming the object that is about to be written.
//! 2. Quota is reserved before plaintext is accepted: the announced size at once, or step by
//!    step for a stream of unknown length, so no byte beyond the limit is ever stored.
//! 3. The plaintext is hashed, encrypted chunk by chunk and streamed into a multipart upload
//!    (memory bounded by [`crate::BlobStore::transfer_memory_bound`]).
//! 4. The object is completed, then one transaction records the file, settles the
//!    reservation into `used` and deletes the pending record.
//!
//! Any failure, and a cancelled (dropped) upload too, aborts the multipart upload, deletes
//! the object and releases the reservation; a crash leaves the pending record, which
//! [`Storage::recover`] handles the same way. Either no file exists, or a complete one.
//!
//! The protocol is carried out by an [`UploadSession`]: [`Storage::begin_upload`] takes step
//! 1 (and reserves an announced size), [`UploadSession::write`] steps 2 and 3 for each piece
//! of plaintext, [`UploadSession::finish`] step 4. [`Storage::upload`] drives one session
//! from a body stream; a resumable upload keeps its session open across requests.

mod guard;
mod session;

use bytes::Bytes;
use futures::{Stream, StreamExt};

use crate::Storage;
use crate::error::{Result, StorageError};
use crate::grants::Uploader;
use crate::ids::{BlobId, CaseId, FileId, FolderId, GrantId};
use crate::meta::OnConflict;
use crate::names::{file_name_context, file_sha256_context, name_tag, validate_name};
use crate::records::{Actor, FileRecord};

pub use session::UploadSession;

/// What the caller knows about a file before its bytes arrive.
#[derive(Clone, Debug)]
pub struct NewFile {
    /// The case to store it in.
    pub case: CaseId,
    /// The folder within the case; `None` for the root.
    pub folder: Option<FolderId>,
    /// Its name (validated with [`crate::names::validate_name`]).
    pub name: String,
    /// Who uploads it.
    pub uploaded_by: Actor,
    /// The size announced in advance (e.g. `Content-Length`), if any: reserved at once, and
    /// the upload fails if the body is longer or shorter.
    pub expected_size: Option<u64>,
    /// What to do if the name is taken.
    pub on_conflict: OnConflict,
    /// Visible to the case owner only (drop-folder uploads).
    pub owner_only: bool,
    /// The grant the file comes through, if any: the upload is refused once the grant
    /// stops accepting uploads or would pass its upload cap, and the commit adds the file's
    /// size to the grant's `uploaded` in the same transaction.
    pub grant: Option<GrantId>,
    /// Who uploads it, as they told a share's upload form: kept sealed with the file and
    /// read back with [`Storage::file_uploader`].
    pub uploader: Option<Uploader>,
}

impl Storage {
    /// Stores a file from a stream of plaintext, following the commit protocol above: a
    /// [`UploadSession`] fed piece by piece, then finished. If the stream fails, the session
    /// is aborted and the stream's error is returned as [`StorageError::Aborted`].
    pub async fn upload<S, E>(&self, new: NewFile, mut body: S) -> Result<FileRecord>
    where
        S: Stream<Item = std::result::Result<Bytes, E>> + Unpin,
        E: std::fmt::Display,
    {
        let mut session = self.begin_upload(new).await?;
        while let Some(piece) = body.next().await {
            match piece {
                Ok(piece) => session.write(&piece).await?,
                Err(e) => {
                    session.abort().await;
                    return Err(StorageError::Aborted(e.to_string()));
                }
            }
        }
        session.finish().await
    }

    /// Deletes a queued object and forgets it; on failure it stays queued for recovery.
    pub(crate) async fn collect_garbage_blob(&self, blob: BlobId) {
        match self.blobs.delete(blob).await {
            Ok(()) => {
                if let Err(e) = self.meta.forget_garbage(blob).await {
                    tracing::warn!(%blob, error = %e, "could not dequeue a deleted object");
                }
            }
            Err(e) => {
                tracing::warn!(%blob, error = %e, "could not delete an object; recovery will retry")
            }
        }
    }

    /// Deletes a file: the record goes and the quota is released in one transaction, then
    /// the object is deleted.
    pub async fn delete_file(&self, id: FileId) -> Result<FileRecord> {
        let file = self.meta.delete_file(id).await?;
        self.collect_garbage_blob(file.blob).await;
        Ok(file)
    }

    /// Renames and/or moves a file within its case.
    pub async fn move_file(
        &self,
        id: FileId,
        folder: Option<FolderId>,
        name: &str,
    ) -> Result<FileRecord> {
        validate_name(name)?;
        let file = self
            .meta
            .file(id)
            .await?
            .ok_or(StorageError::NotFound("file"))?;
        let (_, key) = self.case_with_key(file.case).await?;
        let sealed = key.seal_str(&file_name_context(id), name);
        self.meta
            .move_file(id, folder, sealed, name_tag(&key, name))
            .await
    }

    /// Opens a file's name.
    pub fn file_name(&self, key: &casevault_crypto::CaseKey, file: &FileRecord) -> Result<String> {
        Ok(key
            .open_string(&file_name_context(file.id), &file.name)?
            .to_string())
    }

    /// Opens a file's plaintext SHA-256.
    pub fn file_sha256(
        &self,
        key: &casevault_crypto::CaseKey,
        file: &FileRecord,
    ) -> Result<[u8; 32]> {
        let bytes = key.open(&file_sha256_context(file.id), &file.sha256)?;
        bytes
            .as_slice()
            .try_into()
            .map_err(|_| StorageError::Codec("sealed checksum length".into()))
    }
}
