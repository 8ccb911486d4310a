//! Metadata in sled: one tree per kind of record and per index, values versioned, every
//! multi-tree change in one transaction, every call off the async threads.
//!
//! [`Meta`] is the only type that touches sled. Its methods are grouped by domain in the
//! sub-modules; each write that a user is told about is flushed before it returns.

mod accounts;
pub mod backup;
mod cases;
mod files;
mod folders;
mod grant_check;
mod grant_counters;
mod grants;
mod invitations;
mod outbox;
mod preferences;
mod sessions;
mod uploads;

use std::path::Path;
use std::sync::Arc;

use casevault_crypto::KeyId;
use sled::Tree;

use crate::codec;
use crate::error::{Result, StorageError};
use crate::quota::{QuotaAccount, QuotaRecord};

pub use accounts::normalise_email;
pub use cases::NameEntry;
pub use files::{CommitFile, OnConflict};
pub use folders::FolderDeletion;
pub use grant_check::GrantFaults;
pub use outbox::{MailStatus, OutboxRecord};
pub use sessions::{ApiTokenId, ApiTokenRecord, SessionRecord};

/// How long [`Meta::open`] waits for another handle to release the database.
pub const LOCK_WAIT: std::time::Duration = std::time::Duration::from_secs(3);

/// All the trees of the metadata database.
pub(crate) struct Trees {
    pub users: Tree,
    pub users_by_email: Tree,
    pub orgs: Tree,
    pub memberships: Tree,
    pub memberships_by_user: Tree,
    pub cases: Tree,
    pub cases_by_account: Tree,
    pub folders: Tree,
    pub folders_by_case: Tree,
    pub files: Tree,
    pub files_by_case: Tree,
    pub files_by_blob: Tree,
    /// (case, parent folder, name tag) → kind byte + id; files and folders share it.
    pub names: Tree,
    /// Grant id → grant; see [`grants::GrantTrees`] for its four indexes.
    pub grants: Tree,
    /// Owner ‖ grant → ().
    pub grants_by_owner: Tree,
    /// Link-token hash → grant id.
    pub grants_by_token: Tree,
    /// Colleague ‖ grant → (): "shared with me".
    pub grants_by_grantee: Tree,
    /// Case ‖ grant → ().
    pub grants_by_case: Tree,
    /// File id → who uploaded it through a grant, sealed with the case key.
    pub file_uploaders: Tree,
    pub quota: Tree,
    pub uploads: Tree,
    /// Objects whose records are gone and that must be deleted from the object store.
    pub garbage: Tree,
    pub audit: Tree,
    pub audit_by_case: Tree,
    /// Single values: the audit chain head, the schema version, the setup token hash.
    pub state: Tree,
    /// Session token hash → session; user ‖ token hash → ().
    pub sessions: Tree,
    pub sessions_by_user: Tree,
    /// API token hash → token; user ‖ token id → token hash.
    pub api_tokens: Tree,
    pub api_tokens_by_user: Tree,
    /// Mail id → queued message (sealed); see [`outbox`].
    pub outbox: Tree,
    /// Next attempt (sortable) ‖ mail id → (), for pending messages only.
    pub outbox_due: Tree,
    /// Owner ‖ mail id → (), for messages sent on a user's behalf.
    pub outbox_by_owner: Tree,
    /// User id → their interface preferences (label names and colours, notifications).
    pub preferences: Tree,
    /// Invitation token hash → invitation.
    pub invitations: Tree,
}

/// The metadata database. Cheap to clone.
#[derive(Clone)]
pub struct Meta {
    pub(crate) db: sled::Db,
    pub(crate) trees: Arc<Trees>,
}

impl std::fmt::Debug for Meta {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Meta").finish_non_exhaustive()
    }
}

impl Meta {
    /// Opens (or creates) the database in `dir`. Blocking: call it before serving, or from
    /// `spawn_blocking`.
    ///
    /// sled locks its directory; a handle that was just dropped can keep the lock for a
    /// moment (its background threads finish first), so a locked directory is retried for
    /// up to [`LOCK_WAIT`] before the error is returned.
    pub fn open(dir: &Path) -> Result<Meta> {
        let started = std::time::Instant::now();
        let db = loop {
            let attempt = sled::Config::new()
                .path(dir)
                .mode(sled::Mode::HighThroughput)
                .open();
            match attempt {
                Err(sled::Error::Io(e))
                    if e.to_string().contains("lock") && started.elapsed() < LOCK_WAIT =>
                {
                    std::thread::sleep(std::time::Duration::from_millis(25));
                }
                Err(sled::Error::Io(e)) if e.to_string().contains("lock") => {
                    return Err(StorageError::Locked(e.to_string()));
                }
                other => break other?,
            }
        };
        let tree = |name: &str| db.open_tree(name);
        let trees = Trees {
            users: tree("users")?,
            users_by_email: tree("users_by_email")?,
            orgs: tree("orgs")?,
            memberships: tree("memberships")?,
            memberships_by_user: tree("memberships_by_user")?,
            cases: tree("cases")?,
            cases_by_account: tree("cases_by_account")?,
            folders: tree("folders")?,
            folders_by_case: tree("folders_by_case")?,
            files: tree("files")?,
            files_by_case: tree("files_by_case")?,
            files_by_blob: tree("files_by_blob")?,
            names: tree("names")?,
            grants: tree("grants")?,
            grants_by_owner: tree("grants_by_owner")?,
            grants_by_token: tree("grants_by_token")?,
            grants_by_grantee: tree("grants_by_grantee")?,
            grants_by_case: tree("grants_by_case")?,
            file_uploaders: tree("file_uploaders")?,
            quota: tree("quota")?,
            uploads: tree("uploads")?,
            garbage: tree("garbage")?,
            audit: tree("audit")?,
            audit_by_case: tree("audit_by_case")?,
            state: tree("state")?,
            sessions: tree("sessions")?,
            sessions_by_user: tree("sessions_by_user")?,
            api_tokens: tree("api_tokens")?,
            api_tokens_by_user: tree("api_tokens_by_user")?,
            outbox: tree("outbox")?,
            outbox_due: tree("outbox_due")?,
            outbox_by_owner: tree("outbox_by_owner")?,
            preferences: tree("preferences")?,
            invitations: tree("invitations")?,
        };
        Ok(Meta {
            db,
            trees: Arc::new(trees),
        })
    }

    /// Runs sled work that needs no flush, on the caller's thread: sled answers reads and
    /// buffered writes from memory in microseconds, and a hop to the blocking pool for each
    /// cost more than the work (dozens of hops per request kept hundreds of blocking threads
    /// busy under load; BENCHMARKS.md, case 3).
    pub(crate) async fn run<T, F>(&self, work: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&Meta) -> Result<T> + Send + 'static,
    {
        work(self)
    }

    /// Runs sled work on the blocking thread pool, for what may wait on the disk.
    pub(crate) async fn run_blocking<T, F>(&self, work: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&Meta) -> Result<T> + Send + 'static,
    {
        let meta = self.clone();
        tokio::task::spawn_blocking(move || work(&meta)).await?
    }

    /// Like [`Meta::run`], then flushes to disk before returning: for changes a user is told
    /// about.
    pub(crate) async fn run_durable<T, F>(&self, work: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&Meta) -> Result<T> + Send + 'static,
    {
        // A blocking flush on the blocking pool: sled 0.34's `flush_async` can deadlock when
        // called concurrently (sled issue 1308).
        self.run_blocking(move |m| {
            let value = work(m)?;
            m.db.flush()?;
            Ok(value)
        })
        .await
    }

    /// Flushes every pending write to disk.
    pub async fn flush(&self) -> Result<()> {
        self.run_blocking(|m| {
            m.db.flush()?;
            Ok(())
        })
        .await
    }

    /// The quota of an account (zero limit when never set).
    pub async fn quota(&self, account: QuotaAccount) -> Result<QuotaRecord> {
        self.run(move |m| Ok(get(&m.trees.quota, account.key())?.unwrap_or_default()))
            .await
    }

    /// Sets an account's limit. A limit below what is used is allowed (nothing is deleted;
    /// new uploads are refused until enough is freed).
    pub async fn set_quota_limit(&self, account: QuotaAccount, limit: u64) -> Result<QuotaRecord> {
        self.run_durable(move |m| {
            let record = m.trees.quota.transaction(|tx| {
                let mut record: QuotaRecord = tx_get(tx, &account.key())?.unwrap_or_default();
                record.limit = limit;
                tx_put(tx, &account.key(), &record)?;
                Ok(record)
            })?;
            Ok(record)
        })
        .await
    }

    /// Every quota account and its record.
    pub async fn quota_accounts(&self) -> Result<Vec<(QuotaAccount, QuotaRecord)>> {
        self.run(|m| {
            let mut out = Vec::new();
            for entry in m.trees.quota.iter() {
                let (key, value) = entry?;
                if let Some(account) = account_from_key(&key) {
                    out.push((account, codec::decode(&value)?));
                }
            }
            Ok(out)
        })
        .await
    }

    /// Key ids of every master key still wrapping something (case keys, the server-values
    /// key), for rotation.
    pub(crate) fn case_kek_ids(&self) -> Result<Vec<KeyId>> {
        let mut ids: Vec<KeyId> = self.server_kek_id()?.into_iter().collect();
        for entry in self.trees.cases.iter() {
            let (_, value) = entry?;
            let record: crate::records::CaseRecord = codec::decode(&value)?;
            ids.push(record.wrapped_key.kek_id);
        }
        Ok(ids)
    }
}

pub(crate) fn account_from_key(key: &[u8]) -> Option<QuotaAccount> {
    let (tag, id) = key.split_first()?;
    let id: [u8; 16] = id.try_into().ok()?;
    match tag {
        b'u' => Some(QuotaAccount::User(crate::ids::UserId(id))),
        b'o' => Some(QuotaAccount::Org(crate::ids::OrgId(id))),
        _ => None,
    }
}

/// Follows an index: every key under `prefix` in `index` ends with the primary key of a
/// record in `records`. The index keys are collected before any record is read: a sled
/// iterator holds a read lock, and taking a second one while a transaction waits for the
/// write lock deadlocks.
pub(crate) fn join_index<T: serde::de::DeserializeOwned>(
    index: &Tree,
    prefix: &[u8],
    records: &Tree,
) -> Result<Vec<T>> {
    let keys: Vec<sled::IVec> = index
        .scan_prefix(prefix)
        .keys()
        .collect::<std::result::Result<_, _>>()?;
    let mut out = Vec::with_capacity(keys.len());
    for key in keys {
        if let Some(record) = get(records, &key[prefix.len()..])? {
            out.push(record);
        }
    }
    Ok(out)
}

/// Reads and decodes one value outside a transaction.
pub(crate) fn get<T: serde::de::DeserializeOwned>(
    tree: &Tree,
    key: impl AsRef<[u8]>,
) -> Result<Option<T>> {
    tree.get(key)?.map(|v| codec::decode(&v)).transpose()
}

/// Reads and decodes one value inside a transaction.
pub(crate) fn tx_get<T: serde::de::DeserializeOwned>(
    tx: &sled::transaction::TransactionalTree,
    key: &[u8],
) -> sled::transaction::ConflictableTransactionResult<Option<T>, crate::StorageError> {
    match tx.get(key)? {
        Some(v) => codec::decode(&v)
            .map(Some)
            .map_err(sled::transaction::ConflictableTransactionError::Abort),
        None => Ok(None),
    }
}

/// Encodes and writes one value inside a transaction.
pub(crate) fn tx_put<T: serde::Serialize>(
    tx: &sled::transaction::TransactionalTree,
    key: &[u8],
    value: &T,
) -> sled::transaction::ConflictableTransactionResult<(), crate::StorageError> {
    let bytes =
        codec::encode(value).map_err(sled::transaction::ConflictableTransactionError::Abort)?;
    tx.insert(key, bytes)?;
    Ok(())
}

/// Aborts a transaction with a storage error.
pub(crate) fn abort<T>(
    error: crate::StorageError,
) -> sled::transaction::ConflictableTransactionResult<T, crate::StorageError> {
    Err(sled::transaction::ConflictableTransactionError::Abort(
        error,
    ))
}

/// Concatenates key parts.
pub(crate) fn key(parts: &[&[u8]]) -> Vec<u8> {
    parts.concat()
}

/// The uniqueness key of a name inside a folder: case ‖ parent (zeros at the root) ‖ tag.
pub fn name_key(
    case: crate::ids::CaseId,
    parent: Option<crate::ids::FolderId>,
    tag: &[u8; 32],
) -> Vec<u8> {
    key(&[&name_prefix(case, parent), tag])
}

/// The start of every uniqueness key inside a folder: case ‖ parent (zeros at the root).
pub(crate) fn name_prefix(
    case: crate::ids::CaseId,
    parent: Option<crate::ids::FolderId>,
) -> Vec<u8> {
    let parent = parent.map(|p| p.0).unwrap_or([0u8; 16]);
    key(&[case.as_bytes(), &parent])
}

/// A metadata database in a fresh temporary folder, for unit tests.
#[cfg(test)]
pub(crate) fn temp_meta() -> (tempfile::TempDir, Meta) {
    let dir = tempfile::tempdir().expect("tempdir");
    let meta = Meta::open(&dir.path().join("meta")).expect("open");
    (dir, meta)
}

/// A case with a throw-away key in a unit-test database.
#[cfg(test)]
pub(crate) async fn temp_case(meta: &Meta) -> crate::ids::CaseId {
    use casevault_crypto::{CaseKey, Keyring, Sealed};
    let now = crate::time::Timestamp::now();
    let record = crate::records::CaseRecord {
        id: crate::ids::CaseId::random(),
        account: QuotaAccount::User(crate::ids::UserId::random()),
        created_by: crate::ids::UserId::random(),
        wrapped_key: Keyring::generate().wrap_case_key(&CaseKey::generate()),
        patient_ref: Sealed(vec![]),
        title: Sealed(vec![]),
        comments: Sealed(vec![]),
        status: crate::records::CaseStatus::Active,
        labels: vec![],
        created_at: now,
        expires_at: None,
        updated_at: now,
    };
    meta.create_case(record).await.expect("case").id
}
