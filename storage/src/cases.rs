//! Creating, reading and deleting cases: the parts that need the case key.

use casevault_crypto::{CaseKey, Sealed};

use crate::Storage;
use crate::error::Result;
use crate::ids::{CaseId, UserId};
use crate::quota::QuotaAccount;
use crate::records::{CaseRecord, CaseStatus};
use crate::time::Timestamp;

/// What the caller provides to open a new case.
#[derive(Clone, Debug)]
pub struct NewCase {
    /// Whose quota the case uses (the practitioner's, or the organisation's for a group case).
    pub account: QuotaAccount,
    /// The practitioner creating it.
    pub created_by: UserId,
    /// Patient reference (sealed before storage).
    pub patient_ref: String,
    /// Title (sealed before storage).
    pub title: String,
    /// Comments (sealed before storage).
    pub comments: String,
    /// Label ids.
    pub labels: Vec<u32>,
    /// Optional expiry date.
    pub expires_at: Option<Timestamp>,
}

/// The opened (decrypted) descriptive fields of a case.
#[derive(Clone, PartialEq, Eq)]
pub struct CaseDetails {
    /// Patient reference.
    pub patient_ref: String,
    /// Title.
    pub title: String,
    /// Comments.
    pub comments: String,
}

impl std::fmt::Debug for CaseDetails {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CaseDetails([patient data redacted])")
    }
}

fn context(field: &str, case: CaseId) -> Vec<u8> {
    [b"case-".as_slice(), field.as_bytes(), b":", case.as_bytes()].concat()
}

/// Seals one descriptive field of a case.
pub(crate) fn seal_case_field(key: &CaseKey, case: CaseId, field: &str, value: &str) -> Sealed {
    key.seal_str(&context(field, case), value)
}

impl Storage {
    /// Creates a case with a fresh case key, wrapped by the current master key.
    pub async fn create_case(&self, new: NewCase) -> Result<CaseRecord> {
        let id = CaseId::random();
        let key = CaseKey::generate();
        let wrapped_key = self
            .keyring
            .read()
            .map_err(|_| crate::poisoned())?
            .wrap_case_key(&key);
        let now = Timestamp::now();
        let record = CaseRecord {
            id,
            account: new.account,
            created_by: new.created_by,
            wrapped_key,
            patient_ref: seal_case_field(&key, id, "patient-ref", &new.patient_ref),
            title: seal_case_field(&key, id, "title", &new.title),
            comments: seal_case_field(&key, id, "comments", &new.comments),
            status: CaseStatus::Active,
            labels: new.labels,
            created_at: now,
            expires_at: new.expires_at,
            updated_at: now,
        };
        self.meta.create_case(record).await
    }

    /// Opens a case's sealed descriptive fields.
    pub fn case_details(&self, case: &CaseRecord) -> Result<CaseDetails> {
        let key = self.case_key(case)?;
        let open = |field: &str, sealed: &Sealed| -> Result<String> {
            Ok(key
                .open_string(&context(field, case.id), sealed)?
                .to_string())
        };
        Ok(CaseDetails {
            patient_ref: open("patient-ref", &case.patient_ref)?,
            title: open("title", &case.title)?,
            comments: open("comments", &case.comments)?,
        })
    }

    /// Changes a case in one write: `change` edits the record's plain fields (status, labels,
    /// expiry) and its opened descriptive fields, which are sealed again before saving.
    /// Returns the saved record and its details. The record's id, account and key cannot
    /// change.
    pub async fn change_case(
        &self,
        id: CaseId,
        change: impl FnOnce(&mut CaseRecord, &mut CaseDetails) -> Result<()>,
    ) -> Result<(CaseRecord, CaseDetails)> {
        let (mut case, key) = self.case_with_key(id).await?;
        let mut details = self.case_details(&case)?;
        change(&mut case, &mut details)?;
        case.patient_ref = seal_case_field(&key, id, "patient-ref", &details.patient_ref);
        case.title = seal_case_field(&key, id, "title", &details.title);
        case.comments = seal_case_field(&key, id, "comments", &details.comments);
        let record = self.meta.update_case(case).await?;
        Ok((record, details))
    }

    /// Deletes a case: its wrapped key goes with its record (crypto-shredding), its quota is
    /// released, and its objects are deleted (or left to the recovery sweep if that fails).
    pub async fn delete_case(&self, id: CaseId) -> Result<()> {
        let blobs = self.meta.delete_case(id).await?;
        for blob in blobs {
            self.collect_garbage_blob(blob).await;
        }
        Ok(())
    }
}
