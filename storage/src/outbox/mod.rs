//! The outgoing mail queue, opened: queue a message, list the due ones, record each attempt,
//! list a user's messages, prune old ones; and [`Backoff`], the retry schedule.
//!
//! The retry schedule, [`Backoff`], is in `backoff`.
//!
//! Nothing about a message reaches the disk in plaintext: the recipient, subject, body and
//! last error are sealed with the server-values key (see `crate::server_key`), each bound
//! to its field and mail id. The mail leaves the server in plaintext anyway (SMTP, at
//! best with TLS to the relay), but the database, its backups and its copies hold no
//! addresses, names or share passwords. A sent message's body is dropped at once; the rest
//! stays until pruned so its owner can see what was sent and what failed.

use std::fmt;
use std::time::Duration;

use casevault_crypto::{CaseKey, Sealed};

use crate::Storage;
use crate::error::Result;
use crate::ids::{GrantId, MailId, UserId};
use crate::meta::{MailStatus, OutboxRecord};
use crate::time::Timestamp;

mod backoff;

pub use backoff::Backoff;

/// Longest last error kept, in bytes.
const MAX_ERROR_LEN: usize = 1000;

/// A message to queue.
#[derive(Clone)]
pub struct NewMail {
    /// Recipient address (already validated by the caller).
    pub to: String,
    /// Subject.
    pub subject: String,
    /// Plain-text body.
    pub body_text: String,
    /// The user it is sent for and the share grant it is about, if any.
    pub about: Option<(UserId, Option<GrantId>)>,
}

impl fmt::Debug for NewMail {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NewMail")
            .field("about", &self.about)
            .finish_non_exhaustive()
    }
}

/// A queued message, opened. `Debug` leaves out the recipient, subject, body and error.
#[derive(Clone)]
pub struct OutboxMessage {
    /// The message's id.
    pub id: MailId,
    /// Recipient address.
    pub to: String,
    /// Subject.
    pub subject: String,
    /// Plain-text body; empty once the message is sent.
    pub body_text: String,
    /// When it was queued.
    pub created_at: Timestamp,
    /// Failed delivery attempts so far.
    pub attempts: u32,
    /// When the next attempt is due (meaningful while pending).
    pub next_attempt_at: Timestamp,
    /// The last delivery error.
    pub last_error: Option<String>,
    /// Delivery state.
    pub status: MailStatus,
    /// When it was sent or given up on.
    pub finished_at: Option<Timestamp>,
    /// The user it was sent for and the share grant it is about, if any.
    pub about: Option<(UserId, Option<GrantId>)>,
}

impl fmt::Debug for OutboxMessage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OutboxMessage")
            .field("id", &self.id)
            .field("status", &self.status)
            .field("attempts", &self.attempts)
            .field("next_attempt_at", &self.next_attempt_at)
            .field("about", &self.about)
            .finish_non_exhaustive()
    }
}

fn context(field: &str, id: MailId) -> Vec<u8> {
    [b"outbox-", field.as_bytes(), b":", id.as_bytes()].concat()
}

fn open(key: &CaseKey, field: &str, id: MailId, sealed: &Sealed) -> Result<String> {
    Ok(key.open_string(&context(field, id), sealed)?.to_string())
}

fn open_record(key: &CaseKey, r: OutboxRecord) -> Result<OutboxMessage> {
    Ok(OutboxMessage {
        id: r.id,
        to: open(key, "to", r.id, &r.to)?,
        subject: open(key, "subject", r.id, &r.subject)?,
        body_text: match &r.body {
            Some(body) => open(key, "body", r.id, body)?,
            None => String::new(),
        },
        created_at: r.created_at,
        attempts: r.attempts,
        next_attempt_at: r.next_attempt_at,
        last_error: match &r.last_error {
            Some(error) => Some(open(key, "error", r.id, error)?),
            None => None,
        },
        status: r.status,
        finished_at: r.finished_at,
        about: r.about,
    })
}

fn truncated(error: &str) -> &str {
    let mut end = error.len().min(MAX_ERROR_LEN);
    while !error.is_char_boundary(end) {
        end -= 1;
    }
    &error[..end]
}

impl Storage {
    /// Queues a message, due at once, and returns it (flushed before returning).
    pub async fn enqueue_mail(&self, mail: NewMail) -> Result<OutboxMessage> {
        let key = self.server_values_key().await?;
        let id = MailId::random();
        let now = Timestamp::now();
        let record = OutboxRecord {
            id,
            to: key.seal_str(&context("to", id), &mail.to),
            subject: key.seal_str(&context("subject", id), &mail.subject),
            body: Some(key.seal_str(&context("body", id), &mail.body_text)),
            created_at: now,
            attempts: 0,
            next_attempt_at: now,
            last_error: None,
            status: MailStatus::Pending,
            finished_at: None,
            about: mail.about,
        };
        self.meta.outbox_insert(record.clone()).await?;
        open_record(&key, record)
    }

    /// Up to `limit` pending messages due at or before `now`, earliest first. A message
    /// that can no longer be opened (its seal is damaged) is marked failed and left out, so
    /// it cannot hold up the others.
    pub async fn due_mail(&self, now: Timestamp, limit: usize) -> Result<Vec<OutboxMessage>> {
        let records = self.meta.outbox_due(now, limit).await?;
        let key = self.server_values_key().await?;
        let mut out = Vec::with_capacity(records.len());
        for record in records {
            let id = record.id;
            match open_record(&key, record) {
                Ok(message) => out.push(message),
                Err(err) => {
                    tracing::warn!(mail = %id, error = %err, "queued mail cannot be opened; giving up on it");
                    let error =
                        key.seal_str(&context("error", id), "the queued message is damaged");
                    self.meta
                        .outbox_update(id, move |r| {
                            r.status = MailStatus::Failed;
                            r.finished_at = Some(Timestamp::now());
                            r.last_error = Some(error.clone());
                        })
                        .await?;
                }
            }
        }
        Ok(out)
    }

    /// When the earliest pending message is due, if any is pending.
    pub async fn next_mail_due(&self) -> Result<Option<Timestamp>> {
        self.meta.outbox_next_due().await
    }

    /// A queued message by id.
    pub async fn mail(&self, id: MailId) -> Result<Option<OutboxMessage>> {
        let Some(record) = self.meta.outbox_get(id).await? else {
            return Ok(None);
        };
        open_record(&self.server_values_key().await?, record).map(Some)
    }

    /// Records a successful delivery; the body is dropped.
    pub async fn mark_mail_sent(&self, id: MailId) -> Result<()> {
        self.meta
            .outbox_update(id, |r| {
                r.status = MailStatus::Sent;
                r.finished_at = Some(Timestamp::now());
                r.body = None;
            })
            .await?;
        Ok(())
    }

    /// Records a failed attempt: counts it, keeps `error`, and schedules the next attempt
    /// at `next_attempt_at`, or gives up (status [`MailStatus::Failed`]) when it is `None`.
    /// Returns the new status.
    pub async fn mark_mail_failed(
        &self,
        id: MailId,
        error: &str,
        next_attempt_at: Option<Timestamp>,
    ) -> Result<MailStatus> {
        let key = self.server_values_key().await?;
        let sealed = key.seal_str(&context("error", id), truncated(error));
        let record = self
            .meta
            .outbox_update(id, move |r| {
                r.attempts = r.attempts.saturating_add(1);
                r.last_error = Some(sealed.clone());
                match next_attempt_at {
                    Some(at) => r.next_attempt_at = at,
                    None => {
                        r.status = MailStatus::Failed;
                        r.finished_at = Some(Timestamp::now());
                    }
                }
            })
            .await?;
        Ok(record.status)
    }

    /// Every message sent on `owner`'s behalf, newest first.
    pub async fn mail_of(&self, owner: UserId) -> Result<Vec<OutboxMessage>> {
        let records = self.meta.outbox_of(owner).await?;
        let key = self.server_values_key().await?;
        let mut out = records
            .into_iter()
            .map(|r| open_record(&key, r))
            .collect::<Result<Vec<_>>>()?;
        out.sort_by_key(|m| std::cmp::Reverse(m.created_at));
        Ok(out)
    }

    /// Deletes sent messages finished more than `keep_sent` ago and failed ones finished
    /// more than `keep_failed` ago. Returns how many were deleted.
    pub async fn prune_mail(&self, keep_sent: Duration, keep_failed: Duration) -> Result<usize> {
        let now = Timestamp::now();
        let before = |keep: Duration| {
            Timestamp(
                now.0
                    .saturating_sub(i64::try_from(keep.as_millis()).unwrap_or(i64::MAX)),
            )
        };
        self.meta
            .outbox_prune(before(keep_sent), before(keep_failed))
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_are_truncated_on_a_character_boundary() {
        let long = "é".repeat(MAX_ERROR_LEN);
        let cut = truncated(&long);
        assert!(cut.len() <= MAX_ERROR_LEN && cut.len() >= MAX_ERROR_LEN - 1);
        assert_eq!(truncated("short"), "short");
    }
}
