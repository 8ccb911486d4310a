//! The outgoing mail queue: scheduling, attempts, giving up, owners, pruning, restarts,
//! sealing and master key rotation.

use std::time::Duration;

use casevault_crypto::Keyring;
use casevault_storage::{Backoff, GrantId, MailStatus, NewMail, Storage, Timestamp, UserId};

use crate::support::{Backend, TestStorage, occurs_under};

fn mail(to: &str, subject: &str, about: Option<(UserId, Option<GrantId>)>) -> NewMail {
    NewMail {
        to: to.into(),
        subject: subject.into(),
        body_text: format!("Your files are ready: https://example.org/s/{subject}\n"),
        about,
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn attempts_are_scheduled_counted_and_given_up() {
    let t = TestStorage::open(Backend::Local).await;
    let s = &t.storage;
    let grant = GrantId::random();
    let queued = s
        .enqueue_mail(mail(
            "dr.who@example.org",
            "s1",
            Some((t.owner, Some(grant))),
        ))
        .await
        .expect("enqueue");
    assert_eq!(queued.status, MailStatus::Pending);
    assert_eq!(queued.attempts, 0);

    let now = Timestamp::now();
    let due = s.due_mail(now, 10).await.expect("due");
    assert_eq!(due.len(), 1);
    assert_eq!(due[0].to, "dr.who@example.org");
    assert_eq!(due[0].subject, "s1");
    assert!(due[0].body_text.contains("/s/s1"));
    assert_eq!(
        s.next_mail_due().await.expect("next"),
        Some(queued.created_at)
    );

    // A failure moves it out of the due window until its next attempt.
    let backoff = Backoff::default();
    let next = backoff.next_attempt(queued.created_at, 1, now);
    assert_eq!(next, Some(now.plus(Duration::from_secs(30))));
    let status = s
        .mark_mail_failed(queued.id, "connection refused", next)
        .await
        .expect("mark failed");
    assert_eq!(status, MailStatus::Pending);
    assert!(s.due_mail(now, 10).await.expect("due").is_empty());
    assert_eq!(s.next_mail_due().await.expect("next"), next);
    let later = s.due_mail(now.plus(Duration::from_secs(31)), 10).await;
    let later = later.expect("due later");
    assert_eq!(later.len(), 1);
    assert_eq!(later[0].attempts, 1);
    assert_eq!(later[0].last_error.as_deref(), Some("connection refused"));

    // Giving up keeps the message, with its error, for the owner to see.
    let status = s
        .mark_mail_failed(queued.id, "still refused", None)
        .await
        .expect("give up");
    assert_eq!(status, MailStatus::Failed);
    assert!(
        s.due_mail(Timestamp(i64::MAX), 10)
            .await
            .expect("due")
            .is_empty()
    );
    assert_eq!(s.next_mail_due().await.expect("next"), None);
    let mine = s.mail_of(t.owner).await.expect("mail of owner");
    assert_eq!(mine.len(), 1);
    assert_eq!(mine[0].status, MailStatus::Failed);
    assert_eq!(mine[0].attempts, 2);
    assert_eq!(mine[0].about, Some((t.owner, Some(grant))));
    assert_eq!(mine[0].last_error.as_deref(), Some("still refused"));
    assert!(mine[0].finished_at.is_some());
    assert!(s.mail_of(UserId::random()).await.expect("other").is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn due_lists_the_earliest_first_within_the_limit() {
    let t = TestStorage::open(Backend::Local).await;
    let s = &t.storage;
    let mut ids = Vec::new();
    for n in 0..5 {
        let m = s
            .enqueue_mail(mail("a@example.org", &format!("m{n}"), None))
            .await
            .expect("enqueue");
        ids.push(m.id);
        tokio::time::sleep(Duration::from_millis(3)).await;
    }
    // Push the first one back: it comes last.
    let far = Timestamp::now().plus(Duration::from_secs(60));
    s.mark_mail_failed(ids[0], "421 try later", Some(far))
        .await
        .expect("fail");
    let due = s.due_mail(Timestamp::now(), 3).await.expect("due");
    let subjects: Vec<&str> = due.iter().map(|m| m.subject.as_str()).collect();
    assert_eq!(subjects, ["m1", "m2", "m3"]);
    let all = s.due_mail(far, 10).await.expect("all");
    assert_eq!(all.last().map(|m| m.id), Some(ids[0]));
}

#[tokio::test(flavor = "multi_thread")]
async fn sent_mail_drops_its_body_and_is_pruned_later() {
    let t = TestStorage::open(Backend::Local).await;
    let s = &t.storage;
    let sent = s
        .enqueue_mail(mail("a@example.org", "sent", Some((t.owner, None))))
        .await
        .expect("enqueue");
    let failed = s
        .enqueue_mail(mail("b@example.org", "failed", Some((t.owner, None))))
        .await
        .expect("enqueue");
    let pending = s
        .enqueue_mail(mail("c@example.org", "pending", Some((t.owner, None))))
        .await
        .expect("enqueue");
    s.mark_mail_sent(sent.id).await.expect("sent");
    s.mark_mail_failed(failed.id, "550 no such user", None)
        .await
        .expect("failed");
    let opened = s.mail(sent.id).await.expect("get").expect("kept");
    assert_eq!(opened.status, MailStatus::Sent);
    assert_eq!(opened.body_text, "", "the body is dropped once sent");
    assert_eq!(opened.to, "a@example.org");

    let week = Duration::from_secs(7 * 24 * 3600);
    assert_eq!(s.prune_mail(week, week).await.expect("prune"), 0);
    tokio::time::sleep(Duration::from_millis(5)).await;
    assert_eq!(
        s.prune_mail(Duration::ZERO, week).await.expect("prune"),
        1,
        "only the sent one"
    );
    assert!(s.mail(sent.id).await.expect("get").is_none());
    assert_eq!(
        s.prune_mail(Duration::ZERO, Duration::ZERO)
            .await
            .expect("prune"),
        1
    );
    let left = s.mail_of(t.owner).await.expect("mail of owner");
    assert_eq!(left.len(), 1, "pending mail is never pruned");
    assert_eq!(left[0].id, pending.id);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_queue_survives_a_restart_and_holds_no_plaintext() {
    let t = TestStorage::open(Backend::Local).await;
    let to = "patient.7f3a9c@example-mail.org";
    let subject = "Subject-4b1e2d-implant";
    let queued = t
        .storage
        .enqueue_mail(NewMail {
            to: to.into(),
            subject: subject.into(),
            body_text: "password: Body-9d8c7b-secret".into(),
            about: None,
        })
        .await
        .expect("enqueue");
    t.storage
        .mark_mail_failed(
            queued.id,
            &format!("550 <{to}> rejected"),
            Some(Timestamp(0)),
        )
        .await
        .expect("fail");
    t.storage.meta().flush().await.expect("flush");
    let t = t.reopen().await;
    for needle in [to, subject, "Body-9d8c7b"] {
        assert_eq!(
            occurs_under(t.dir.path(), needle.as_bytes()),
            None,
            "{needle}"
        );
    }
    let due = t.storage.due_mail(Timestamp::now(), 10).await.expect("due");
    assert_eq!(due.len(), 1);
    assert_eq!(due[0].to, to);
    assert_eq!(due[0].body_text, "password: Body-9d8c7b-secret");
    assert_eq!(due[0].attempts, 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn rotation_rewraps_the_outbox_key_and_keeps_mail_readable() {
    let t = TestStorage::open(Backend::Local).await;
    let key_file = t.dir.path().join("master.key");
    t.keyring.save(&key_file).expect("save keyring");
    let queued = t
        .storage
        .enqueue_mail(mail("a@example.org", "rotate", None))
        .await
        .expect("enqueue");
    t.storage
        .rotate_master_key(Some(&key_file))
        .await
        .expect("rotate");
    let ids = t.storage.master_key_ids().expect("ids");
    assert_eq!(ids.len(), 1, "the old master key is retired");
    let config = t.config.clone();
    drop(t.storage);
    let keyring = Keyring::load_or_create(&key_file).expect("load the rotated key file");
    let storage = Storage::open(config, keyring).await.expect("reopen");
    let opened = storage.mail(queued.id).await.expect("open").expect("kept");
    assert_eq!(opened.subject, "rotate");
}
