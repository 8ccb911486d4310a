//! An upload in progress: [`UploadSession`], the commit protocol (see the parent module)
//! taken one piece of plaintext at a time.
//!
//! A session is independent of any request: a resumable upload keeps it open across many
//! of them, possibly for hours, and feeds it whatever each one brings.

use std::fmt;

use casevault_crypto::{CaseKey, Encryptor, Sha256};

mod begin;

use super::NewFile;
use super::guard::UploadGuard;
use crate::Storage;
use crate::blob::BlobWriter;
use crate::error::{Result, StorageError};
use crate::grants::seal_uploader;
use crate::ids::FileId;
use crate::kind::{SNIFF_LEN, classify};
use crate::meta::CommitFile;
use crate::names::{file_name_context, file_sha256_context};
use crate::quota::QuotaAccount;
use crate::records::FileRecord;
use crate::time::Timestamp;

/// Reservation step for uploads of unknown length.
const RESERVE_STEP: u64 = 8 * 1024 * 1024;

/// An upload in progress, created by [`Storage::begin_upload`].
///
/// Feed it the plaintext in order with [`UploadSession::write`], in pieces of any size, then
/// call [`UploadSession::finish`] to store the file, or [`UploadSession::abort`] to give up.
/// Bytes handed to `write` are hashed, encrypted and sent towards the object store at once,
/// and never again: [`UploadSession::received`] is the offset at which the next piece must
/// start.
///
/// A failed `write` or `finish` cleans the upload up before returning its error: the session
/// is then spent, and every later call fails with [`StorageError::Aborted`]. A session
/// dropped without `finish` or `abort` is cleaned up in the background (object aborted,
/// reservation released, pending record deleted); one left behind by a crash is collected by
/// [`Storage::recover`].
///
/// Memory stays bounded whatever the file size and however the plaintext is cut: at most
/// [`crate::BlobStore::transfer_memory_bound`] bytes of ciphertext waiting for the object
/// store, one chunk of plaintext not sealed yet, and one sealed chunk while a write runs.
/// A session is `Send + 'static`, so it can wait in a registry between requests.
pub struct UploadSession {
    /// The case's key: seals the file's name and checksum.
    key: CaseKey,
    /// What the caller announced.
    new: NewFile,
    /// The keyed tag of the file's name.
    name_tag: [u8; 32],
    /// The account charged.
    account: QuotaAccount,
    /// The object being written; `None` once the session has failed.
    object: Option<ObjectInProgress>,
    /// Plaintext bytes accepted.
    received: u64,
    /// Bytes reserved so far.
    reserved: u64,
    /// Bytes the grant the upload comes through allowed when last asked (`u64::MAX`
    /// without a grant).
    grant_room: u64,
    /// Set while a write runs. Still set when the next call begins, it means that write's
    /// future was dropped halfway and the object no longer matches `received`.
    writing: bool,
    /// Undoes the upload unless it commits.
    guard: UploadGuard,
}

/// The encrypted object being written and what is learnt from the plaintext on the way.
struct ObjectInProgress {
    writer: BlobWriter,
    encryptor: Encryptor,
    /// The stream header, also kept in the file record.
    header: Vec<u8>,
    /// Plaintext bytes per chunk.
    chunk_size: usize,
    hasher: Sha256,
    /// The first [`SNIFF_LEN`] bytes, to classify the file.
    head: Vec<u8>,
}

// A session waits in a registry between requests: it must move between threads and borrow
// nothing, and the futures of its methods must be `Send` to run in a request handler.
const _: () = {
    const fn send_static<T: Send + 'static>() {}
    send_static::<UploadSession>();
};
const _: fn(&Storage, NewFile, UploadSession, UploadSession) = |storage, new, mut one, other| {
    fn send<T: Send>(_: T) {}
    send(storage.begin_upload(new));
    send(one.write(&[]));
    send(one.abort());
    send(other.finish());
};

impl fmt::Debug for UploadSession {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // No name: file names may identify a patient.
        f.debug_struct("UploadSession")
            .field("upload", &self.guard.upload)
            .field("case", &self.new.case)
            .field("received", &self.received)
            .field("expected_size", &self.new.expected_size)
            .field("failed", &self.object.is_none())
            .finish_non_exhaustive()
    }
}

impl UploadSession {
    /// Accepts the next `bytes` of plaintext: reserves quota for them (when the size was not
    /// announced), hashes, encrypts and writes them, waiting while the object store catches
    /// up.
    ///
    /// Fails with [`StorageError::SizeMismatch`] if they would take the upload past its
    /// announced size (no byte of them is accepted), with [`StorageError::QuotaExceeded`] if
    /// the quota cannot cover them, with [`StorageError::GrantCapExceeded`] or
    /// [`StorageError::GrantUnavailable`] if the grant the upload comes through no longer
    /// allows them, and with whatever the object store or the database reports; every failure cleans the upload up and spends the session.
    ///
    /// Not cancel-safe: if the returned future is dropped before it completes, the session
    /// cannot tell how much of `bytes` reached the object, and its next call cleans it up and
    /// fails with [`StorageError::Aborted`]. A caller that may be cancelled midway (a request
    /// handler whose client goes away) and wants the session to survive should run the write
    /// in a task of its own.
    pub async fn write(&mut self, bytes: &[u8]) -> Result<()> {
        self.check_usable().await?;
        if bytes.is_empty() {
            return Ok(());
        }
        self.writing = true;
        match self.accept(bytes).await {
            Ok(()) => {
                self.writing = false;
                Ok(())
            }
            Err(e) => {
                self.fail().await;
                Err(e)
            }
        }
    }

    /// Plaintext bytes accepted so far: where the next [`UploadSession::write`] continues.
    pub fn received(&self) -> u64 {
        self.received
    }

    /// Completes the upload: checks that the announced size (if any) was received, seals the
    /// final chunk, completes the object, then records the file and charges the quota in one
    /// transaction. Fails with [`StorageError::SizeMismatch`] if fewer bytes than announced
    /// arrived and with [`StorageError::NameConflict`] if the name was taken in the meantime
    /// (and the upload does not replace); any failure cleans the upload up.
    pub async fn finish(mut self) -> Result<FileRecord> {
        self.check_usable().await?;
        match self.commit().await {
            Ok(file) => Ok(file),
            Err(e) => {
                self.fail().await;
                Err(e)
            }
        }
    }

    /// Gives the upload up and cleans it up now: the object is aborted, the reservation
    /// released and the pending record deleted. Failures are logged and left to recovery.
    pub async fn abort(mut self) {
        self.fail().await;
    }

    /// Fails if the session was spent, cleaning it up first if a write was interrupted.
    async fn check_usable(&mut self) -> Result<()> {
        if self.writing {
            self.fail().await;
            return Err(StorageError::Aborted(
                "an earlier write to this upload was interrupted".into(),
            ));
        }
        if self.object.is_none() {
            return Err(spent());
        }
        Ok(())
    }

    async fn accept(&mut self, bytes: &[u8]) -> Result<()> {
        let received = self.received + bytes.len() as u64;
        // Through a grant: its cap is checked again whenever the bytes pass what it last
        // allowed, and at every reservation step (which also notices a revocation).
        if let Some(grant) = self.new.grant
            && (received > self.grant_room
                || (self.new.expected_size.is_none() && self.reserved < received))
        {
            self.grant_room = self
                .guard
                .storage
                .meta
                .check_grant_upload(grant, received)
                .await?
                .upload_available();
        }
        match self.new.expected_size {
            Some(announced) if received > announced => {
                return Err(StorageError::SizeMismatch {
                    announced,
                    received,
                });
            }
            Some(_) => {}
            None => {
                while self.reserved < received {
                    self.reserved = self
                        .guard
                        .storage
                        .reserve_more(self.guard.upload, self.reserved, received)
                        .await?;
                }
            }
        }
        let object = self.object.as_mut().ok_or_else(spent)?;
        object.hasher.update(bytes);
        if object.head.len() < SNIFF_LEN {
            let take = (SNIFF_LEN - object.head.len()).min(bytes.len());
            object.head.extend_from_slice(&bytes[..take]);
        }
        // At most one chunk at a time, so that at most one sealed chunk waits here.
        let mut sealed = Vec::new();
        for piece in bytes.chunks(object.chunk_size.max(1)) {
            object.encryptor.update(piece, &mut sealed)?;
            object.writer.write(&sealed).await?;
            sealed.clear();
        }
        self.received = received;
        Ok(())
    }

    async fn commit(&mut self) -> Result<FileRecord> {
        if let Some(announced) = self.new.expected_size
            && self.received != announced
        {
            return Err(StorageError::SizeMismatch {
                announced,
                received: self.received,
            });
        }
        let ObjectInProgress {
            mut writer,
            encryptor,
            header,
            hasher,
            head,
            ..
        } = self.object.take().ok_or_else(spent)?;
        let mut sealed = Vec::new();
        encryptor.finish(&mut sealed)?;
        writer.write(&sealed).await?;
        drop(sealed);
        let object_size = writer.finish().await?;

        let storage = self.guard.storage.clone();
        let id = FileId::random();
        let file = FileRecord {
            id,
            case: self.new.case,
            folder: self.new.folder,
            name: self.key.seal_str(&file_name_context(id), &self.new.name),
            name_tag: self.name_tag,
            blob: self.guard.blob,
            size: self.received,
            object_size,
            sha256: self.key.seal(&file_sha256_context(id), &hasher.finish()),
            kind: classify(&self.new.name, &head),
            header,
            chunk_size: storage.config.chunk_size,
            account: self.account,
            uploaded_by: self.new.uploaded_by,
            owner_only: self.new.owner_only,
            created_at: Timestamp::now(),
        };
        let uploader = self
            .new
            .uploader
            .as_ref()
            .map(|who| seal_uploader(&self.key, id, who));
        let replaced = storage
            .meta
            .commit_file(CommitFile {
                upload: self.guard.upload,
                file: file.clone(),
                on_conflict: self.new.on_conflict,
                grant: self.new.grant,
                uploader: uploader.transpose()?,
            })
            .await?;
        self.guard.armed = false;
        if let Some(old) = replaced {
            storage.collect_garbage_blob(old).await;
        }
        Ok(file)
    }

    /// Spends the session and cleans the upload up.
    async fn fail(&mut self) {
        self.object = None;
        self.writing = false;
        self.guard.clean_up().await;
    }
}

fn spent() -> StorageError {
    StorageError::Aborted("this upload has already failed or been aborted".into())
}
