//! The SMTP side: a lettre transport built from the `[smtp]` settings, and the sending of
//! one queued message through it.

use casevault_storage::{Backoff, OutboxMessage};
use lettre::message::Mailbox;
use lettre::message::header::ContentType;
use lettre::transport::smtp::authentication::Credentials;
use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};

use super::MailError;
use crate::config::{SmtpSettings, SmtpTls};

/// A connection recipe for the SMTP server and the sender address. Each message opens its
/// own connection (no pool: mail is rare, and a broken connection cannot linger).
pub(super) struct Sender {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
    /// `host:port`, for logs.
    pub(super) server: String,
}

/// Why one delivery attempt failed: the full text (kept, sealed, for the message's owner)
/// and a summary without addresses (for the log).
pub(super) struct SendError {
    pub(super) detail: String,
    pub(super) summary: String,
}

impl Sender {
    /// Builds the transport. Nothing is connected yet.
    pub(super) fn new(settings: &SmtpSettings) -> Result<Sender, MailError> {
        let from: Mailbox = settings
            .from
            .parse()
            .map_err(|err| MailError::Setup(format!("smtp.from: {err}")))?;
        let host = settings.host.as_str();
        let builder = match settings.tls {
            SmtpTls::None => AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(host),
            SmtpTls::Starttls => AsyncSmtpTransport::<Tokio1Executor>::starttls_relay(host)
                .map_err(|err| MailError::Setup(format!("smtp TLS for {host}: {err}")))?,
            SmtpTls::Tls => AsyncSmtpTransport::<Tokio1Executor>::relay(host)
                .map_err(|err| MailError::Setup(format!("smtp TLS for {host}: {err}")))?,
        };
        let mut builder = builder.port(settings.port).timeout(Some(settings.timeout));
        if let (Some(user), Some(password)) = (&settings.username, &settings.password) {
            builder =
                builder.credentials(Credentials::new(user.clone(), password.expose().to_owned()));
        }
        Ok(Sender {
            transport: builder.build(),
            from,
            server: format!("{host}:{}", settings.port),
        })
    }

    /// Sends one queued message.
    pub(super) async fn send(&self, message: &OutboxMessage) -> Result<(), SendError> {
        let to: Mailbox = message.to.parse().map_err(|err| SendError {
            detail: format!("invalid recipient address: {err}"),
            summary: "invalid recipient address".into(),
        })?;
        // The same id at every attempt: a message sent twice (a crash between sending and
        // recording it) is recognisably one message.
        let message_id = format!("<{}@{}>", message.id, self.from.email.domain());
        let email = lettre::Message::builder()
            .message_id(Some(message_id))
            .from(self.from.clone())
            .to(to)
            .subject(message.subject.as_str())
            .header(ContentType::TEXT_PLAIN)
            .body(message.body_text.clone())
            .map_err(|err| SendError {
                detail: format!("cannot build the message: {err}"),
                summary: "cannot build the message".into(),
            })?;
        self.transport
            .send(email)
            .await
            .map(drop)
            .map_err(|err| SendError {
                summary: summary(&err),
                detail: err.to_string(),
            })
    }
}

/// What kind of failure it was, without the server's text (which may quote addresses).
fn summary(err: &lettre::transport::smtp::Error) -> String {
    if let Some(code) = err.status() {
        let kind = if err.is_permanent() {
            "permanent"
        } else {
            "transient"
        };
        return format!("rejected by the server ({kind}, code {code})");
    }
    let kind = if err.is_timeout() {
        "timed out"
    } else if err.is_tls() {
        "TLS error"
    } else if err.is_response() {
        "unreadable response"
    } else if err.is_client() {
        "client error"
    } else {
        "connection failed"
    };
    kind.to_owned()
}

/// The retry schedule from the settings.
pub(super) fn backoff(settings: &SmtpSettings) -> Backoff {
    Backoff {
        first: settings.retry_initial,
        max: settings.retry_max,
        give_up_after: settings.give_up_after,
        ..Backoff::default()
    }
}
