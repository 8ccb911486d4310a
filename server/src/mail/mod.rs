//! Outgoing mail: [`Mailer`] queues plain-text [`Message`]s in the metadata database and a
//! background worker delivers them over SMTP (lettre), retrying with a growing delay.
//!
//! - **Nothing is lost, nothing blocks.** [`Mailer::enqueue`] only writes the message to the
//!   queue (flushed to disk) and wakes the worker; it never talks to the SMTP server. A
//!   server that is down, slow or refusing only delays delivery: each failed attempt is
//!   counted with its error, the next one waits longer (`smtp.retry_initial`, ×4 each
//!   time, at most `smtp.retry_max`), and a message still undelivered after
//!   `smtp.give_up_after` is marked failed and kept for its sender to see. The queue
//!   survives restarts.
//! - **Nothing in plaintext on disk.** The recipient, subject, body and errors are sealed
//!   in the queue (see `casevault_storage`'s outbox); a sent message's body is dropped.
//! - **Mail off.** Without an `[smtp]` section [`Mailer::status`] is
//!   [`MailerStatus::Off`] and [`Mailer::enqueue`] refuses with [`MailError::Off`], storing
//!   nothing: a message that can never leave should not sit on disk with a share password
//!   in it. Callers answer with the link (and password) for the user to pass on
//!   themselves.

mod message;
mod transport;
mod worker;

use std::sync::Arc;

use casevault_storage::{Backoff, Storage, StorageError, UserId};
use tokio::sync::Notify;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::config::SmtpSettings;
use crate::error::ApiError;

pub use casevault_storage::{MailId, MailStatus, OutboxMessage};
pub use message::{MAX_SUBJECT_CHARS, Message};
pub use worker::{KEEP_FAILED, KEEP_SENT};

/// Why mail could not be queued (or set up).
#[derive(Debug, thiserror::Error)]
pub enum MailError {
    /// No `[smtp]` section is configured: nothing can be sent, so nothing is queued.
    #[error("mail is off: no [smtp] section is configured")]
    Off,
    /// The recipient is not a valid e-mail address.
    #[error("not a valid e-mail address")]
    InvalidAddress,
    /// The subject is empty, too long or more than one line.
    #[error("the subject must be one line of 1 to {MAX_SUBJECT_CHARS} characters")]
    InvalidSubject,
    /// The SMTP client could not be set up from the settings.
    #[error("cannot set up mail: {0}")]
    Setup(String),
    /// The queue could not be read or written.
    #[error(transparent)]
    Storage(#[from] StorageError),
}

impl From<MailError> for ApiError {
    fn from(err: MailError) -> Self {
        match err {
            MailError::Off => ApiError::Conflict(
                "This server does not send e-mail; pass the link on yourself.".into(),
            ),
            MailError::InvalidAddress | MailError::InvalidSubject => {
                ApiError::BadRequest(err.to_string())
            }
            MailError::Setup(_) => ApiError::internal(err),
            MailError::Storage(e) => e.into(),
        }
    }
}

/// Whether the server sends mail.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MailerStatus {
    /// No `[smtp]` section: nothing is sent or queued.
    Off,
    /// Messages are queued and delivered.
    On,
}

impl MailerStatus {
    /// `"off"` or `"on"`, for API answers.
    pub fn as_str(self) -> &'static str {
        match self {
            MailerStatus::Off => "off",
            MailerStatus::On => "on",
        }
    }
}

/// The outgoing mail service, owned by the application state.
pub struct Mailer {
    storage: Storage,
    /// `None` when mail is off.
    sender: Option<Arc<transport::Sender>>,
    backoff: Backoff,
    wake: Arc<Notify>,
}

impl Mailer {
    /// A mailer for `settings` (`None`: mail off). Builds the SMTP client without
    /// connecting; fails only on settings lettre cannot use.
    pub fn new(storage: Storage, settings: Option<&SmtpSettings>) -> Result<Mailer, MailError> {
        let (sender, backoff) = match settings {
            Some(smtp) => (
                Some(Arc::new(transport::Sender::new(smtp)?)),
                transport::backoff(smtp),
            ),
            None => (None, Backoff::default()),
        };
        Ok(Mailer {
            storage,
            sender,
            backoff,
            wake: Arc::new(Notify::new()),
        })
    }

    /// Whether mail is sent at all.
    pub fn status(&self) -> MailerStatus {
        match self.sender {
            Some(_) => MailerStatus::On,
            None => MailerStatus::Off,
        }
    }

    /// Queues `message` (flushed to disk before returning) and wakes the worker; it is sent
    /// in the background. [`MailError::Off`] when mail is off (nothing is stored).
    pub async fn enqueue(&self, message: Message) -> Result<MailId, MailError> {
        if self.sender.is_none() {
            return Err(MailError::Off);
        }
        let queued = self.storage.enqueue_mail(message.into_new_mail()).await?;
        self.wake.notify_one();
        Ok(queued.id)
    }

    /// A queued message and its delivery state.
    pub async fn message(&self, id: MailId) -> Result<Option<OutboxMessage>, MailError> {
        Ok(self.storage.mail(id).await?)
    }

    /// The messages sent on `owner`'s behalf (pending, sent or failed), newest first.
    pub async fn messages_of(&self, owner: UserId) -> Result<Vec<OutboxMessage>, MailError> {
        Ok(self.storage.mail_of(owner).await?)
    }

    /// Starts the delivery worker, which runs until `stop` is cancelled; `None` when mail
    /// is off.
    pub fn spawn_worker(&self, stop: CancellationToken) -> Option<JoinHandle<()>> {
        let sender = Arc::clone(self.sender.as_ref()?);
        let worker = worker::Worker {
            storage: self.storage.clone(),
            sender,
            backoff: self.backoff,
            wake: Arc::clone(&self.wake),
            stop,
        };
        Some(tokio::spawn(worker.run()))
    }
}

impl std::fmt::Debug for Mailer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Mailer")
            .field("status", &self.status())
            .finish_non_exhaustive()
    }
}
