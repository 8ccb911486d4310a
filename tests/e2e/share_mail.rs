//! Shares and e-mail, through the real SMTP server: the patient's journey from the two
//! messages to a used-up link, the owner's single notice for a drop session with the
//! dropper's receipt, the colleague's notice, and a share made while mail is off.

use std::time::Duration;

use casevault_tests::mail_sink::{self, unique};
use casevault_tests::{Backend, Practice, expect_error, expect_json, id_of};
use reqwest::Method;
use serde_json::{Value, json};

const WAIT: Duration = Duration::from_secs(60);

/// Waits for the message with `subject` sent to `to`.
async fn wait_for(sink: &mail_sink::SmtpSink, subject: &str, to: &str) -> mail_sink::ReceivedMail {
    let started = std::time::Instant::now();
    loop {
        let found = sink
            .with_subject(subject)
            .into_iter()
            .find(|m| m.header("To").as_deref() == Some(to));
        if let Some(mail) = found {
            return mail;
        }
        assert!(started.elapsed() < WAIT, "no {subject:?} for {to}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A client of its own, holding a recipient session.
async fn open_link(
    practice: &Practice,
    link: &str,
    form: Value,
) -> (reqwest::Client, String, String) {
    let client = casevault_tests::client_builder(&practice.app.cert_pem)
        .build()
        .expect("a client");
    let token = link.rsplit('/').next().expect("a token");
    let response = client
        .post(practice.app.url(&format!("/api/v1/links/{token}/session")))
        .json(&form)
        .send()
        .await
        .expect("unlock");
    let cookie = response.headers()["set-cookie"]
        .to_str()
        .expect("ASCII")
        .split(';')
        .next()
        .expect("a cookie")
        .to_owned();
    let body = expect_json(response, 201).await;
    let csrf = body["csrf_token"]
        .as_str()
        .expect("a CSRF token")
        .to_owned();
    (client, cookie, csrf)
}

#[tokio::test(flavor = "multi_thread")]
async fn a_patient_gets_two_messages_downloads_once_and_the_link_is_used_up() {
    let Some(sink) = mail_sink::smtp_sink() else {
        return;
    };
    let practice = Practice::spawn_with(Backend::Local, |s| s.smtp = Some(sink.settings()))
        .await
        .expect("local");
    let name = unique("DrLee");
    let dr = practice.user(&name).await;
    let case = practice.new_case(&dr).await;
    let bytes: Vec<u8> = (0..150_000u32).map(|i| (i % 253) as u8).collect();
    let file = id_of(
        &practice
            .upload(&dr, &case, "Befund Müller.pdf", &bytes)
            .await,
    );
    let patient = format!("{}@example.org", unique("patient"));
    let response = practice
        .send(
            &dr,
            Method::POST,
            "/api/v1/grants",
            Some(
                json!({ "case": case, "file": file, "role": "read", "download_limit": 1,
                         "recipient_email": patient, "note": "Müller results" }),
            ),
        )
        .await;
    let created = expect_json(response, 201).await;
    assert_eq!(created["mail"], "queued");
    let link = created["link"].as_str().expect("a link").to_owned();
    let password = created["password"].as_str().expect("a password").to_owned();

    let link_mail = sink
        .wait_for_subject(&format!("{name} shared files with you"), WAIT)
        .await;
    let password_mail = sink
        .wait_for_subject(&format!("The password for the files {name} shared"), WAIT)
        .await;
    for mail in [&link_mail, &password_mail] {
        assert_eq!(mail.header("To").as_deref(), Some(patient.as_str()));
        let text = mail.text();
        assert!(
            !text.contains("Müller") && !text.contains("Befund"),
            "no patient data"
        );
    }
    assert!(
        link_mail.text().contains(&link),
        "the link is in the first message"
    );
    assert!(
        !link_mail.text().contains(&password),
        "never the password with the link"
    );
    assert!(password_mail.text().contains(&password));
    assert!(!password_mail.text().contains(&link));

    let mailed_link = link_mail
        .text()
        .split_whitespace()
        .find(|w| w.contains("/s/"))
        .expect("a link in the message")
        .to_owned();
    let (client, cookie, _) =
        open_link(&practice, &mailed_link, json!({ "password": password })).await;
    let path = practice
        .app
        .url(&format!("/api/v1/link/files/{file}/content"));
    let response = client
        .get(&path)
        .header("cookie", &cookie)
        .send()
        .await
        .expect("GET");
    assert_eq!(response.status(), 200);
    assert_eq!(response.bytes().await.expect("bytes").as_ref(), bytes);
    let again = client
        .get(&path)
        .header("cookie", &cookie)
        .send()
        .await
        .expect("GET");
    assert_eq!(expect_error(again, 404).await, "link_unavailable");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_drop_session_tells_the_owner_once_and_the_dropper_gets_a_receipt() {
    let Some(sink) = mail_sink::smtp_sink() else {
        return;
    };
    let practice = Practice::spawn_with(Backend::Local, |s| s.smtp = Some(sink.settings()))
        .await
        .expect("local");
    let dr = practice.user(&unique("dr")).await;
    let case = practice.new_case(&dr).await;
    let created = practice
        .send(
            &dr,
            Method::POST,
            "/api/v1/grants",
            Some(json!({ "case": case, "role": "drop" })),
        )
        .await;
    let created = expect_json(created, 201).await;
    assert_eq!(created["mail"], "no_recipient");
    let lab = format!("{}@example.org", unique("lab"));
    let (client, cookie, csrf) = open_link(
        &practice,
        created["link"].as_str().expect("a link"),
        json!({ "password": created["password"], "name": "Lab", "email": lab }),
    )
    .await;
    for name in ["a.stl", "b.stl", "c.stl"] {
        let response = client
            .post(practice.app.url("/api/v1/link/files"))
            .header("cookie", &cookie)
            .header("x-csrf-token", &csrf)
            .header("x-file-name", name)
            .body(format!("solid {name}"))
            .send()
            .await
            .expect("upload");
        assert_eq!(response.status(), 201);
    }
    let receipt = client
        .post(practice.app.url("/api/v1/link/receipt"))
        .header("cookie", &cookie)
        .header("x-csrf-token", &csrf)
        .send()
        .await
        .expect("receipt");
    assert_eq!(
        expect_json(receipt, 200).await["files"]
            .as_array()
            .map(Vec::len),
        Some(3)
    );
    let notice = wait_for(&sink, "Files were dropped for you", &dr.email).await;
    assert!(notice.text().contains("3 file(s)"));
    let mailed = wait_for(&sink, "Your upload was received", &lab).await;
    assert!(!mailed.text().contains("a.stl"), "names stay on the page");
    // Asking for the receipt again does not tell the owner twice.
    let again = client
        .post(practice.app.url("/api/v1/link/receipt"))
        .header("cookie", &cookie)
        .header("x-csrf-token", &csrf)
        .send()
        .await
        .expect("receipt");
    assert_eq!(again.status(), 200);
    tokio::time::sleep(Duration::from_millis(500)).await;
    let notices = sink
        .messages()
        .into_iter()
        .filter(|m| m.header("To").as_deref() == Some(dr.email.as_str()))
        .count();
    assert_eq!(notices, 1, "one notice per drop session");
}

#[tokio::test(flavor = "multi_thread")]
async fn with_mail_off_the_owner_passes_the_link_on() {
    let practice = Practice::spawn().await;
    let dr = practice.user("dr").await;
    let case = practice.new_case(&dr).await;
    let response = practice
        .send(
            &dr,
            Method::POST,
            "/api/v1/grants",
            Some(json!({ "case": case, "role": "read", "recipient_email": "p@example.org" })),
        )
        .await;
    let created = expect_json(response, 201).await;
    assert_eq!(created["mail"], "off");
    assert!(created["link"].as_str().is_some_and(|l| l.contains("/s/")));
    assert!(created["password"].as_str().is_some());
    let bad = practice
        .send(
            &dr,
            Method::POST,
            "/api/v1/grants",
            Some(json!({ "case": case, "role": "read", "recipient_email": "not an address" })),
        )
        .await;
    assert_eq!(expect_error(bad, 400).await, "bad_request");
    let list = practice
        .send(&dr, Method::GET, "/api/v1/grants", None)
        .await;
    assert_eq!(
        expect_json(list, 200).await["grants"]
            .as_array()
            .map(Vec::len),
        Some(1)
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn owner_and_recipient_are_reminded_once_before_a_link_expires() {
    let Some(sink) = mail_sink::smtp_sink() else {
        return;
    };
    let practice = Practice::spawn_with(Backend::Local, |s| {
        s.smtp = Some(sink.settings());
        s.shares.reminder_before = Duration::from_secs(3600);
    })
    .await
    .expect("local");
    let dr = practice.user(&unique("dr")).await;
    let case = practice.new_case(&dr).await;
    let patient = format!("{}@example.org", unique("patient"));
    let now = casevault_server::admin::storage::Timestamp::now().0;
    let response = practice
        .send(
            &dr,
            Method::POST,
            "/api/v1/grants",
            Some(
                json!({ "case": case, "role": "read", "recipient_email": patient,
                         "expires_at": now + 2 * 3_600_000 }),
            ),
        )
        .await;
    expect_json(response, 201).await;
    let reminders = casevault_server::links::reminders::send_due;
    let soon = casevault_server::admin::storage::Timestamp(now + 90 * 60_000);
    assert_eq!(
        reminders(
            &practice.state,
            casevault_server::admin::storage::Timestamp(now)
        )
        .await
        .expect("check"),
        0
    );
    assert_eq!(reminders(&practice.state, soon).await.expect("check"), 1);
    assert_eq!(
        reminders(&practice.state, soon).await.expect("check"),
        0,
        "once"
    );
    wait_for(&sink, "A share expires soon", &dr.email).await;
    let to_patient = wait_for(&sink, "A link shared with you expires soon", &patient).await;
    assert!(
        !to_patient.text().contains("/s/"),
        "the reminder carries no link"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_owner_gets_only_the_notices_they_asked_for() {
    let Some(sink) = mail_sink::smtp_sink() else {
        return;
    };
    let practice = Practice::spawn_with(Backend::Local, |s| s.smtp = Some(sink.settings()))
        .await
        .expect("local");
    let name = unique("dr-prefs");
    let dr = practice.user(&name).await;
    let case = practice.new_case(&dr).await;
    let file = id_of(&practice.upload(&dr, &case, "plan.pdf", b"%PDF plan").await);
    // No drop notices, but download notices.
    let prefs = json!({ "notify": { "drops": false, "downloads": true, "expiry": true } });
    let response = practice
        .send(&dr, Method::PATCH, "/api/v1/preferences", Some(prefs))
        .await;
    expect_json(response, 200).await;

    let share = |form: Value| {
        let practice = &practice;
        let dr = &dr;
        async move {
            expect_json(
                practice
                    .send(dr, Method::POST, "/api/v1/grants", Some(form))
                    .await,
                201,
            )
            .await
        }
    };
    let read = share(json!({ "case": case, "role": "read", "no_password": true })).await;
    let (client, cookie, _) =
        open_link(&practice, read["link"].as_str().expect("link"), json!({})).await;
    for _ in 0..2 {
        let download = client
            .get(
                practice
                    .app
                    .url(&format!("/api/v1/link/files/{file}/content")),
            )
            .header("cookie", &cookie)
            .send()
            .await
            .expect("download");
        assert_eq!(download.bytes().await.expect("body").as_ref(), b"%PDF plan");
    }
    let notice = wait_for(&sink, "Your shared files were downloaded", &dr.email).await;
    assert!(!notice.text().contains("plan.pdf"), "no file names in mail");

    let drop = share(json!({ "case": case, "role": "drop", "no_password": true })).await;
    let (client, cookie, csrf) = open_link(
        &practice,
        drop["link"].as_str().expect("link"),
        json!({ "name": "Lab" }),
    )
    .await;
    let upload = client
        .post(practice.app.url("/api/v1/link/files"))
        .header("cookie", &cookie)
        .header("x-csrf-token", &csrf)
        .header("x-file-name", "crown.stl")
        .body("solid crown")
        .send()
        .await
        .expect("upload");
    assert_eq!(upload.status(), 201);
    let receipt = client
        .post(practice.app.url("/api/v1/link/receipt"))
        .header("cookie", &cookie)
        .header("x-csrf-token", &csrf)
        .send()
        .await
        .expect("receipt");
    assert_eq!(receipt.status(), 200);

    // Whatever was queued has been delivered by now: mail goes out in order.
    let marker = share(json!({ "case": case, "role": "read", "no_password": true, "recipient_email": format!("{}@example.org", unique("marker")) })).await;
    let to = marker["grant"]["recipient_email"]
        .as_str()
        .expect("recipient")
        .to_owned();
    wait_for(&sink, &format!("{name} shared files with you"), &to).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let to_owner: Vec<String> = sink
        .messages()
        .into_iter()
        .filter(|m| m.header("To").as_deref() == Some(dr.email.as_str()))
        .filter_map(|m| m.header("Subject"))
        .collect();
    assert_eq!(
        to_owner,
        ["Your shared files were downloaded"],
        "one download notice per session, no drop notice"
    );
}
