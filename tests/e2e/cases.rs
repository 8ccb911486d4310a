//! Cases from opening to deletion: fields, listing, archiving and reopening, group cases of
//! an organisation charged to its quota, and the history of what was done to a case.

use casevault_server::admin::storage::OrgRole;
use casevault_tests::{Practice, expect_error, expect_json, id_of};
use reqwest::Method;
use serde_json::{Value, json};

fn ids(list: &Value) -> Vec<String> {
    list["cases"]
        .as_array()
        .expect("a case list")
        .iter()
        .map(id_of)
        .collect()
}

async fn list(practice: &Practice, user: &casevault_tests::TestUser) -> Value {
    let response = practice
        .send(user, Method::GET, "/api/v1/cases", None)
        .await;
    expect_json(response, 200).await
}

#[tokio::test(flavor = "multi_thread")]
async fn a_case_is_opened_listed_changed_archived_reopened_and_deleted() {
    let practice = Practice::spawn().await;
    let ann = practice.user("ann").await;
    let bob = practice.user("bob").await;
    let expires = 4_102_444_800_000_i64; // 2100-01-01
    let case = practice
        .create_case(
            &ann,
            json!({
                "patient_ref": "P-2024-0042",
                "title": "Implant 36",
                "comments": "CBCT before surgery.\nSecond line.",
                "labels": [3, 7],
                "expires_at": expires,
            }),
        )
        .await;
    let id = id_of(&case);
    assert_eq!(id.len(), 32, "{case}");
    assert_eq!(case["patient_ref"], "P-2024-0042");
    assert_eq!(case["title"], "Implant 36");
    assert_eq!(case["comments"], "CBCT before surgery.\nSecond line.");
    assert_eq!(case["status"], "active");
    assert_eq!(case["labels"], json!([3, 7]));
    assert_eq!(case["owner"], json!({ "kind": "user", "id": ann.id }));
    assert_eq!(case["created_by"], ann.id.as_str());
    assert_eq!(case["expires_at"], expires);
    assert!(case["created_at"].as_i64().expect("created_at") > 0);

    let second = practice.new_case(&ann).await;
    let mut both = [second.clone(), id.clone()];
    both.sort();
    let mut listed = ids(&list(&practice, &ann).await);
    listed.sort();
    assert_eq!(listed, both);
    assert!(ids(&list(&practice, &bob).await).is_empty());
    assert_eq!(practice.case(&ann, &id).await, case);

    let path = format!("/api/v1/cases/{id}");
    let changed = practice
        .send(
            &ann,
            Method::PATCH,
            &path,
            Some(json!({ "title": "Implant 36 and 37", "patient_ref": "P-2024-0043", "expires_at": null })),
        )
        .await;
    let changed = expect_json(changed, 200).await;
    assert_eq!(changed["title"], "Implant 36 and 37");
    assert_eq!(changed["patient_ref"], "P-2024-0043");
    assert_eq!(changed["comments"], case["comments"]);
    assert_eq!(changed["labels"], case["labels"]);
    assert_eq!(changed["expires_at"], Value::Null);
    assert!(changed["updated_at"].as_i64() >= case["updated_at"].as_i64());
    assert_eq!(practice.case(&ann, &id).await, changed);

    for bad in [
        json!({ "status": "deleted" }),
        json!({ "patient_ref": "" }),
        json!({ "title": "a\u{7}b" }),
        json!({ "colour": "red" }),
    ] {
        let response = practice
            .send(&ann, Method::PATCH, &path, Some(bad.clone()))
            .await;
        assert_eq!(expect_error(response, 400).await, "bad_request", "{bad}");
    }
    assert_eq!(practice.case(&ann, &id).await, changed);

    let first = practice.upload(&ann, &id, "before.txt", b"kept").await;
    let archived = practice
        .send(
            &ann,
            Method::PATCH,
            &path,
            Some(json!({ "status": "archived" })),
        )
        .await;
    assert_eq!(expect_json(archived, 200).await["status"], "archived");
    let before = practice.snapshot(&ann, &id).await;
    let refused = practice
        .try_upload(&ann, &id, "", "after.txt", b"refused")
        .await;
    assert_eq!(expect_error(refused, 409).await, "conflict");
    let folder = practice
        .send(
            &ann,
            Method::POST,
            &format!("{path}/folders"),
            Some(json!({ "name": "X-rays" })),
        )
        .await;
    assert_eq!(expect_error(folder, 409).await, "conflict");
    let file_path = format!("{path}/files/{}", id_of(&first));
    let rename = practice
        .send(
            &ann,
            Method::PATCH,
            &file_path,
            Some(json!({ "name": "renamed.txt" })),
        )
        .await;
    assert_eq!(expect_error(rename, 409).await, "conflict");
    let delete = practice.send(&ann, Method::DELETE, &file_path, None).await;
    assert_eq!(expect_error(delete, 409).await, "conflict");
    assert_eq!(practice.download(&ann, &id, &id_of(&first)).await, b"kept");
    practice.assert_left_as(&ann, &id, &before).await;

    let reopened = practice
        .send(
            &ann,
            Method::PATCH,
            &path,
            Some(json!({ "status": "active" })),
        )
        .await;
    assert_eq!(expect_json(reopened, 200).await["status"], "active");
    practice.upload(&ann, &id, "after.txt", b"accepted").await;
    assert_eq!(practice.quota_of(&ann).await.used, 4 + 8);

    let deleted = practice.send(&ann, Method::DELETE, &path, None).await;
    assert_eq!(deleted.status(), 204);
    let gone = practice.send(&ann, Method::GET, &path, None).await;
    assert_eq!(expect_error(gone, 404).await, "not_found");
    let tree = practice
        .send(&ann, Method::GET, &format!("{path}/tree"), None)
        .await;
    assert_eq!(tree.status(), 404);
    assert_eq!(ids(&list(&practice, &ann).await), [second]);
    let quota = practice.quota_of(&ann).await;
    assert_eq!(
        (quota.used, quota.reserved),
        (0, 0),
        "deleting the case frees its files"
    );
    let again = practice.send(&ann, Method::DELETE, &path, None).await;
    assert_eq!(again.status(), 404);
}

#[tokio::test(flavor = "multi_thread")]
async fn opening_a_case_checks_its_fields() {
    let practice = Practice::spawn().await;
    let ann = practice.user("ann").await;
    for (bad, status) in [
        (json!({}), 400),
        (json!({ "patient_ref": "" }), 400),
        (json!({ "patient_ref": "   " }), 400),
        (json!({ "patient_ref": "x".repeat(201) }), 400),
        (json!({ "patient_ref": "P\u{0}1" }), 400),
        (
            json!({ "patient_ref": "P-1", "comments": "a\u{1b}[31mred" }),
            400,
        ),
        (
            json!({ "patient_ref": "P-1", "labels": (0..33).collect::<Vec<u32>>() }),
            400,
        ),
        (json!({ "patient_ref": "P-1", "owner": "someone" }), 400),
        (json!({ "patient_ref": 42 }), 400),
        // An organisation id that is malformed or unknown is not found.
        (json!({ "patient_ref": "P-1", "org_id": "not-an-id" }), 404),
        (
            json!({ "patient_ref": "P-1", "org_id": "0".repeat(32) }),
            404,
        ),
    ] {
        let response = practice
            .send(&ann, Method::POST, "/api/v1/cases", Some(bad.clone()))
            .await;
        assert_eq!(response.status(), status, "{bad}");
    }
    assert!(ids(&list(&practice, &ann).await).is_empty());
    let trimmed = practice
        .create_case(
            &ann,
            json!({ "patient_ref": "  P-7  ", "comments": "a\tb\r\nc" }),
        )
        .await;
    assert_eq!(trimmed["patient_ref"], "P-7");
    assert_eq!(trimmed["comments"], "a\tb\r\nc");
    assert_eq!(trimmed["title"], "");
    assert_eq!(trimmed["labels"], json!([]));
    assert_eq!(trimmed["expires_at"], Value::Null);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_group_case_is_shared_with_the_members_and_charged_to_the_organisation() {
    let practice = Practice::spawn().await;
    let ann = practice.user("ann").await;
    let carl = practice.user("carl").await;
    let bob = practice.user("bob").await;
    let org = practice
        .org(
            "Smile Dental Group",
            &[(&ann, OrgRole::Admin), (&carl, OrgRole::Member)],
        )
        .await;
    let case = practice
        .create_case(&ann, json!({ "patient_ref": "G-1", "org_id": org }))
        .await;
    let id = id_of(&case);
    assert_eq!(case["owner"], json!({ "kind": "org", "id": org }));
    assert_eq!(case["created_by"], ann.id.as_str());

    assert_eq!(
        ids(&list(&practice, &carl).await),
        std::slice::from_ref(&id)
    );
    assert!(ids(&list(&practice, &bob).await).is_empty());
    assert_eq!(practice.case(&carl, &id).await, case);

    let file = practice
        .upload(&carl, &id, "bitewing.png", &[7u8; 1000])
        .await;
    assert_eq!(
        file["uploaded_by"],
        json!({ "kind": "user", "id": carl.id })
    );
    assert_eq!(
        practice.download(&ann, &id, &id_of(&file)).await,
        [7u8; 1000]
    );
    assert_eq!(practice.org_quota(&carl, &org).await.used, 1000);
    assert_eq!(practice.org_quota(&ann, &org).await.used, 1000);
    assert_eq!(practice.quota_of(&carl).await.used, 0);
    assert_eq!(practice.quota_of(&ann).await.used, 0);
    let quotas = practice.quotas(&bob).await;
    assert_eq!(quotas["orgs"], json!([]), "bob is in no organisation");
    let carl_quotas = practice.quotas(&carl).await;
    let names: Vec<&Value> = carl_quotas["orgs"]
        .as_array()
        .expect("orgs")
        .iter()
        .map(|o| &o["name"])
        .collect();
    assert_eq!(names, [&json!("Smile Dental Group")]);

    // Members work on the case but neither delete it nor read its history.
    let path = format!("/api/v1/cases/{id}");
    let history = practice
        .send(&carl, Method::GET, &format!("{path}/history"), None)
        .await;
    assert_eq!(expect_error(history, 403).await, "forbidden");
    let delete = practice.send(&carl, Method::DELETE, &path, None).await;
    assert_eq!(expect_error(delete, 403).await, "forbidden");
    assert_eq!(practice.case(&ann, &id).await["id"], id.as_str());

    // Outsiders see nothing and cannot open a case in the organisation.
    let outsider = practice.send(&bob, Method::GET, &path, None).await;
    assert_eq!(expect_error(outsider, 404).await, "not_found");
    let foreign = practice
        .send(
            &bob,
            Method::POST,
            "/api/v1/cases",
            Some(json!({ "patient_ref": "X", "org_id": org })),
        )
        .await;
    assert_eq!(expect_error(foreign, 404).await, "not_found");

    // A member's own group case is theirs to delete.
    let own = practice
        .create_case(&carl, json!({ "patient_ref": "G-2", "org_id": org }))
        .await;
    let own_path = format!("/api/v1/cases/{}", id_of(&own));
    assert_eq!(
        practice.history(&carl, &id_of(&own)).await[0]["action"],
        "case.create"
    );
    let deleted = practice.send(&carl, Method::DELETE, &own_path, None).await;
    assert_eq!(deleted.status(), 204);

    // Deleting the group case frees the organisation's quota.
    let deleted = practice.send(&ann, Method::DELETE, &path, None).await;
    assert_eq!(deleted.status(), 204);
    let quota = practice.org_quota(&carl, &org).await;
    assert_eq!((quota.used, quota.reserved), (0, 0));
}

#[tokio::test(flavor = "multi_thread")]
async fn the_history_names_each_action_its_actor_and_address() {
    let practice = Practice::spawn().await;
    let ann = practice.user("ann").await;
    let carl = practice.user("carl").await;
    let org = practice
        .org("Group", &[(&ann, OrgRole::Admin), (&carl, OrgRole::Member)])
        .await;
    let id = id_of(
        &practice
            .create_case(&ann, json!({ "patient_ref": "H-1", "org_id": org }))
            .await,
    );
    let path = format!("/api/v1/cases/{id}");
    let folder = practice.folder(&ann, &id, "Photos", None).await;
    let file = practice
        .upload(&carl, &id, "smile.jpg", b"\xFF\xD8\xFF\xE0jpeg")
        .await;
    let file_id = id_of(&file);
    let refused = practice
        .try_upload(&ann, &id, "", "SMILE.JPG", b"same name")
        .await;
    assert_eq!(refused.status(), 409);
    assert_eq!(
        practice.download(&ann, &id, &file_id).await,
        b"\xFF\xD8\xFF\xE0jpeg"
    );
    let moved = practice
        .send(
            &ann,
            Method::PATCH,
            &format!("{path}/files/{file_id}"),
            Some(json!({ "folder": id_of(&folder) })),
        )
        .await;
    assert_eq!(moved.status(), 200);
    let deleted = practice
        .send(
            &carl,
            Method::DELETE,
            &format!("{path}/files/{file_id}"),
            None,
        )
        .await;
    assert_eq!(deleted.status(), 204);
    for status in ["archived", "active"] {
        let response = practice
            .send(
                &ann,
                Method::PATCH,
                &path,
                Some(json!({ "status": status })),
            )
            .await;
        assert_eq!(response.status(), 200);
    }
    let response = practice
        .send(&ann, Method::PATCH, &path, Some(json!({ "title": "New" })))
        .await;
    assert_eq!(response.status(), 200);

    let (a, c) = (ann.id.as_str(), carl.id.as_str());
    let expected = [
        ("case.create", a, None, "success"),
        ("folder.create", a, None, "success"),
        ("file.upload", c, Some(file_id.as_str()), "success"),
        ("file.upload", a, None, "denied"),
        ("file.download", a, Some(file_id.as_str()), "success"),
        ("file.rename", a, Some(file_id.as_str()), "success"),
        ("file.delete", c, Some(file_id.as_str()), "success"),
        ("case.archive", a, None, "success"),
        ("case.reopen", a, None, "success"),
        ("case.update", a, None, "success"),
    ];
    // The download is recorded once its body has been sent: poll for it.
    let start = std::time::Instant::now();
    let entries = loop {
        let entries = practice.history(&ann, &id).await;
        if entries.len() >= expected.len() || start.elapsed() > casevault_tests::SETTLE_TIMEOUT {
            break entries;
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    };
    let got: Vec<(String, String, Option<String>, String)> = entries
        .iter()
        .map(|e| {
            (
                e["action"].as_str().unwrap_or_default().to_owned(),
                e["actor"]["id"].as_str().unwrap_or_default().to_owned(),
                e["file"].as_str().map(str::to_owned),
                e["outcome"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    let want: Vec<(String, String, Option<String>, String)> = expected
        .iter()
        .map(|(action, actor, file, outcome)| {
            (
                action.to_string(),
                actor.to_string(),
                file.map(str::to_owned),
                outcome.to_string(),
            )
        })
        .collect();
    assert_eq!(got, want, "{entries:#?}");
    let mut last_seq = 0;
    for entry in &entries {
        assert_eq!(entry["actor"]["kind"], "user", "{entry}");
        assert_eq!(entry["ip"], "127.0.0.1", "{entry}");
        assert_eq!(entry["grant"], Value::Null, "{entry}");
        let seq = entry["seq"].as_u64().expect("seq");
        assert!(seq > last_seq, "oldest first: {entries:#?}");
        last_seq = seq;
        assert!(entry["at"].as_i64().expect("at") > 0);
    }

    // The history of one case holds nothing of another.
    let other = practice.new_case(&ann).await;
    assert_eq!(practice.history(&ann, &other).await.len(), 1);
    assert_eq!(practice.history(&ann, &id).await.len(), expected.len());
}
