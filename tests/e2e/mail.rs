//! Outgoing mail through the real SMTP sink: a queued message arrives; with the mail
//! server down nothing blocks and the message waits, counting its attempts; a restarted
//! server delivers it from the queue on disk. Without `[smtp]`, mail is off.

use std::time::{Duration, Instant};

use casevault_server::AppState;
use casevault_server::mail::{MailError, MailId, MailStatus, MailerStatus, Message, OutboxMessage};
use casevault_storage::UserId;
use casevault_tests::mail_sink::{self, TEST_FROM, smtp_settings, unique};
use casevault_tests::{spawn_app_in_with_state, spawn_app_with_state};

const ARRIVAL: Duration = Duration::from_secs(20);

/// Polls the queue until `done` holds for the message; panics after `timeout`.
async fn wait_for_state(
    state: &AppState,
    id: MailId,
    timeout: Duration,
    done: impl Fn(&OutboxMessage) -> bool,
) -> OutboxMessage {
    let started = Instant::now();
    loop {
        let message = state
            .mail
            .message(id)
            .await
            .expect("read the queue")
            .expect("the message is queued");
        if done(&message) {
            return message;
        }
        assert!(started.elapsed() < timeout, "gave up waiting: {message:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn without_an_smtp_section_mail_is_off_and_nothing_is_queued() {
    let (_app, state) = spawn_app_with_state(|_| {}).await;
    assert_eq!(state.mail.status(), MailerStatus::Off);
    assert_eq!(state.mail.status().as_str(), "off");
    let owner = UserId::random();
    let message = Message::new("a@example.org", "Files", "text")
        .expect("valid")
        .about(owner, None);
    let refused = state.mail.enqueue(message).await;
    assert!(matches!(refused, Err(MailError::Off)), "{refused:?}");
    assert!(
        state
            .mail
            .messages_of(owner)
            .await
            .expect("list")
            .is_empty()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_queued_message_arrives_at_the_smtp_server() {
    let Some(sink) = mail_sink::smtp_sink() else {
        return;
    };
    let (_app, state) = spawn_app_with_state(|s| s.smtp = Some(sink.settings())).await;
    assert_eq!(state.mail.status(), MailerStatus::On);
    let subject = unique("arrives");
    let owner = UserId::random();
    let message = Message::new(
        "Dr Lee <dr.lee@example-lab.org>",
        subject.as_str(),
        "Hello Dr Lee,\nthe scans for case 12 are ready.\n",
    )
    .expect("valid")
    .about(owner, None);
    let id = state.mail.enqueue(message).await.expect("enqueue");

    let received = sink.wait_for_subject(&subject, ARRIVAL).await;
    assert_eq!(received.header("From").as_deref(), Some(TEST_FROM));
    let to = received.header("To").expect("a To header");
    assert!(to.contains("dr.lee@example-lab.org"), "{to}");
    let message_id = received.header("Message-ID").expect("a Message-ID");
    assert_eq!(message_id, format!("<{id}@casevault.test>"));
    assert!(
        received
            .header("Content-Type")
            .is_some_and(|c| c.starts_with("text/plain")),
        "{}",
        received.raw
    );
    assert!(
        received.body().contains("the scans for case 12 are ready."),
        "{}",
        received.raw
    );

    let sent = wait_for_state(&state, id, ARRIVAL, |m| m.status == MailStatus::Sent).await;
    assert_eq!(sent.attempts, 0);
    assert_eq!(sent.body_text, "", "a sent message's body is not kept");
    let mine = state.mail.messages_of(owner).await.expect("list");
    assert_eq!(mine.len(), 1);
    assert_eq!(mine[0].subject, subject);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_down_mail_server_loses_nothing_and_blocks_nothing() {
    let down = smtp_settings("127.0.0.1", mail_sink::closed_port());
    let (app, state) = spawn_app_with_state(|s| s.smtp = Some(down)).await;
    let subject = unique("delayed");
    let recipient = format!("{}@example-lab.org", unique("patient"));
    let message =
        Message::new(&recipient, subject.as_str(), "Your files are ready.\n").expect("valid");

    let started = Instant::now();
    let id = state.mail.enqueue(message).await.expect("enqueue");
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "enqueue waited for SMTP"
    );
    assert_eq!(app.get("/api/v1/health").await.status(), 200);

    // Attempts are counted and the error kept; the message stays pending.
    let waiting = wait_for_state(&state, id, ARRIVAL, |m| m.attempts >= 2).await;
    assert_eq!(waiting.status, MailStatus::Pending);
    assert!(
        waiting.last_error.as_deref().is_some_and(|e| !e.is_empty()),
        "{waiting:?}"
    );
    assert!(waiting.body_text.contains("Your files are ready."));
    assert_eq!(app.get("/api/v1/health").await.status(), 200);

    // Nothing about the message is readable on disk.
    for needle in [&subject, &recipient] {
        let found = casevault_tests::mail_sink::find_in_files(app.data_dir.path(), needle);
        assert_eq!(found, None, "{needle} found on disk");
    }

    let Some(sink) = mail_sink::smtp_sink() else {
        return;
    };
    drop(state);
    let data_dir = app.stop().await;
    let (_app, state) = spawn_app_in_with_state(data_dir, |s| s.smtp = Some(sink.settings())).await;
    let received = sink.wait_for_subject(&subject, ARRIVAL).await;
    assert!(
        received
            .header("To")
            .is_some_and(|to| to.contains(&recipient))
    );
    let sent = wait_for_state(&state, id, ARRIVAL, |m| m.status == MailStatus::Sent).await;
    assert!(
        sent.attempts >= 2,
        "earlier attempts stay counted: {sent:?}"
    );
    assert_eq!(sink.with_subject(&subject).len(), 1, "delivered once");
}
