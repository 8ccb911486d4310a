//! The integrity check: every invariant of the commit protocol, verified from scratch.

use std::collections::{HashMap, HashSet};

use futures::StreamExt;

use crate::Storage;
use crate::audit::AuditReport;
use crate::error::{Result, StorageError};
use crate::ids::{BlobId, FileId};
use crate::meta::GrantFaults;
use crate::quota::QuotaAccount;

/// A quota counter that does not match the records.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct QuotaDrift {
    /// The account.
    pub account: QuotaAccount,
    /// `used` as recorded.
    pub recorded_used: u64,
    /// Sum of the sizes of the account's files.
    pub actual_used: u64,
    /// `reserved` as recorded.
    pub recorded_reserved: u64,
    /// Sum of the reservations of the account's pending uploads.
    pub actual_reserved: u64,
}

/// What the integrity check found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FsckReport {
    /// File records checked.
    pub files: usize,
    /// Files whose object is missing.
    pub missing_objects: Vec<FileId>,
    /// Files whose object has another size than recorded.
    pub size_mismatches: Vec<FileId>,
    /// Files that failed to decrypt or whose checksum differs (deep check only).
    pub corrupt: Vec<FileId>,
    /// Objects no file or pending upload refers to.
    pub orphans: Vec<BlobId>,
    /// Quota counters that do not add up.
    pub quota_drift: Vec<QuotaDrift>,
    /// Uploads in progress (or interrupted, until the next sweep).
    pub pending_uploads: usize,
    /// Objects queued for deletion.
    pub garbage: usize,
    /// The audit chain's verification.
    pub audit: AuditReport,
    /// Grant indexes, grant targets and uploader entries.
    pub grants: GrantFaults,
}

impl FsckReport {
    /// True when nothing is wrong (pending uploads and queued deletions are not faults).
    pub fn is_clean(&self) -> bool {
        self.missing_objects.is_empty()
            && self.size_mismatches.is_empty()
            && self.corrupt.is_empty()
            && self.orphans.is_empty()
            && self.quota_drift.is_empty()
            && self.audit.first_break.is_none()
            && self.grants.is_clean()
    }
}

impl Storage {
    /// Checks quota sums, that every file has its object with the recorded size, (when
    /// `deep`) that every object decrypts and matches its checksum, lists orphan objects,
    /// checks the grants' indexes and targets, and verifies the audit chain.
    pub async fn fsck(&self, deep: bool) -> Result<FsckReport> {
        let files = self.meta.all_files().await?;
        let pending = self.meta.pending_uploads().await?;
        let objects: HashMap<BlobId, u64> = self
            .blobs
            .list()
            .await?
            .into_iter()
            .map(|o| (o.id, o.size))
            .collect();

        let mut report = FsckReport {
            files: files.len(),
            missing_objects: Vec::new(),
            size_mismatches: Vec::new(),
            corrupt: Vec::new(),
            orphans: Vec::new(),
            quota_drift: Vec::new(),
            pending_uploads: pending.len(),
            garbage: self.meta.garbage().await?.len(),
            audit: self.meta.verify_audit().await?,
            grants: self.meta.check_grants().await?,
        };

        let mut used: HashMap<QuotaAccount, u64> = HashMap::new();
        let mut reserved: HashMap<QuotaAccount, u64> = HashMap::new();
        let mut referenced: HashSet<BlobId> = HashSet::new();
        for file in &files {
            *used.entry(file.account).or_default() += file.size;
            referenced.insert(file.blob);
            match objects.get(&file.blob) {
                None => report.missing_objects.push(file.id),
                Some(&size) if size != file.object_size => report.size_mismatches.push(file.id),
                Some(_) if deep => {
                    if !self.verify_contents(file).await? {
                        report.corrupt.push(file.id);
                    }
                }
                Some(_) => {}
            }
        }
        for upload in &pending {
            *reserved.entry(upload.account).or_default() += upload.reserved;
            referenced.insert(upload.blob);
        }
        let garbage: HashSet<BlobId> = self.meta.garbage().await?.into_iter().collect();
        report.orphans = objects
            .keys()
            .filter(|id| !referenced.contains(id) && !garbage.contains(id))
            .copied()
            .collect();

        let mut accounts: HashSet<QuotaAccount> =
            used.keys().chain(reserved.keys()).copied().collect();
        let records: HashMap<_, _> = self.meta.quota_accounts().await?.into_iter().collect();
        accounts.extend(records.keys().copied());
        for account in accounts {
            let record = records.get(&account).copied().unwrap_or_default();
            let actual_used = used.get(&account).copied().unwrap_or(0);
            let actual_reserved = reserved.get(&account).copied().unwrap_or(0);
            if record.used != actual_used || record.reserved != actual_reserved {
                report.quota_drift.push(QuotaDrift {
                    account,
                    recorded_used: record.used,
                    actual_used,
                    recorded_reserved: record.reserved,
                    actual_reserved,
                });
            }
        }
        Ok(report)
    }

    /// Decrypts a whole file and compares its SHA-256 with the sealed one.
    async fn verify_contents(&self, file: &crate::records::FileRecord) -> Result<bool> {
        let Ok((_, key)) = self.case_with_key(file.case).await else {
            return Ok(false);
        };
        let Ok(expected) = self.file_sha256(&key, file) else {
            return Ok(false);
        };
        let mut hasher = casevault_crypto::Sha256::new();
        let mut stream = match self.read_file(file, None).await {
            Ok(stream) => stream,
            Err(StorageError::Integrity { .. }) => return Ok(false),
            Err(e) => return Err(e),
        };
        while let Some(piece) = stream.next().await {
            match piece {
                Ok(bytes) => hasher.update(&bytes),
                Err(StorageError::Integrity { .. }) => return Ok(false),
                Err(e) => return Err(e),
            }
        }
        Ok(casevault_crypto::ct_eq(&hasher.finish(), &expected))
    }
}
