//! The e-mails around shares: the link and its password in two separate messages, the
//! colleague's notice, the owner's notices (files dropped, link locked) and the dropper's
//! receipt.
//!
//! Mail leaves the server in plaintext, so no message carries patient data: no patient
//! reference, no file or folder name, no note (the recipient reads the note on the link's
//! page, after the password). A link's message never holds its password.

use casevault_storage::{GrantId, GrantRecord, UserId};
use serde::Serialize;
use utoipa::ToSchema;

use crate::mail::{MailError, Message};
use crate::state::AppState;

/// What became of the e-mails of a new share.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum MailOutcome {
    /// Queued for delivery.
    Queued,
    /// The server sends no mail: pass the link (and password) on yourself.
    Off,
    /// No recipient address was given.
    NoRecipient,
}

/// The two messages of a new link: the link, then the password (when there is one).
pub fn link_messages(
    to: &str,
    sender: &str,
    link: &str,
    password: Option<&str>,
    expires: &str,
) -> Result<Vec<Message>, MailError> {
    let mut messages = vec![Message::new(
        to,
        format!("{sender} shared files with you"),
        format!(
            "Hello,\n\n{sender} shared files with you through casevault.\n\n\
             Open this link to see them: {link}\n\n\
             {}The link works until {expires}. A note from the sender, if any, is shown on the \
             page.\n\nIf you did not expect this message, you can ignore it.\n",
            if password.is_some() {
                "The password comes in a separate message.\n\n"
            } else {
                ""
            }
        ),
    )?];
    if let Some(password) = password {
        messages.push(Message::new(
            to,
            format!("The password for the files {sender} shared"),
            format!(
                "Hello,\n\nthe password for the link {sender} sent you in another message \
                 is:\n\n    {password}\n\nKeep it to yourself.\n"
            ),
        )?);
    }
    Ok(messages)
}

/// Queues `messages` for the share `grant` of `owner`: [`MailOutcome::Off`] when mail is off.
pub async fn send(
    state: &AppState,
    owner: UserId,
    grant: GrantId,
    messages: Vec<Message>,
) -> Result<MailOutcome, MailError> {
    if messages.is_empty() {
        return Ok(MailOutcome::NoRecipient);
    }
    for message in messages {
        match state.mail.enqueue(message.about(owner, Some(grant))).await {
            Ok(_) => {}
            Err(MailError::Off) => return Ok(MailOutcome::Off),
            Err(err) => return Err(err),
        }
    }
    Ok(MailOutcome::Queued)
}

/// Tells a colleague something was shared with them.
pub fn colleague_message(to: &str, sender: &str, url: &str) -> Result<Message, MailError> {
    Message::new(
        to,
        format!("{sender} shared a case with you"),
        format!(
            "Hello,\n\n{sender} shared a case with you on casevault. You find it under \
             \"Shared with me\" after signing in: {url}\n"
        ),
    )
}

/// Tells an owner, once per drop session, that files were dropped through a share.
pub async fn files_dropped(state: &AppState, owner: UserId, grant: GrantId, count: usize) {
    let text = format!(
        "Hello,\n\n{count} file(s) were uploaded through one of your drop links. They are in \
         the case the link belongs to: {}\n",
        state.public_url
    );
    notify_owner(
        state,
        Notice::Drops,
        owner,
        grant,
        "Files were dropped for you",
        text,
    )
    .await;
}

/// Tells an owner, once per link session, that a recipient downloaded through one of their
/// links (only when they asked for it in their preferences).
pub async fn files_downloaded(state: &AppState, owner: UserId, grant: GrantId) {
    let text = format!(
        "Hello,\n\na recipient downloaded files through one of your share links. The case's \
         history shows what and when: {}\n",
        state.public_url
    );
    notify_owner(
        state,
        Notice::Downloads,
        owner,
        grant,
        "Your shared files were downloaded",
        text,
    )
    .await;
}

/// Tells an owner one of their links locked after too many wrong passwords.
pub async fn link_locked(state: &AppState, owner: UserId, grant: GrantId) {
    let text = format!(
        "Hello,\n\none of your share links was locked after too many wrong passwords. Nobody \
         can open it until you unlock it under \"All shares\": {}\n",
        state.public_url
    );
    notify_owner(
        state,
        Notice::Security,
        owner,
        grant,
        "A share link was locked",
        text,
    )
    .await;
}

/// Reminds an owner that a share expires soon.
pub async fn expiry_owner(state: &AppState, grant: &GrantRecord, expires: &str) {
    let text = format!(
        "Hello,\n\none of your shares expires on {expires}. To keep it, extend it under \"All \
         shares\": {}\n",
        state.public_url
    );
    notify_owner(
        state,
        Notice::Expiry,
        grant.owner,
        grant.id,
        "A share expires soon",
        text,
    )
    .await;
}

/// Reminds a link's recipient that it expires soon.
pub async fn expiry_recipient(state: &AppState, grant: &GrantRecord, to: &str, expires: &str) {
    let text = format!(
        "Hello,\n\nthe link to the files shared with you works until {expires}. Use it before \
         then; the sender can send a new one later.\n"
    );
    match Message::new(to, "A link shared with you expires soon", text) {
        Ok(message) => queue_or_log(state, message.about(grant.owner, Some(grant.id))).await,
        Err(err) => tracing::info!(grant = %grant.id, error = %err, "no reminder sent"),
    }
}

/// Sends a dropper the receipt of what they uploaded (names they gave, sizes, checksums).
pub async fn receipt(state: &AppState, owner: UserId, grant: GrantId, to: &str, lines: &[String]) {
    let text = format!(
        "Hello,\n\nyour upload was received:\n\n{}\n\nThank you.\n",
        lines.join("\n")
    );
    match Message::new(to, "Your upload was received", text) {
        Ok(message) => queue_or_log(state, message.about(owner, Some(grant))).await,
        Err(err) => tracing::info!(%grant, error = %err, "no receipt sent"),
    }
}

/// What an owner is told about, as their notification preferences name it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Notice {
    Drops,
    Downloads,
    Expiry,
    /// Always sent: the owner must know when a link is under attack.
    Security,
}

async fn notify_owner(
    state: &AppState,
    notice: Notice,
    owner: UserId,
    grant: GrantId,
    subject: &str,
    text: String,
) {
    let meta = state.storage.meta();
    if notice != Notice::Security {
        let wanted = match meta.preferences(owner).await {
            Ok(prefs) => match notice {
                Notice::Drops => prefs.notify.drops,
                Notice::Downloads => prefs.notify.downloads,
                Notice::Expiry => prefs.notify.expiry,
                Notice::Security => true,
            },
            Err(err) => {
                tracing::warn!(%grant, error = %err, "notification preferences unreadable");
                true
            }
        };
        if !wanted {
            return;
        }
    }
    let email = match meta.user(owner).await {
        Ok(Some(user)) => user.email,
        _ => return,
    };
    match Message::new(&email, subject, text) {
        Ok(message) => queue_or_log(state, message.about(owner, Some(grant))).await,
        Err(err) => tracing::warn!(%grant, error = %err, "an owner notice could not be written"),
    }
}

async fn queue_or_log(state: &AppState, message: Message) {
    match state.mail.enqueue(message).await {
        Ok(_) | Err(MailError::Off) => {}
        Err(err) => tracing::warn!(error = %err, "a notice could not be queued"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_password_never_travels_with_the_link() {
        let messages = link_messages(
            "patient@example.org",
            "Dr Lee",
            "https://files.example/s/TOKEN",
            Some("abcde-fghij-kmnpq-rstuv"),
            "2026-12-01 10:00 UTC",
        )
        .expect("valid messages");
        assert_eq!(messages.len(), 2);
        assert!(messages[0].text().contains("https://files.example/s/TOKEN"));
        assert!(!messages[0].text().contains("abcde-fghij"));
        assert!(messages[1].text().contains("abcde-fghij-kmnpq-rstuv"));
        assert!(!messages[1].text().contains("TOKEN"));
        let without =
            link_messages("p@example.org", "Dr Lee", "https://x/s/T", None, "soon").expect("valid");
        assert_eq!(without.len(), 1);
        assert!(link_messages("not an address", "Dr", "l", None, "soon").is_err());
    }
}
