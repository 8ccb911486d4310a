//! The outgoing mail queue as stored: one record per message in `outbox`, an index of the
//! pending ones by their next attempt in `outbox_due`, and an index by owner in
//! `outbox_by_owner`.
//!
//! Records hold the recipient, subject, body and last error only as [`Sealed`] boxes (see
//! [`crate::server_key`] for the key and `crate::outbox` for the opened view); the ids,
//! counters, times and status are plain so the queue can be scheduled without a key.

use casevault_crypto::Sealed;
use serde::{Deserialize, Serialize};
use sled::Transactional;

use super::{Meta, abort, get, join_index, key, tx_get, tx_put};
use crate::error::{Result, StorageError};
use crate::ids::{GrantId, MailId, UserId};
use crate::time::Timestamp;

/// Where a queued message stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum MailStatus {
    /// Waiting for its next attempt.
    Pending,
    /// Accepted by the SMTP server.
    Sent,
    /// Given up on after too many failed attempts; kept so its owner sees the failure.
    Failed,
}

/// A queued message as stored.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct OutboxRecord {
    /// The message's id.
    pub id: MailId,
    /// Recipient address (sealed).
    pub to: Sealed,
    /// Subject (sealed).
    pub subject: Sealed,
    /// Plain-text body (sealed); dropped once the message is sent.
    pub body: Option<Sealed>,
    /// When it was queued.
    pub created_at: Timestamp,
    /// Failed delivery attempts so far.
    pub attempts: u32,
    /// When the next attempt is due (meaningful while pending).
    pub next_attempt_at: Timestamp,
    /// The last delivery error (sealed: SMTP errors often quote the address).
    pub last_error: Option<Sealed>,
    /// Delivery state.
    pub status: MailStatus,
    /// When it was sent or given up on.
    pub finished_at: Option<Timestamp>,
    /// The user it was sent for and the share grant it is about, if any.
    pub about: Option<(UserId, Option<GrantId>)>,
}

/// The `outbox_due` key: the due time, sortable as bytes, then the id.
fn due_key(at: Timestamp, id: &MailId) -> Vec<u8> {
    let sortable = (at.0 as u64) ^ (1 << 63);
    key(&[&sortable.to_be_bytes(), id.as_bytes()])
}

fn due_time(key: &[u8]) -> Option<Timestamp> {
    let bytes: [u8; 8] = key.get(..8)?.try_into().ok()?;
    Some(Timestamp((u64::from_be_bytes(bytes) ^ (1 << 63)) as i64))
}

fn owner_key(record: &OutboxRecord) -> Option<Vec<u8>> {
    record
        .about
        .map(|(owner, _)| key(&[owner.as_bytes(), record.id.as_bytes()]))
}

impl Meta {
    /// Queues a message (flushed before returning).
    pub async fn outbox_insert(&self, record: OutboxRecord) -> Result<()> {
        self.run_durable(move |m| {
            let t = &m.trees;
            (&t.outbox, &t.outbox_due, &t.outbox_by_owner).transaction(
                |(outbox, due, by_owner)| {
                    if outbox.get(record.id.as_bytes())?.is_some() {
                        return abort(StorageError::Invalid("duplicate mail id".into()));
                    }
                    if record.status == MailStatus::Pending {
                        due.insert(due_key(record.next_attempt_at, &record.id), &[])?;
                    }
                    if let Some(k) = owner_key(&record) {
                        by_owner.insert(k, &[])?;
                    }
                    tx_put(outbox, record.id.as_bytes(), &record)
                },
            )?;
            Ok(())
        })
        .await
    }

    /// A queued message by id.
    pub async fn outbox_get(&self, id: MailId) -> Result<Option<OutboxRecord>> {
        self.run(move |m| get(&m.trees.outbox, id.as_bytes())).await
    }

    /// Up to `limit` pending messages due at or before `now`, earliest first.
    pub async fn outbox_due(&self, now: Timestamp, limit: usize) -> Result<Vec<OutboxRecord>> {
        self.run(move |m| {
            let end = due_key(now, &MailId([0xff; 16]));
            // Keys first, records after: see `join_index` on sled's read locks.
            let keys: Vec<sled::IVec> = m
                .trees
                .outbox_due
                .range(..=end)
                .keys()
                .take(limit)
                .collect::<std::result::Result<_, _>>()?;
            let mut out = Vec::with_capacity(keys.len());
            for k in keys {
                if let Some(record) = get(&m.trees.outbox, &k[8..])? {
                    out.push(record);
                }
            }
            Ok(out)
        })
        .await
    }

    /// When the earliest pending message is due, if any is pending.
    pub async fn outbox_next_due(&self) -> Result<Option<Timestamp>> {
        self.run(|m| {
            Ok(match m.trees.outbox_due.first()? {
                Some((k, _)) => due_time(&k),
                None => None,
            })
        })
        .await
    }

    /// Applies `change` to a message atomically, keeping the due index in step with its
    /// status and next attempt, and returns the new record (flushed before returning).
    pub async fn outbox_update<F>(&self, id: MailId, change: F) -> Result<OutboxRecord>
    where
        F: Fn(&mut OutboxRecord) + Send + 'static,
    {
        self.run_durable(move |m| {
            let t = &m.trees;
            let record = (&t.outbox, &t.outbox_due).transaction(|(outbox, due)| {
                let Some(mut record) = tx_get::<OutboxRecord>(outbox, id.as_bytes())? else {
                    return abort(StorageError::NotFound("mail"));
                };
                if record.status == MailStatus::Pending {
                    due.remove(due_key(record.next_attempt_at, &id))?;
                }
                change(&mut record);
                record.id = id;
                if record.status == MailStatus::Pending {
                    due.insert(due_key(record.next_attempt_at, &id), &[])?;
                }
                tx_put(outbox, id.as_bytes(), &record)?;
                Ok(record)
            })?;
            Ok(record)
        })
        .await
    }

    /// Every message sent on `owner`'s behalf, in no particular order.
    pub async fn outbox_of(&self, owner: UserId) -> Result<Vec<OutboxRecord>> {
        self.run(move |m| join_index(&m.trees.outbox_by_owner, owner.as_bytes(), &m.trees.outbox))
            .await
    }

    /// Deletes sent messages finished before `sent_before` and failed ones finished before
    /// `failed_before`; pending messages are never pruned. Returns how many were deleted.
    pub async fn outbox_prune(
        &self,
        sent_before: Timestamp,
        failed_before: Timestamp,
    ) -> Result<usize> {
        self.run_durable(move |m| {
            let mut doomed = Vec::new();
            for entry in m.trees.outbox.iter() {
                let (_, value) = entry?;
                let record: OutboxRecord = crate::codec::decode(&value)?;
                let cutoff = match record.status {
                    MailStatus::Pending => continue,
                    MailStatus::Sent => sent_before,
                    MailStatus::Failed => failed_before,
                };
                if record.finished_at.is_some_and(|at| at < cutoff) {
                    doomed.push(record);
                }
            }
            let t = &m.trees;
            for record in &doomed {
                (&t.outbox, &t.outbox_by_owner).transaction(|(outbox, by_owner)| {
                    outbox.remove(record.id.as_bytes())?;
                    if let Some(k) = owner_key(record) {
                        by_owner.remove(k)?;
                    }
                    Ok::<_, sled::transaction::ConflictableTransactionError<StorageError>>(())
                })?;
            }
            Ok(doomed.len())
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn due_keys_sort_by_time_including_before_the_epoch() {
        let id = MailId([7; 16]);
        let times = [i64::MIN, -5, 0, 1, 1_700_000_000_000, i64::MAX];
        let keys: Vec<Vec<u8>> = times.iter().map(|t| due_key(Timestamp(*t), &id)).collect();
        assert!(keys.windows(2).all(|w| w[0] < w[1]));
        for (t, k) in times.iter().zip(&keys) {
            assert_eq!(due_time(k), Some(Timestamp(*t)));
        }
    }
}
