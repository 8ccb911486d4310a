//! Quota accounts: bytes used and bytes reserved by uploads in progress, against a limit.
//!
//! Invariants kept by every transaction that touches a [`QuotaRecord`]:
//! `used + reserved <= limit` whenever a reservation is granted, `used` equals the sum of the
//! sizes of the account's committed files, and `reserved` equals the sum of the reservations
//! of its pending uploads.

use serde::{Deserialize, Serialize};

use crate::ids::{OrgId, UserId};

/// Whose quota a file uses: a practitioner's own, or an organisation's (group folders).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum QuotaAccount {
    /// A user's personal quota.
    User(UserId),
    /// An organisation's shared quota.
    Org(OrgId),
}

impl QuotaAccount {
    /// The sled key of the account: a tag byte then the id.
    pub fn key(&self) -> [u8; 17] {
        let (tag, id) = match self {
            QuotaAccount::User(id) => (b'u', id.as_bytes()),
            QuotaAccount::Org(id) => (b'o', id.as_bytes()),
        };
        let mut key = [0u8; 17];
        key[0] = tag;
        key[1..].copy_from_slice(id);
        key
    }
}

/// The quota state of one account.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct QuotaRecord {
    /// Maximum bytes (plaintext) the account may store.
    pub limit: u64,
    /// Bytes of committed files.
    pub used: u64,
    /// Bytes held by uploads in progress.
    pub reserved: u64,
}

impl QuotaRecord {
    /// Bytes that can still be reserved.
    pub fn available(&self) -> u64 {
        self.limit
            .saturating_sub(self.used.saturating_add(self.reserved))
    }
}
