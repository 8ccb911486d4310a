//! casevault storage: encrypted case files in an object store, metadata in sled.
//!
//! [`Storage`] is the one entry point the server uses. It owns the master keyring, the
//! object store ([`blob`]) and the metadata database ([`meta`]), and implements the commit
//! protocol: an upload writes its encrypted object first and then records the file and
//! charges the quota in one transaction, so a crash leaves either no file or a complete
//! one; [`Storage::recover`] undoes whatever an interrupted upload or delete left behind,
//! and [`Storage::fsck`] checks every invariant.
//!
//! Nothing in this crate knows about HTTP.

pub mod audit;
pub mod blob;
pub mod codec;
pub mod config;
pub mod error;
pub mod ids;
pub mod kind;
pub mod meta;
pub mod names;
pub mod quota;
pub mod records;
pub mod time;

mod cases;
mod download;
mod folders;
mod fsck;
mod grants;
mod outbox;
mod recovery;
mod server_key;
mod upload;

use std::sync::{Arc, RwLock};

use casevault_crypto::{CaseKey, Keyring};

pub use audit::{AuditEntry, AuditEvent, AuditReport, Outcome};
pub use blob::BlobStore;
pub use cases::{CaseDetails, NewCase};
pub use config::{BlobBackend, S3Config, SecretString, StorageConfig};
pub use download::FileStream;
pub use error::{Result, StorageError};
pub use fsck::FsckReport;
pub use grants::{GrantRecipient, Uploader};
pub use ids::{
    BlobId, CaseId, FileId, FolderId, GrantId, InvitationId, MailId, OrgId, UploadId, UserId,
};
pub use kind::FileKind;
pub use meta::{FolderDeletion, GrantFaults, MailStatus, Meta, OnConflict};
pub use outbox::{Backoff, NewMail, OutboxMessage};
pub use quota::{QuotaAccount, QuotaRecord};
pub use records::*;
pub use recovery::RecoveryReport;
pub use time::Timestamp;
pub use upload::{NewFile, UploadSession};

/// The storage layer: keys, objects and metadata. Cheap to clone.
#[derive(Clone)]
pub struct Storage {
    meta: Meta,
    blobs: BlobStore,
    keyring: Arc<RwLock<Keyring>>,
    config: Arc<StorageConfig>,
}

impl std::fmt::Debug for Storage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Storage")
            .field("data_dir", &self.config.data_dir)
            .finish_non_exhaustive()
    }
}

impl Storage {
    /// Opens the metadata database under `config.data_dir/meta` and the object store, then
    /// runs a recovery sweep.
    pub async fn open(config: StorageConfig, keyring: Keyring) -> Result<Storage> {
        let storage = Self::open_unswept(config, keyring).await?;
        storage.recover().await?;
        Ok(storage)
    }

    /// Opens storage without the recovery sweep, for the administration commands that must
    /// see the store as it is: the integrity check (which would otherwise never see an
    /// orphan), backups and restores.
    pub async fn open_unswept(config: StorageConfig, keyring: Keyring) -> Result<Storage> {
        std::fs::create_dir_all(&config.data_dir)?;
        let meta_dir = config.data_dir.join("meta");
        let meta = tokio::task::spawn_blocking(move || Meta::open(&meta_dir)).await??;
        let blobs = BlobStore::open(&config)?;
        Ok(Storage {
            meta,
            blobs,
            keyring: Arc::new(RwLock::new(keyring)),
            config: Arc::new(config),
        })
    }

    /// The metadata database, for the records storage does not wrap (users, grants…).
    pub fn meta(&self) -> &Meta {
        &self.meta
    }

    /// The object store.
    pub fn blobs(&self) -> &BlobStore {
        &self.blobs
    }

    /// The configuration storage was opened with.
    pub fn config(&self) -> &StorageConfig {
        &self.config
    }

    /// Unwraps the key of a case.
    pub fn case_key(&self, case: &CaseRecord) -> Result<CaseKey> {
        let keyring = self.keyring.read().map_err(|_| poisoned())?;
        Ok(keyring.unwrap_case_key(&case.wrapped_key)?)
    }

    /// Loads a case and unwraps its key.
    pub async fn case_with_key(&self, id: CaseId) -> Result<(CaseRecord, CaseKey)> {
        let case = self
            .meta
            .case(id)
            .await?
            .ok_or(StorageError::NotFound("case"))?;
        let key = self.case_key(&case)?;
        Ok((case, key))
    }

    /// Makes a new master key current, re-wraps every case key (and the server-values key)
    /// with it, then forgets the old keys. The keyring is saved at `key_file` before any case is re-wrapped and again
    /// at the end, so a crash in between loses nothing. File data keys are untouched: only
    /// case keys are re-wrapped. Returns the number of cases re-wrapped.
    ///
    /// Refused without a key file: keys that came from the environment cannot be saved, and
    /// case keys re-wrapped with a master key that is saved nowhere would be lost at the next
    /// restart.
    pub async fn rotate_master_key(&self, key_file: Option<&std::path::Path>) -> Result<usize> {
        let Some(key_file) = key_file else {
            return Err(StorageError::Invalid(
                "master key rotation needs the key file: keys from the environment cannot be saved"
                    .into(),
            ));
        };
        let snapshot = {
            let mut keyring = self.keyring.write().map_err(|_| poisoned())?;
            keyring.rotate();
            keyring.save(key_file)?;
            keyring.key_ids()
        };
        let mut rewrapped = 0;
        for mut case in self.meta.all_cases().await? {
            let wrapped = {
                let keyring = self.keyring.read().map_err(|_| poisoned())?;
                if case.wrapped_key.kek_id == keyring.current().id() {
                    continue;
                }
                keyring.rewrap_case_key(&case.wrapped_key)?
            };
            case.wrapped_key = wrapped;
            self.meta.update_case(case).await?;
            rewrapped += 1;
        }
        self.rewrap_server_key().await?;
        let still_used = self.meta.run_blocking(|m| m.case_kek_ids()).await?;
        let mut keyring = self.keyring.write().map_err(|_| poisoned())?;
        let current = keyring.current().id();
        for id in snapshot {
            if id != current && !still_used.contains(&id) {
                keyring.retire(id);
            }
        }
        keyring.save(key_file)?;
        Ok(rewrapped)
    }

    /// Ids of the master keys in the keyring, current first.
    pub fn master_key_ids(&self) -> Result<Vec<casevault_crypto::KeyId>> {
        Ok(self.keyring.read().map_err(|_| poisoned())?.key_ids())
    }
}

fn poisoned() -> StorageError {
    StorageError::Invalid("keyring lock poisoned".into())
}
