//! The counters of a grant, each changed in one transaction: downloads claimed, completed
//! and released; bytes uploaded through it; wrong passwords.
//!
//! A download is counted exactly once whatever the concurrency: a claim checks and takes a
//! slot in the same transaction (`downloads + downloads_in_flight < limit`), so of fifty
//! simultaneous claims on a one-time link one succeeds. A finished transfer completes its
//! claim, a failed one releases it. Claims do not outlive the process:
//! [`Meta::reset_downloads_in_flight`] runs at start (see [`crate::Storage::recover`]).

use sled::transaction::{ConflictableTransactionResult, TransactionalTree};

use super::{Meta, abort, tx_get, tx_put};
use crate::error::{Result, StorageError};
use crate::ids::{CaseId, GrantId};
use crate::records::GrantRecord;
use crate::time::Timestamp;

/// Applies `change` to a grant in one transaction. `None` when the grant does not exist;
/// an error from `change` leaves the grant unchanged.
fn change_grant(
    m: &Meta,
    id: GrantId,
    change: impl Fn(&mut GrantRecord) -> Result<()>,
) -> Result<Option<GrantRecord>> {
    let record = m.trees.grants.transaction(|grants| {
        let Some(mut grant) = tx_get::<GrantRecord>(grants, id.as_bytes())? else {
            return Ok(None);
        };
        if let Err(e) = change(&mut grant) {
            return abort(e);
        }
        tx_put(grants, id.as_bytes(), &grant)?;
        Ok(Some(grant))
    })?;
    Ok(record)
}

/// Charges a committed file's size to the grant it was uploaded through, inside the commit
/// transaction: refused unless the grant is on the file's case, still accepts uploads at
/// `now`, and has room under its cap.
pub(crate) fn charge_upload(
    grants: &TransactionalTree,
    id: GrantId,
    case: CaseId,
    size: u64,
    now: Timestamp,
) -> ConflictableTransactionResult<(), StorageError> {
    let Some(mut grant) = tx_get::<GrantRecord>(grants, id.as_bytes())? else {
        return abort(StorageError::GrantUnavailable);
    };
    if grant.target.case() != case || !grant.accepts_uploads(now) {
        return abort(StorageError::GrantUnavailable);
    }
    if grant.upload_available() < size {
        return abort(StorageError::GrantCapExceeded {
            needed: size,
            available: grant.upload_available(),
        });
    }
    grant.uploaded = grant.uploaded.saturating_add(size);
    tx_put(grants, id.as_bytes(), &grant)
}

impl Meta {
    /// Claims one download through a grant: refused with [`StorageError::GrantUnavailable`]
    /// (for every reason alike, an unknown grant included) unless the grant is active at
    /// `now` and its completed plus in-flight downloads stay below its limit. On success
    /// one more download is in flight and `last_access` is `now`. Finish the claim with
    /// [`Meta::complete_download`] or [`Meta::release_download`].
    pub async fn claim_download(&self, grant: GrantId, now: Timestamp) -> Result<GrantRecord> {
        self.run(move |m| {
            change_grant(m, grant, |g| {
                if !g.can_claim_download(now) {
                    return Err(StorageError::GrantUnavailable);
                }
                g.downloads_in_flight = g.downloads_in_flight.saturating_add(1);
                g.last_access = Some(now);
                Ok(())
            })?
            .ok_or(StorageError::GrantUnavailable)
        })
        .await
    }

    /// Counts a claimed download as completed: one fewer in flight, one more done. Works
    /// on a grant revoked or expired meanwhile (the transfer had started); `None` when the
    /// grant is gone (deleted with its target). Flushed before it returns: a completed
    /// one-time download must stay counted after a crash.
    pub async fn complete_download(&self, grant: GrantId) -> Result<Option<GrantRecord>> {
        self.run_durable(move |m| {
            change_grant(m, grant, |g| {
                g.downloads_in_flight = g.downloads_in_flight.saturating_sub(1);
                g.downloads = g.downloads.saturating_add(1);
                Ok(())
            })
        })
        .await
    }

    /// Gives a claimed download back (the transfer failed): one fewer in flight. Works on a
    /// grant revoked or expired meanwhile; `None` when the grant is gone.
    pub async fn release_download(&self, grant: GrantId) -> Result<Option<GrantRecord>> {
        self.run(move |m| {
            change_grant(m, grant, |g| {
                g.downloads_in_flight = g.downloads_in_flight.saturating_sub(1);
                Ok(())
            })
        })
        .await
    }

    /// Sets every grant's in-flight downloads to zero; returns how many grants had some.
    /// Only for start-up, when no transfer can be running.
    pub async fn reset_downloads_in_flight(&self) -> Result<usize> {
        self.run_durable(|m| {
            let mut busy = Vec::new();
            for entry in m.trees.grants.iter() {
                let (key, value) = entry?;
                let grant: GrantRecord = crate::codec::decode(&value)?;
                if grant.downloads_in_flight > 0 {
                    busy.push(
                        GrantId::from_slice(&key)
                            .map_err(|_| StorageError::Codec("grant key".into()))?,
                    );
                }
            }
            for id in &busy {
                change_grant(m, *id, |g| {
                    g.downloads_in_flight = 0;
                    Ok(())
                })?;
            }
            Ok(busy.len())
        })
        .await
    }

    /// Checks, before an upload's bytes are stored, that the grant still accepts uploads
    /// ([`StorageError::GrantUnavailable`] otherwise) and that `bytes` more fit under its
    /// cap ([`StorageError::GrantCapExceeded`] otherwise). Nothing is reserved: the commit
    /// transaction checks again and charges the grant exactly (see
    /// [`crate::NewFile::grant`]); this check only stops an upload early.
    pub async fn check_grant_upload(&self, grant: GrantId, bytes: u64) -> Result<GrantRecord> {
        let Some(record) = self.grant(grant).await? else {
            return Err(StorageError::GrantUnavailable);
        };
        if !record.accepts_uploads(Timestamp::now()) {
            return Err(StorageError::GrantUnavailable);
        }
        if record.upload_available() < bytes {
            return Err(StorageError::GrantCapExceeded {
                needed: bytes,
                available: record.upload_available(),
            });
        }
        Ok(record)
    }

    /// Counts a wrong password: `failed_attempts` grows by one and, when it reaches
    /// `lock_threshold`, the grant is locked at `now` (it stays locked until its owner
    /// unlocks it with [`Meta::update_grant`]). Flushed before it returns.
    pub async fn record_failed_attempt(
        &self,
        grant: GrantId,
        now: Timestamp,
        lock_threshold: u32,
    ) -> Result<GrantRecord> {
        self.run_durable(move |m| {
            change_grant(m, grant, |g| {
                g.failed_attempts = g.failed_attempts.saturating_add(1);
                if g.failed_attempts >= lock_threshold && g.locked_at.is_none() {
                    g.locked_at = Some(now);
                }
                Ok(())
            })?
            .ok_or(StorageError::NotFound("grant"))
        })
        .await
    }

    /// Forgets the wrong passwords after a right one. A locked grant stays locked.
    pub async fn reset_failed_attempts(&self, grant: GrantId) -> Result<GrantRecord> {
        self.run_durable(move |m| {
            change_grant(m, grant, |g| {
                g.failed_attempts = 0;
                Ok(())
            })?
            .ok_or(StorageError::NotFound("grant"))
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use casevault_crypto::Token;

    use super::*;
    use crate::ids::UserId;
    use crate::meta::{temp_case, temp_meta};
    use crate::records::{GrantAudience, GrantRole, GrantStatus, GrantTarget};

    async fn grant(meta: &Meta, limit: Option<u32>) -> GrantRecord {
        let mut grant = GrantRecord::new(
            UserId::random(),
            GrantTarget::Case(temp_case(meta).await),
            GrantRole::Read,
            GrantAudience::External {
                token_hash: Token::generate().hash(),
            },
            None,
        );
        grant.download_limit = limit;
        meta.create_grant(grant).await.expect("grant")
    }

    #[tokio::test]
    async fn claims_complete_and_release_within_the_limit() {
        let (_dir, meta) = temp_meta();
        let g = grant(&meta, Some(2)).await;
        let now = Timestamp(1);
        meta.claim_download(g.id, now).await.expect("first");
        meta.claim_download(g.id, now).await.expect("second");
        assert!(matches!(
            meta.claim_download(g.id, now).await,
            Err(StorageError::GrantUnavailable)
        ));
        let released = meta.release_download(g.id).await.expect("release");
        assert_eq!(released.map(|g| g.downloads_in_flight), Some(1));
        meta.claim_download(g.id, now).await.expect("refunded");
        meta.complete_download(g.id).await.expect("complete");
        let done = meta
            .complete_download(g.id)
            .await
            .expect("complete")
            .expect("grant");
        assert_eq!((done.downloads, done.downloads_in_flight), (2, 0));
        assert_eq!(done.status(now), GrantStatus::UsedUp);
        let floor = meta.release_download(g.id).await.expect("release");
        assert_eq!(floor.map(|g| g.downloads_in_flight), Some(0), "saturates");
        let gone = meta.complete_download(GrantId::random()).await;
        assert!(gone.expect("gone").is_none());
    }

    #[tokio::test]
    async fn a_restart_resets_claims_and_wrong_passwords_lock() {
        let (_dir, meta) = temp_meta();
        let unlimited = grant(&meta, None).await;
        let idle = grant(&meta, Some(1)).await;
        for _ in 0..3 {
            meta.claim_download(unlimited.id, Timestamp(1))
                .await
                .expect("claim");
        }
        assert_eq!(meta.reset_downloads_in_flight().await.expect("reset"), 1);
        let reset = meta.grant(unlimited.id).await.expect("get").expect("grant");
        assert_eq!((reset.downloads_in_flight, reset.downloads), (0, 0));

        let first = meta
            .record_failed_attempt(idle.id, Timestamp(5), 2)
            .await
            .expect("first");
        assert_eq!((first.failed_attempts, first.locked_at), (1, None));
        let locked = meta
            .record_failed_attempt(idle.id, Timestamp(6), 2)
            .await
            .expect("second");
        assert_eq!(locked.locked_at, Some(Timestamp(6)));
        let later = meta
            .record_failed_attempt(idle.id, Timestamp(7), 2)
            .await
            .expect("third");
        assert_eq!(later.locked_at, Some(Timestamp(6)), "locked once");
        assert!(matches!(
            meta.claim_download(idle.id, Timestamp(8)).await,
            Err(StorageError::GrantUnavailable)
        ));
        assert!(matches!(
            meta.check_grant_upload(idle.id, 0).await,
            Err(StorageError::GrantUnavailable)
        ));
    }
}
