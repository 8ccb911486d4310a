//! The parts of share grants that need the case key: a grant's recipient and note, and who
//! uploaded a file through a grant. Both identify people, so both reach sled only sealed,
//! each under a context naming its grant or file (see [`crate::names`]).

use casevault_crypto::{CaseKey, Sealed};
use serde::{Deserialize, Serialize};

use crate::Storage;
use crate::codec;
use crate::error::Result;
use crate::names::{file_uploader_context, grant_recipient_context};
use crate::records::{FileRecord, GrantRecord};

/// Who a grant was sent to and the owner's note, kept sealed in [`GrantRecord::recipient`].
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GrantRecipient {
    /// The recipient's e-mail address, if the share was sent by mail.
    pub email: Option<String>,
    /// The owner's note to the recipient (may be empty).
    pub note: String,
}

impl std::fmt::Debug for GrantRecipient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("GrantRecipient([redacted])")
    }
}

/// Who uploaded a file through a grant, as they told the upload form; kept sealed.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Uploader {
    /// Their name.
    pub name: String,
    /// Their e-mail address.
    pub email: String,
}

impl std::fmt::Debug for Uploader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Uploader([redacted])")
    }
}

/// Seals a value encoded with the versioned codec.
fn seal_value<T: Serialize>(key: &CaseKey, context: &[u8], value: &T) -> Result<Sealed> {
    Ok(key.seal(context, &codec::encode(value)?))
}

/// Opens a value sealed by [`seal_value`].
fn open_value<T: serde::de::DeserializeOwned>(
    key: &CaseKey,
    context: &[u8],
    sealed: &Sealed,
) -> Result<T> {
    codec::decode(&key.open(context, sealed)?)
}

/// Seals who uploaded a file, for [`crate::meta::CommitFile::uploader`].
pub(crate) fn seal_uploader(
    key: &CaseKey,
    file: crate::ids::FileId,
    uploader: &Uploader,
) -> Result<Sealed> {
    seal_value(key, &file_uploader_context(file), uploader)
}

impl Storage {
    /// Seals a grant's recipient and note with the key of the grant's case, for
    /// [`GrantRecord::recipient`]. The grant's id must be final: it is the sealing context.
    pub fn seal_grant_recipient(
        &self,
        key: &CaseKey,
        grant: &GrantRecord,
        recipient: &GrantRecipient,
    ) -> Result<Sealed> {
        seal_value(key, &grant_recipient_context(grant.id), recipient)
    }

    /// Opens a grant's recipient and note; `None` when the grant has none.
    pub fn grant_recipient(
        &self,
        key: &CaseKey,
        grant: &GrantRecord,
    ) -> Result<Option<GrantRecipient>> {
        grant
            .recipient
            .as_ref()
            .map(|sealed| open_value(key, &grant_recipient_context(grant.id), sealed))
            .transpose()
    }

    /// Who uploaded a file through a grant; `None` for a file uploaded otherwise.
    pub async fn file_uploader(
        &self,
        key: &CaseKey,
        file: &FileRecord,
    ) -> Result<Option<Uploader>> {
        let Some(sealed) = self.meta.file_uploader(file.id).await? else {
            return Ok(None);
        };
        open_value(key, &file_uploader_context(file.id), &sealed).map(Some)
    }
}
