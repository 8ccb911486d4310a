//! [`Message`]: a plain-text mail to queue, checked when it is built so that the queue only
//! holds what the SMTP client can send.

use std::fmt;

use casevault_storage::{GrantId, UserId};
use lettre::message::Mailbox;

use super::MailError;

/// Longest subject accepted, in characters.
pub const MAX_SUBJECT_CHARS: usize = 200;

/// A plain-text message: recipient, subject, text, and what it is about.
///
/// ```
/// # use casevault_server::mail::Message;
/// let message = Message::new("dr.lee@example-lab.org", "Files for case 12", "Hello…")?
///     .about(casevault_storage::UserId::random(), None);
/// assert_eq!(message.to(), "dr.lee@example-lab.org");
/// # Ok::<(), casevault_server::mail::MailError>(())
/// ```
#[derive(Clone)]
pub struct Message {
    to: String,
    subject: String,
    text: String,
    about: Option<(UserId, Option<GrantId>)>,
}

impl Message {
    /// A message to `to` (an address, optionally with a name: `Dr Lee <lee@example.org>`).
    /// Refuses an address that is not valid and a subject that is empty, longer than
    /// [`MAX_SUBJECT_CHARS`] or not one line.
    pub fn new(
        to: &str,
        subject: impl Into<String>,
        text: impl Into<String>,
    ) -> Result<Message, MailError> {
        let to: Mailbox = to.trim().parse().map_err(|_| MailError::InvalidAddress)?;
        let subject = subject.into().trim().to_owned();
        if subject.is_empty()
            || subject.chars().count() > MAX_SUBJECT_CHARS
            || subject.chars().any(char::is_control)
        {
            return Err(MailError::InvalidSubject);
        }
        Ok(Message {
            to: to.to_string(),
            subject,
            text: text.into(),
            about: None,
        })
    }

    /// Records the user the message is sent for and the share grant it is about, so the
    /// user can see whether it was delivered.
    pub fn about(mut self, owner: UserId, grant: Option<GrantId>) -> Message {
        self.about = Some((owner, grant));
        self
    }

    /// The recipient, as it will be addressed.
    pub fn to(&self) -> &str {
        &self.to
    }

    /// The subject.
    pub fn subject(&self) -> &str {
        &self.subject
    }

    /// The plain-text body.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// The user and grant it is about.
    pub fn about_ids(&self) -> Option<(UserId, Option<GrantId>)> {
        self.about
    }

    /// Into the storage layer's form.
    pub(super) fn into_new_mail(self) -> casevault_storage::NewMail {
        casevault_storage::NewMail {
            to: self.to,
            subject: self.subject,
            body_text: self.text,
            about: self.about,
        }
    }
}

impl fmt::Debug for Message {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Message")
            .field("about", &self.about)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_are_checked() {
        for good in ["a@example.org", " Dr Lee <lee@example.org> "] {
            assert!(Message::new(good, "s", "t").is_ok(), "{good}");
        }
        for bad in [
            "",
            "nobody",
            "a@",
            "a@b@c",
            "a@example.org\r\nBcc: x@example.org",
        ] {
            assert!(
                matches!(Message::new(bad, "s", "t"), Err(MailError::InvalidAddress)),
                "{bad:?}"
            );
        }
        let named = Message::new("Dr Lee <lee@example.org>", "s", "t").expect("valid");
        assert_eq!(named.to(), "Dr Lee <lee@example.org>");
    }

    #[test]
    fn subjects_are_one_short_line() {
        let long = "x".repeat(MAX_SUBJECT_CHARS + 1);
        for bad in ["", "  ", "two\nlines", "bcc\r\nBcc: x", long.as_str()] {
            assert!(
                matches!(
                    Message::new("a@example.org", bad, "t"),
                    Err(MailError::InvalidSubject)
                ),
                "{bad:?}"
            );
        }
        let m = Message::new("a@example.org", " Files ready ", "t").expect("valid");
        assert_eq!(m.subject(), "Files ready");
    }

    #[test]
    fn debug_leaves_out_the_content() {
        let m = Message::new("secret@example.org", "Secret subject", "secret body").expect("valid");
        let shown = format!("{m:?}");
        assert!(!shown.contains("secret"), "{shown}");
    }
}
