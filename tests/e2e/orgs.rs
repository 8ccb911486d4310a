//! Organisations through the API: who sees what, adding members, invitations by e-mail
//! (accepted once, withdrawn, dead when used), role changes and the last administrator.

use std::time::Duration;

use casevault_storage::OrgRole;
use casevault_tests::mail_sink::{self, unique};
use casevault_tests::{Backend, Practice, expect_error, expect_json};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

/// Accepts an invitation as a browser would (an Origin header, no session).
async fn accept(practice: &Practice, token: &str, form: Value) -> reqwest::Response {
    casevault_tests::client_builder(&practice.app.cert_pem)
        .build()
        .expect("a client")
        .post(practice.app.url(&format!("/api/v1/invitations/{token}")))
        .header("origin", &practice.app.address)
        .json(&form)
        .send()
        .await
        .expect("accept")
}

fn token_of(link: &str) -> String {
    link.rsplit_once('#').expect("a fragment").1.to_owned()
}

#[tokio::test(flavor = "multi_thread")]
async fn members_see_their_organisation_and_admins_manage_it() {
    let practice = Practice::spawn().await;
    let admin = practice.user("org-admin").await;
    let member = practice.user("org-member").await;
    let outsider = practice.user("outsider").await;
    let newcomer = practice.user("newcomer").await;
    let org = practice
        .org(
            "Clinique du Lac",
            &[(&admin, OrgRole::Admin), (&member, OrgRole::Member)],
        )
        .await;
    let path = format!("/api/v1/orgs/{org}");

    let list = expect_json(
        practice
            .send(&member, Method::GET, "/api/v1/orgs", None)
            .await,
        200,
    )
    .await;
    assert_eq!(list["orgs"][0]["name"], "Clinique du Lac");
    assert_eq!(list["orgs"][0]["role"], "member");
    assert!(
        list["orgs"][0]["quota"]["limit"]
            .as_u64()
            .is_some_and(|l| l > 0)
    );
    let seen = expect_json(practice.send(&member, Method::GET, &path, None).await, 200).await;
    assert_eq!(seen["members"].as_array().map(Vec::len), Some(2));
    // Outsiders learn nothing; members change nothing.
    assert_eq!(
        expect_error(
            practice.send(&outsider, Method::GET, &path, None).await,
            404
        )
        .await,
        "not_found"
    );
    let empty = expect_json(
        practice
            .send(&outsider, Method::GET, "/api/v1/orgs", None)
            .await,
        200,
    )
    .await;
    assert_eq!(empty["orgs"], json!([]));
    let refused = practice
        .send(
            &member,
            Method::POST,
            &format!("{path}/members"),
            Some(json!({ "email": newcomer.email })),
        )
        .await;
    assert_eq!(expect_error(refused, 403).await, "forbidden");
    let refused = practice
        .send(
            &outsider,
            Method::POST,
            &format!("{path}/members"),
            Some(json!({ "email": newcomer.email })),
        )
        .await;
    assert_eq!(expect_error(refused, 404).await, "not_found");

    // An existing account joins at once; twice is a conflict.
    let added = expect_json(
        practice
            .send(
                &admin,
                Method::POST,
                &format!("{path}/members"),
                Some(json!({ "email": newcomer.email.to_uppercase() })),
            )
            .await,
        201,
    )
    .await;
    assert_eq!(added["member"]["email"], newcomer.email);
    assert_eq!(added["member"]["role"], "member");
    let again = practice
        .send(
            &admin,
            Method::POST,
            &format!("{path}/members"),
            Some(json!({ "email": newcomer.email })),
        )
        .await;
    assert_eq!(expect_error(again, 409).await, "conflict");
    // The newcomer now works on the group cases.
    let group_case = practice
        .create_case(&admin, json!({ "patient_ref": "GROUP-1", "org_id": org }))
        .await;
    let theirs = expect_json(
        practice
            .send(&newcomer, Method::GET, "/api/v1/cases", None)
            .await,
        200,
    )
    .await;
    assert!(
        theirs["cases"]
            .as_array()
            .expect("cases")
            .iter()
            .any(|c| c["id"] == group_case["id"])
    );

    // Roles: the last administrator cannot be demoted or removed.
    let admin_path = format!("{path}/members/{}", admin.id);
    let demote = practice
        .send(
            &admin,
            Method::PATCH,
            &admin_path,
            Some(json!({ "role": "member" })),
        )
        .await;
    assert_eq!(expect_error(demote, 409).await, "conflict");
    let remove = practice
        .send(&admin, Method::DELETE, &admin_path, None)
        .await;
    assert_eq!(expect_error(remove, 409).await, "conflict");
    let promoted = practice
        .send(
            &admin,
            Method::PATCH,
            &format!("{path}/members/{}", member.id),
            Some(json!({ "role": "admin" })),
        )
        .await;
    assert_eq!(expect_json(promoted, 200).await["role"], "admin");
    let demote = practice
        .send(
            &admin,
            Method::PATCH,
            &admin_path,
            Some(json!({ "role": "member" })),
        )
        .await;
    assert_eq!(expect_json(demote, 200).await["role"], "member");
    // Removal takes the group cases away at once.
    let removed = practice
        .send(
            &member,
            Method::DELETE,
            &format!("{path}/members/{}", newcomer.id),
            None,
        )
        .await;
    assert_eq!(removed.status(), StatusCode::NO_CONTENT);
    let theirs = expect_json(
        practice
            .send(&newcomer, Method::GET, "/api/v1/cases", None)
            .await,
        200,
    )
    .await;
    assert!(
        !theirs["cases"]
            .as_array()
            .expect("cases")
            .iter()
            .any(|c| c["id"] == group_case["id"])
    );
    let case_path = format!("/api/v1/cases/{}", group_case["id"].as_str().expect("id"));
    assert_eq!(
        expect_error(
            practice
                .send(&newcomer, Method::GET, &case_path, None)
                .await,
            404
        )
        .await,
        "not_found"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn an_invitation_makes_an_account_once() {
    let practice = Practice::spawn().await;
    let admin = practice.user("invite-admin").await;
    let org = practice
        .org("Praxis am Markt", &[(&admin, OrgRole::Admin)])
        .await;
    let path = format!("/api/v1/orgs/{org}");
    let invited = expect_json(
        practice
            .send(
                &admin,
                Method::POST,
                &format!("{path}/members"),
                Some(json!({ "email": "Assistant@Example-Clinic.org", "role": "admin" })),
            )
            .await,
        201,
    )
    .await;
    // Mail is off here: the link comes back to the administrator.
    assert_eq!(invited["mail"], "off");
    assert_eq!(
        invited["invitation"]["email"],
        "assistant@example-clinic.org"
    );
    let link = invited["link"].as_str().expect("a link");
    assert!(link.starts_with(&practice.app.url("/invite#")), "{link}");
    let token = token_of(link);
    let detail = expect_json(practice.send(&admin, Method::GET, &path, None).await, 200).await;
    assert_eq!(
        detail["invitations"][0]["email"],
        "assistant@example-clinic.org"
    );

    let info = expect_json(
        practice
            .app
            .get(&format!("/api/v1/invitations/{token}"))
            .await,
        200,
    )
    .await;
    assert_eq!(
        info,
        json!({ "org": "Praxis am Markt", "email": "assistant@example-clinic.org" })
    );
    let short = accept(
        &practice,
        &token,
        json!({ "display_name": "Assistant", "password": "short" }),
    )
    .await;
    assert_eq!(expect_error(short, 400).await, "bad_request");
    let joined = accept(
        &practice,
        &token,
        json!({ "display_name": "Assistant", "password": "a good long passphrase" }),
    )
    .await;
    assert_eq!(joined.status(), StatusCode::CREATED);
    assert!(
        joined.headers()["set-cookie"]
            .to_str()
            .expect("cookie")
            .starts_with("cv_session=")
    );
    let body = expect_json(joined, 201).await;
    assert_eq!(body["user"]["email"], "assistant@example-clinic.org");
    // Once only; the invitation is gone from the list; the new member is an administrator.
    let again = accept(
        &practice,
        &token,
        json!({ "display_name": "Other", "password": "a good long passphrase" }),
    )
    .await;
    assert_eq!(expect_error(again, 404).await, "link_unavailable");
    assert_eq!(
        expect_error(
            practice
                .app
                .get(&format!("/api/v1/invitations/{token}"))
                .await,
            404
        )
        .await,
        "link_unavailable"
    );
    let detail = expect_json(practice.send(&admin, Method::GET, &path, None).await, 200).await;
    assert_eq!(detail["invitations"], json!([]));
    let roles: Vec<(&str, &str)> = detail["members"]
        .as_array()
        .expect("members")
        .iter()
        .map(|m| {
            (
                m["email"].as_str().expect("email"),
                m["role"].as_str().expect("role"),
            )
        })
        .collect();
    assert!(
        roles.contains(&("assistant@example-clinic.org", "admin")),
        "{roles:?}"
    );

    // A withdrawn invitation's link is dead; garbage tokens are not found.
    let second = expect_json(
        practice
            .send(
                &admin,
                Method::POST,
                &format!("{path}/members"),
                Some(json!({ "email": "locum@example-clinic.org" })),
            )
            .await,
        201,
    )
    .await;
    let id = second["invitation"]["id"].as_str().expect("an id");
    let withdrawn = practice
        .send(
            &admin,
            Method::DELETE,
            &format!("{path}/invitations/{id}"),
            None,
        )
        .await;
    assert_eq!(withdrawn.status(), StatusCode::NO_CONTENT);
    let dead = accept(
        &practice,
        &token_of(second["link"].as_str().expect("link")),
        json!({ "display_name": "Locum", "password": "a good long passphrase" }),
    )
    .await;
    assert_eq!(expect_error(dead, 404).await, "link_unavailable");
    assert_eq!(
        expect_error(
            accept(
                &practice,
                "garbage",
                json!({ "display_name": "x", "password": "a good long passphrase" })
            )
            .await,
            404
        )
        .await,
        "link_unavailable"
    );
    let bad = practice
        .send(
            &admin,
            Method::POST,
            &format!("{path}/members"),
            Some(json!({ "email": "not an address" })),
        )
        .await;
    assert_eq!(expect_error(bad, 400).await, "bad_request");
}

#[tokio::test(flavor = "multi_thread")]
async fn an_invitation_arrives_by_mail() {
    let Some(sink) = mail_sink::smtp_sink() else {
        return;
    };
    let practice = Practice::spawn_with(Backend::Local, |s| s.smtp = Some(sink.settings()))
        .await
        .expect("local");
    let admin = practice.user(&unique("mail-admin")).await;
    let org = practice
        .org("Cabinet Soleil", &[(&admin, OrgRole::Admin)])
        .await;
    let to = format!("{}@example.org", unique("hygienist"));
    let invited = expect_json(
        practice
            .send(
                &admin,
                Method::POST,
                &format!("/api/v1/orgs/{org}/members"),
                Some(json!({ "email": to })),
            )
            .await,
        201,
    )
    .await;
    assert_eq!(invited["mail"], "queued");
    assert_eq!(invited["link"], Value::Null, "the link goes by mail only");
    let started = std::time::Instant::now();
    let mail = loop {
        if let Some(mail) = sink
            .messages()
            .into_iter()
            .find(|m| m.header("To").as_deref() == Some(to.as_str()))
        {
            break mail;
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "no invitation mail"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let text = mail.text();
    assert!(text.contains("Cabinet Soleil"));
    let link = text
        .split_whitespace()
        .find(|w| w.contains("/invite#"))
        .expect("the link in the mail");
    let joined = accept(
        &practice,
        &token_of(link),
        json!({ "display_name": "Hygienist", "password": "a good long passphrase" }),
    )
    .await;
    assert_eq!(joined.status(), StatusCode::CREATED);
}
