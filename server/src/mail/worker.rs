//! The delivery worker: one background task that sends due messages, records each attempt,
//! sleeps until the next message is due (or until [`super::Mailer::enqueue`] wakes it) and
//! prunes old messages now and then. It stops at once when the server shuts down; a message
//! whose sending was cut short stays pending and is sent again at the next start (delivery
//! is at least once).

use std::sync::Arc;
use std::time::{Duration, Instant};

use casevault_storage::{Backoff, MailStatus, OutboxMessage, Storage, StorageError, Timestamp};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use super::transport::Sender;

/// Messages read from the queue at a time.
const BATCH: usize = 16;
/// The queue is looked at least this often, even without a wake-up.
const IDLE_CHECK: Duration = Duration::from_secs(60);
/// Pause after the queue itself failed (database error), so a broken database does not
/// turn the worker into a busy loop.
const ERROR_PAUSE: Duration = Duration::from_secs(10);
/// How often old messages are pruned.
const PRUNE_EVERY: Duration = Duration::from_secs(3600);
/// Sent messages are kept this long (without their body) for their owner to see.
pub const KEEP_SENT: Duration = Duration::from_secs(7 * 24 * 3600);
/// Failed messages are kept this long for their owner to see.
pub const KEEP_FAILED: Duration = Duration::from_secs(30 * 24 * 3600);

/// Everything the worker needs.
pub(super) struct Worker {
    pub(super) storage: Storage,
    pub(super) sender: Arc<Sender>,
    pub(super) backoff: Backoff,
    pub(super) wake: Arc<Notify>,
    pub(super) stop: CancellationToken,
}

/// Whether a pass ended normally or because the server is stopping.
enum Pass {
    Done,
    Stopped,
}

impl Worker {
    /// Runs until `stop` is cancelled.
    pub(super) async fn run(self) {
        tracing::info!(server = %self.sender.server, "mail delivery started");
        let mut pruned_at: Option<Instant> = None;
        loop {
            if pruned_at.is_none_or(|at| at.elapsed() >= PRUNE_EVERY) {
                match self.storage.prune_mail(KEEP_SENT, KEEP_FAILED).await {
                    Ok(0) => {}
                    Ok(n) => tracing::info!(pruned = n, "old mail pruned from the queue"),
                    Err(e) => tracing::warn!(error = %e, "pruning the mail queue failed"),
                }
                pruned_at = Some(Instant::now());
            }
            let wait = match self.deliver_due().await {
                Ok(Pass::Stopped) => break,
                Ok(Pass::Done) => self.wait_time().await,
                Err(e) => {
                    tracing::warn!(error = %e, "the mail queue failed; retrying shortly");
                    ERROR_PAUSE
                }
            };
            tokio::select! {
                () = self.stop.cancelled() => break,
                () = self.wake.notified() => {}
                () = tokio::time::sleep(wait) => {}
            }
        }
        tracing::info!("mail delivery stopped");
    }

    /// Sends every message that is due, a batch at a time.
    async fn deliver_due(&self) -> Result<Pass, StorageError> {
        loop {
            let due = self.storage.due_mail(Timestamp::now(), BATCH).await?;
            let full = due.len() == BATCH;
            for message in due {
                let outcome = tokio::select! {
                    () = self.stop.cancelled() => return Ok(Pass::Stopped),
                    outcome = self.sender.send(&message) => outcome,
                };
                match outcome {
                    Ok(()) => {
                        self.storage.mark_mail_sent(message.id).await?;
                        tracing::info!(mail = %message.id, "mail sent");
                    }
                    Err(err) => self.record_failure(&message, &err).await?,
                }
            }
            if !full {
                return Ok(Pass::Done);
            }
        }
    }

    async fn record_failure(
        &self,
        message: &OutboxMessage,
        err: &super::transport::SendError,
    ) -> Result<(), StorageError> {
        let failures = message.attempts.saturating_add(1);
        let next = self
            .backoff
            .next_attempt(message.created_at, failures, Timestamp::now());
        let status = self
            .storage
            .mark_mail_failed(message.id, &err.detail, next)
            .await?;
        if status == MailStatus::Failed {
            tracing::warn!(
                mail = %message.id,
                attempts = failures,
                error = %err.summary,
                "mail could not be delivered; giving up"
            );
        } else {
            let retry_in = next.map(|at| until(at).as_secs());
            tracing::warn!(
                mail = %message.id,
                attempts = failures,
                error = %err.summary,
                retry_in_secs = ?retry_in,
                "mail delivery failed; will retry"
            );
        }
        Ok(())
    }

    /// How long to sleep: until the next message is due, at most [`IDLE_CHECK`].
    async fn wait_time(&self) -> Duration {
        match self.storage.next_mail_due().await {
            Ok(Some(at)) => until(at).min(IDLE_CHECK),
            Ok(None) => IDLE_CHECK,
            Err(e) => {
                tracing::warn!(error = %e, "reading the mail queue failed");
                ERROR_PAUSE
            }
        }
    }
}

/// The time left until `at` (zero if it has passed).
fn until(at: Timestamp) -> Duration {
    let millis = at.0.saturating_sub(Timestamp::now().0);
    Duration::from_millis(u64::try_from(millis).unwrap_or(0))
}
