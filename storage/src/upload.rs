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

use bytes::Bytes;
use casevault_crypto::{Encryptor, Sha256};
use futures::{Stream, StreamExt};

use crate::Storage;
use crate::error::{Result, StorageError};
use crate::ids::{BlobId, CaseId, FileId, FolderId, UploadId};
use crate::kind::{SNIFF_LEN, classify};
use crate::meta::{CommitFile, OnConflict};
use crate::names::{file_name_context, file_sha256_context, name_tag, validate_name};
use crate::records::{Actor, FileRecord, MultipartState, PendingUpload};
use crate::time::Timestamp;

/// Reservation step for uploads of unknown length.
const RESERVE_STEP: u64 = 8 * 1024 * 1024;

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
}

/// Cleans up after an upload that did not commit, including one whose future was dropped.
struct UploadGuard {
    storage: Storage,
    upload: UploadId,
    blob: BlobId,
    state: MultipartState,
    armed: bool,
}

impl UploadGuard {
    async fn clean_up(self) {
        let mut guard = self;
        guard.armed = false;
        abandon(&guard.storage, guard.upload, guard.blob, &guard.state).await;
    }
}

impl Drop for UploadGuard {
    fn drop(&mut self) {
        if self.armed
            && let Ok(handle) = tokio::runtime::Handle::try_current()
        {
            let (storage, upload, blob, state) = (
                self.storage.clone(),
                self.upload,
                self.blob,
                self.state.clone(),
            );
            handle.spawn(async move { abandon(&storage, upload, blob, &state).await });
        }
    }
}

/// Aborts an upload's object and releases its reservation; failures are left to recovery.
pub(crate) async fn abandon(
    storage: &Storage,
    upload: UploadId,
    blob: BlobId,
    state: &MultipartState,
) {
    // A commit whose transaction went through but whose flush failed reports an error, yet
    // its file exists: its object must stay.
    match storage.meta.blob_in_use(blob).await {
        Ok(false) => {}
        Ok(true) => return,
        Err(e) => {
            tracing::warn!(%blob, error = %e, "could not check an abandoned upload; recovery will retry");
            return;
        }
    }
    if let Err(e) = storage.blobs.abort(blob, state).await {
        tracing::warn!(%blob, error = %e, "could not abort an upload's object; recovery will retry");
        return;
    }
    if let Err(e) = storage.meta.release_upload(upload).await {
        tracing::warn!(%upload, error = %e, "could not release an upload's reservation; recovery will retry");
    }
}

impl Storage {
    /// Stores a file from a stream of plaintext, following the commit protocol above.
    pub async fn upload<S, E>(&self, new: NewFile, body: S) -> Result<FileRecord>
    where
        S: Stream<Item = std::result::Result<Bytes, E>> + Unpin,
        E: std::fmt::Display,
    {
        validate_name(&new.name)?;
        let (case, key) = self.case_with_key(new.case).await?;
        if let Some(folder) = new.folder {
            match self.meta.folder(folder).await? {
                Some(record) if record.case == case.id => {}
                _ => return Err(StorageError::NotFound("folder")),
            }
        }
        let tag = name_tag(&key, &new.name);
        if new.on_conflict == OnConflict::Fail
            && self
                .meta
                .lookup_name(case.id, new.folder, tag)
                .await?
                .is_some()
        {
            return Err(StorageError::NameConflict);
        }

        let upload = PendingUpload {
            id: UploadId::random(),
            blob: BlobId::random(),
            account: case.account,
            reserved: 0,
            multipart: MultipartState::NotStarted,
            started_at: Timestamp::now(),
        };
        self.meta.begin_upload(upload.clone()).await?;
        let mut guard = UploadGuard {
            storage: self.clone(),
            upload: upload.id,
            blob: upload.blob,
            state: MultipartState::NotStarted,
            armed: true,
        };
        match self
            .write_and_commit(&upload, &key, &new, tag, body, &mut guard)
            .await
        {
            Ok(file) => {
                guard.armed = false;
                Ok(file)
            }
            Err(e) => {
                guard.clean_up().await;
                Err(e)
            }
        }
    }

    async fn write_and_commit<S, E>(
        &self,
        upload: &PendingUpload,
        key: &casevault_crypto::CaseKey,
        new: &NewFile,
        tag: [u8; 32],
        mut body: S,
        guard: &mut UploadGuard,
    ) -> Result<FileRecord>
    where
        S: Stream<Item = std::result::Result<Bytes, E>> + Unpin,
        E: std::fmt::Display,
    {
        let mut reserved = match new.expected_size {
            Some(size) => self.meta.reserve(upload.id, size).await?,
            None => 0,
        };
        let (mut writer, state) = self.blobs.start(upload.blob).await?;
        guard.state = state.clone();
        self.meta.set_multipart(upload.id, state).await?;

        let mut encryptor = Encryptor::new(key, self.config.chunk_size)?;
        let header = encryptor.header_bytes().to_vec();
        writer.write(&header).await?;
        let mut hasher = Sha256::new();
        let mut head = Vec::with_capacity(SNIFF_LEN);
        let mut sealed = Vec::new();
        let mut received = 0u64;

        while let Some(piece) = body.next().await {
            let piece = piece.map_err(|e| StorageError::Aborted(e.to_string()))?;
            received += piece.len() as u64;
            match new.expected_size {
                Some(announced) if received > announced => {
                    return Err(StorageError::SizeMismatch {
                        announced,
                        received,
                    });
                }
                Some(_) => {}
                None => {
                    while reserved < received {
                        reserved = self.reserve_more(upload.id, reserved, received).await?;
                    }
                }
            }
            if head.len() < SNIFF_LEN {
                let take = (SNIFF_LEN - head.len()).min(piece.len());
                head.extend_from_slice(&piece[..take]);
            }
            hasher.update(&piece);
            encryptor.update(&piece, &mut sealed)?;
            writer.write(&sealed).await?;
            sealed.clear();
        }
        if let Some(announced) = new.expected_size
            && received != announced
        {
            return Err(StorageError::SizeMismatch {
                announced,
                received,
            });
        }
        encryptor.finish(&mut sealed)?;
        writer.write(&sealed).await?;
        drop(sealed);
        let object_size = writer.finish().await?;

        let id = FileId::random();
        let file = FileRecord {
            id,
            case: new.case,
            folder: new.folder,
            name: key.seal_str(&file_name_context(id), &new.name),
            name_tag: tag,
            blob: upload.blob,
            size: received,
            object_size,
            sha256: key.seal(&file_sha256_context(id), &hasher.finish()),
            kind: classify(&new.name, &head),
            header,
            chunk_size: self.config.chunk_size,
            account: upload.account,
            uploaded_by: new.uploaded_by,
            owner_only: new.owner_only,
            created_at: Timestamp::now(),
        };
        let replaced = self
            .meta
            .commit_file(CommitFile {
                upload: upload.id,
                file: file.clone(),
                on_conflict: new.on_conflict,
            })
            .await?;
        guard.armed = false;
        if let Some(old) = replaced {
            self.collect_garbage_blob(old).await;
        }
        Ok(file)
    }

    /// Grows a reservation to cover `needed` bytes: a whole step when the quota allows, else
    /// exactly what is needed, else the upload fails.
    async fn reserve_more(&self, upload: UploadId, reserved: u64, needed: u64) -> Result<u64> {
        match self.meta.reserve(upload, RESERVE_STEP).await {
            Ok(total) => Ok(total),
            Err(StorageError::QuotaExceeded { .. }) => {
                self.meta.reserve(upload, needed - reserved).await
            }
            Err(e) => Err(e),
        }
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
