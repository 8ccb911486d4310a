//! Share grants: what a practitioner shares, with whom, for how long, and what has been
//! done through the share so far.
//!
//! The settings (role, audience, expiry, limits) are chosen by the server; storage keeps the
//! indexes and the counters consistent (see [`crate::meta::Meta::claim_download`] and
//! [`crate::meta::Meta::revoke_grants`]).

use std::time::Duration;

use casevault_crypto::{PasswordHash, Sealed, TokenHash};
use serde::{Deserialize, Serialize};

use crate::ids::{CaseId, FileId, FolderId, GrantId, UserId};
use crate::time::Timestamp;

/// What a grant lets its holder do.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum GrantRole {
    /// See and download.
    Read,
    /// Also upload, rename, delete.
    Edit,
    /// Upload only; see nothing.
    Drop,
}

/// What a grant points at.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum GrantTarget {
    /// A whole case.
    Case(CaseId),
    /// A folder and everything under it.
    Folder(CaseId, FolderId),
    /// A single file.
    File(CaseId, FileId),
}

impl GrantTarget {
    /// The case the target lies in.
    pub fn case(&self) -> CaseId {
        match *self {
            GrantTarget::Case(c) | GrantTarget::Folder(c, _) | GrantTarget::File(c, _) => c,
        }
    }
}

/// Who a grant is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum GrantAudience {
    /// A colleague's account: the grant appears in their "shared with me".
    Colleague(UserId),
    /// Whoever holds the link: only the SHA-256 of the link token is kept.
    External {
        /// SHA-256 of the link token; unique among grants.
        token_hash: TokenHash,
    },
}

/// Whether a grant can be used now, from [`GrantRecord::status`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GrantStatus {
    /// Usable.
    Active,
    /// Its expiry time has come.
    Expired,
    /// Every allowed download has been completed.
    UsedUp,
    /// Locked after too many wrong passwords.
    Locked,
    /// Revoked by its owner.
    Revoked,
}

/// A share grant.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct GrantRecord {
    /// The grant's id.
    pub id: GrantId,
    /// The practitioner who created it; only they may change or revoke it.
    pub owner: UserId,
    /// What it points at. Fixed at creation.
    pub target: GrantTarget,
    /// What it allows.
    pub role: GrantRole,
    /// Who it is for. Fixed at creation.
    pub audience: GrantAudience,
    /// argon2id hash of the link password, if any.
    pub password: Option<PasswordHash>,
    /// The recipient's e-mail and the owner's note, sealed with the case key (see
    /// [`crate::Storage::seal_grant_recipient`]).
    pub recipient: Option<Sealed>,
    /// When it stops working; `None` for a grant that does not expire by itself.
    pub expires_at: Option<Timestamp>,
    /// Completed downloads allowed (1 = one-time link); `None` for no limit.
    pub download_limit: Option<u32>,
    /// Completed downloads so far.
    pub downloads: u32,
    /// Downloads claimed and not yet completed or released.
    pub downloads_in_flight: u32,
    /// Plaintext bytes that may be uploaded through the grant; `None` for no cap (the case
    /// owner's quota still applies).
    pub upload_cap: Option<u64>,
    /// Plaintext bytes of the files committed through the grant.
    pub uploaded: u64,
    /// Wrong passwords since the last right one.
    pub failed_attempts: u32,
    /// When too many wrong passwords locked it.
    pub locked_at: Option<Timestamp>,
    /// Revocation time, if revoked.
    pub revoked_at: Option<Timestamp>,
    /// Creation time.
    pub created_at: Timestamp,
    /// Last successful use (a claimed download).
    pub last_access: Option<Timestamp>,
    /// When the expiry reminder went out.
    pub reminded_at: Option<Timestamp>,
}

impl GrantRecord {
    /// How long a grant lasts when its owner does not choose: seven days.
    pub const DEFAULT_LIFETIME: Duration = Duration::from_secs(7 * 24 * 60 * 60);

    /// A new grant with every counter at zero, not locked, not revoked, created now.
    pub fn new(
        owner: UserId,
        target: GrantTarget,
        role: GrantRole,
        audience: GrantAudience,
        expires_at: Option<Timestamp>,
    ) -> GrantRecord {
        GrantRecord {
            id: GrantId::random(),
            owner,
            target,
            role,
            audience,
            password: None,
            recipient: None,
            expires_at,
            download_limit: None,
            downloads: 0,
            downloads_in_flight: 0,
            upload_cap: None,
            uploaded: 0,
            failed_attempts: 0,
            locked_at: None,
            revoked_at: None,
            created_at: Timestamp::now(),
            last_access: None,
            reminded_at: None,
        }
    }

    /// The colleague the grant is for, if it is not an external link.
    pub fn grantee(&self) -> Option<UserId> {
        match self.audience {
            GrantAudience::Colleague(user) => Some(user),
            GrantAudience::External { .. } => None,
        }
    }

    /// The hash of the link token, if it is an external link.
    pub fn token_hash(&self) -> Option<TokenHash> {
        match self.audience {
            GrantAudience::External { token_hash } => Some(token_hash),
            GrantAudience::Colleague(_) => None,
        }
    }

    /// Whether the grant can be used at `now`. The first that applies wins: revoked,
    /// locked, expired (at its expiry instant already), used up (completed downloads have
    /// reached the limit; downloads in flight do not count here).
    pub fn status(&self, now: Timestamp) -> GrantStatus {
        if self.revoked_at.is_some() {
            GrantStatus::Revoked
        } else if self.locked_at.is_some() {
            GrantStatus::Locked
        } else if self.expires_at.is_some_and(|expiry| now >= expiry) {
            GrantStatus::Expired
        } else if self
            .download_limit
            .is_some_and(|limit| self.downloads >= limit)
        {
            GrantStatus::UsedUp
        } else {
            GrantStatus::Active
        }
    }

    /// Whether one more download may be claimed at `now`: the grant is active and completed
    /// plus in-flight downloads stay below the limit.
    pub fn can_claim_download(&self, now: Timestamp) -> bool {
        self.status(now) == GrantStatus::Active
            && self.download_limit.is_none_or(|limit| {
                u64::from(self.downloads) + u64::from(self.downloads_in_flight) < u64::from(limit)
            })
    }

    /// Whether uploads may still be committed through the grant at `now`: it is neither
    /// revoked, locked nor expired (a used-up download limit does not stop uploads).
    pub fn accepts_uploads(&self, now: Timestamp) -> bool {
        matches!(self.status(now), GrantStatus::Active | GrantStatus::UsedUp)
    }

    /// Bytes that may still be uploaded through the grant (`u64::MAX` without a cap).
    pub fn upload_available(&self) -> u64 {
        self.upload_cap
            .map_or(u64::MAX, |cap| cap.saturating_sub(self.uploaded))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn grant() -> GrantRecord {
        GrantRecord::new(
            UserId::random(),
            GrantTarget::Case(CaseId::random()),
            GrantRole::Read,
            GrantAudience::External {
                token_hash: TokenHash([1; 32]),
            },
            Some(Timestamp(1_000)),
        )
    }

    #[test]
    fn status_boundaries_and_precedence() {
        let mut g = grant();
        assert_eq!(g.status(Timestamp(999)), GrantStatus::Active);
        assert_eq!(g.status(Timestamp(1_000)), GrantStatus::Expired);
        g.download_limit = Some(1);
        g.downloads = 1;
        assert_eq!(g.status(Timestamp(999)), GrantStatus::UsedUp);
        assert_eq!(g.status(Timestamp(1_000)), GrantStatus::Expired);
        g.locked_at = Some(Timestamp(5));
        assert_eq!(g.status(Timestamp(1_000)), GrantStatus::Locked);
        g.revoked_at = Some(Timestamp(6));
        assert_eq!(g.status(Timestamp(1_000)), GrantStatus::Revoked);
    }

    #[test]
    fn claims_count_downloads_in_flight() {
        let mut g = grant();
        g.expires_at = None;
        assert!(g.can_claim_download(Timestamp(i64::MAX)));
        g.download_limit = Some(2);
        g.downloads_in_flight = 1;
        assert!(g.can_claim_download(Timestamp(0)));
        g.downloads = 1;
        assert_eq!(g.status(Timestamp(0)), GrantStatus::Active);
        assert!(!g.can_claim_download(Timestamp(0)));
        g.download_limit = Some(0);
        assert!(!g.can_claim_download(Timestamp(0)));
    }

    #[test]
    fn upload_availability() {
        let mut g = grant();
        assert_eq!(g.upload_available(), u64::MAX);
        g.upload_cap = Some(100);
        g.uploaded = 30;
        assert_eq!(g.upload_available(), 70);
        g.download_limit = Some(0);
        assert!(g.accepts_uploads(Timestamp(0)));
        assert!(!g.accepts_uploads(Timestamp(1_000)));
    }
}
