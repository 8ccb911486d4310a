//! Folders and files of a case: uploads with any name, the tree with sizes, kinds and
//! hashes, renames and moves, deletion that frees quota, and new versions by replacement.

use std::collections::BTreeSet;
use std::time::Instant;

use casevault_tests::{
    Practice, SETTLE_TIMEOUT, TestUser, expect_error, expect_json, files_under, id_of,
    pseudo_random, sha256_hex,
};
use reqwest::Method;
use serde_json::{Value, json};

fn png(len: usize) -> Vec<u8> {
    let mut bytes = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR".to_vec();
    bytes.extend(pseudo_random(1, len - bytes.len()));
    bytes
}

fn pdf() -> Vec<u8> {
    b"%PDF-1.7\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n".to_vec()
}

fn dicom(len: usize) -> Vec<u8> {
    let mut bytes = vec![0u8; 128];
    bytes.extend_from_slice(b"DICM\x02\0\x01\0OB\0\0");
    bytes.extend(pseudo_random(2, len - bytes.len()));
    bytes
}

fn ascii_stl() -> Vec<u8> {
    b"solid jaw\n facet normal 0 0 1\n  outer loop\n   vertex 0 0 0\n   vertex 1 0 0\n   vertex 0 1 0\n  endloop\n endfacet\nendsolid jaw\n".to_vec()
}

/// The file of the tree named `name`.
fn entry<'a>(tree: &'a Value, name: &str) -> &'a Value {
    tree["files"]
        .as_array()
        .expect("files")
        .iter()
        .find(|f| f["name"] == name)
        .unwrap_or_else(|| panic!("{name} in {tree}"))
}

fn names(tree: &Value) -> BTreeSet<String> {
    tree["files"]
        .as_array()
        .expect("files")
        .iter()
        .map(|f| f["name"].as_str().expect("a name").to_owned())
        .collect()
}

/// Waits until the local object folder holds `count` files (objects are deleted after the
/// metadata change that released them).
async fn wait_for_objects(practice: &Practice, count: usize) {
    let start = Instant::now();
    loop {
        let objects = files_under(&practice.objects_dir());
        if objects.len() == count {
            return;
        }
        assert!(
            start.elapsed() < SETTLE_TIMEOUT,
            "expected {count} objects, found {objects:#?}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
}

async fn patch_file(
    practice: &Practice,
    user: &TestUser,
    case: &str,
    file: &str,
    change: Value,
) -> reqwest::Response {
    let path = format!("/api/v1/cases/{case}/files/{file}");
    practice
        .send(user, Method::PATCH, &path, Some(change))
        .await
}

#[tokio::test(flavor = "multi_thread")]
async fn uploads_keep_their_names_sizes_kinds_and_hashes() {
    let practice = Practice::spawn().await;
    let ann = practice.user("ann").await;
    let case = practice.new_case(&ann).await;
    let xrays = practice.folder(&ann, &case, "Radiographies", None).await;
    let year = practice
        .folder(&ann, &case, "2024 – März", Some(&id_of(&xrays)))
        .await;
    assert_eq!(xrays["parent"], Value::Null);
    assert_eq!(year["parent"], xrays["id"]);
    assert_eq!(year["name"], "2024 – März");

    let in_xrays = format!("?folder={}", id_of(&xrays));
    let in_year = format!("?folder={}", id_of(&year));
    let uploads: Vec<(&str, &str, Vec<u8>, &str)> = vec![
        ("", "Zahnröntgen 36.png", png(70_000), "photo"),
        ("", "Befund – Müller.pdf", pdf(), "pdf"),
        (&in_xrays, "CBCT_ü_001.dcm", dicom(200_000), "dicom"),
        (&in_year, "mâchoire inférieure.stl", ascii_stl(), "scan"),
        (
            &in_year,
            "写真 (1).txt",
            "歯の写真".as_bytes().to_vec(),
            "other",
        ),
        ("", "notes 😀 #1 100%.txt", b"plain text".to_vec(), "other"),
        ("", "empty", Vec::new(), "other"),
    ];
    let mut views = Vec::new();
    for (query, name, bytes, kind) in &uploads {
        let view = practice.upload_to(&ann, &case, query, name, bytes).await;
        assert_eq!(view["name"], *name, "{view}");
        assert_eq!(view["size"], bytes.len(), "{view}");
        assert_eq!(view["kind"], *kind, "{name}: {view}");
        assert_eq!(view["sha256"], sha256_hex(bytes), "{name}");
        assert_eq!(view["uploaded_by"], json!({ "kind": "user", "id": ann.id }));
        let folder = query.strip_prefix("?folder=").map(str::to_owned);
        assert_eq!(view["folder"], json!(folder), "{name}");
        views.push(view);
    }

    let tree = practice.tree(&ann, &case).await;
    let folders = tree["folders"].as_array().expect("folders");
    assert_eq!(folders.len(), 2, "{tree}");
    assert!(
        folders.contains(&xrays) && folders.contains(&year),
        "{tree}"
    );
    assert_eq!(
        tree["files"].as_array().expect("files").len(),
        uploads.len()
    );
    for ((_, name, bytes, _), view) in uploads.iter().zip(&views) {
        assert_eq!(entry(&tree, name), view);
        let id = id_of(view);
        let path = format!("/api/v1/cases/{case}/files/{id}");
        let got = practice.send(&ann, Method::GET, &path, None).await;
        assert_eq!(&expect_json(got, 200).await, view);
        assert_eq!(&practice.download(&ann, &case, &id).await, bytes, "{name}");
    }
    let total: usize = uploads.iter().map(|(_, _, bytes, _)| bytes.len()).sum();
    let quota = practice.quota_of(&ann).await;
    assert_eq!((quota.used, quota.reserved), (total as u64, 0));
    assert_eq!(quota.limit, 50 << 30, "new accounts get 50 GiB");
    wait_for_objects(&practice, uploads.len()).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn names_are_unique_per_folder_whatever_their_case() {
    let practice = Practice::spawn().await;
    let ann = practice.user("ann").await;
    let case = practice.new_case(&ann).await;
    let photos = practice.folder(&ann, &case, "Photos", None).await;
    practice.upload(&ann, &case, "Scan.STL", &ascii_stl()).await;
    let before = practice.snapshot(&ann, &case).await;
    for name in ["Scan.STL", "scan.stl", "SCAN.stl", "photos", "PHOTOS"] {
        let response = practice.try_upload(&ann, &case, "", name, b"x").await;
        assert_eq!(expect_error(response, 409).await, "conflict", "{name}");
    }
    for name in ["photos", "scan.STL"] {
        let path = format!("/api/v1/cases/{case}/folders");
        let response = practice
            .send(&ann, Method::POST, &path, Some(json!({ "name": name })))
            .await;
        assert_eq!(expect_error(response, 409).await, "conflict", "{name}");
    }
    practice.assert_left_as(&ann, &case, &before).await;
    // The same name in another folder is another file.
    let query = format!("?folder={}", id_of(&photos));
    let other = practice
        .upload_to(&ann, &case, &query, "scan.stl", b"solid other\n")
        .await;
    assert_eq!(other["folder"], photos["id"]);
    let nested = practice
        .folder(&ann, &case, "Photos", Some(&id_of(&photos)))
        .await;
    assert_eq!(nested["parent"], photos["id"]);
}

#[tokio::test(flavor = "multi_thread")]
async fn files_are_renamed_moved_and_deleted_and_their_quota_freed() {
    let practice = Practice::spawn().await;
    let ann = practice.user("ann").await;
    let case = practice.new_case(&ann).await;
    let folder = practice.folder(&ann, &case, "Befunde", None).await;
    let folder_id = id_of(&folder);
    let report = pseudo_random(3, 12_345);
    let file = practice.upload(&ann, &case, "report.pdf", &report).await;
    let id = id_of(&file);
    let other = practice
        .upload(&ann, &case, "other.txt", b"0123456789")
        .await;
    wait_for_objects(&practice, 2).await;

    let renamed = patch_file(
        &practice,
        &ann,
        &case,
        &id,
        json!({ "name": "Bericht für Dr. Ü.pdf" }),
    )
    .await;
    let renamed = expect_json(renamed, 200).await;
    assert_eq!(renamed["name"], "Bericht für Dr. Ü.pdf");
    assert_eq!(renamed["id"], file["id"]);
    assert_eq!(renamed["sha256"], file["sha256"]);
    assert_eq!(renamed["folder"], Value::Null);

    let moved = patch_file(&practice, &ann, &case, &id, json!({ "folder": folder_id })).await;
    let moved = expect_json(moved, 200).await;
    assert_eq!(moved["folder"], folder["id"]);
    assert_eq!(moved["name"], "Bericht für Dr. Ü.pdf");
    let tree = practice.tree(&ann, &case).await;
    assert_eq!(entry(&tree, "Bericht für Dr. Ü.pdf"), &moved);
    assert_eq!(practice.download(&ann, &case, &id).await, report);

    // A rename into a taken name, or into a folder of another case, is refused.
    let taken = patch_file(
        &practice,
        &ann,
        &case,
        &id_of(&other),
        json!({ "name": "BEFUNDE" }),
    )
    .await;
    assert_eq!(expect_error(taken, 409).await, "conflict");
    let elsewhere = practice.new_case(&ann).await;
    let foreign = practice.folder(&ann, &elsewhere, "Foreign", None).await;
    let before = practice.snapshot(&ann, &case).await;
    let response = patch_file(
        &practice,
        &ann,
        &case,
        &id,
        json!({ "folder": id_of(&foreign) }),
    )
    .await;
    assert_eq!(expect_error(response, 404).await, "not_found");
    let response = patch_file(
        &practice,
        &ann,
        &case,
        &id,
        json!({ "folder": "0".repeat(32) }),
    )
    .await;
    assert_eq!(expect_error(response, 404).await, "not_found");
    let response = patch_file(&practice, &ann, &case, &id, json!({ "name": "a/b" })).await;
    assert_eq!(expect_error(response, 400).await, "bad_request");
    let response = patch_file(&practice, &ann, &case, &id, json!({ "size": 1 })).await;
    assert_eq!(expect_error(response, 400).await, "bad_request");
    practice.assert_left_as(&ann, &case, &before).await;

    let back = patch_file(
        &practice,
        &ann,
        &case,
        &id,
        json!({ "folder": null, "name": "final.pdf" }),
    )
    .await;
    let back = expect_json(back, 200).await;
    assert_eq!(
        (&back["folder"], &back["name"]),
        (&Value::Null, &json!("final.pdf"))
    );

    let used = practice.quota_of(&ann).await.used;
    assert_eq!(used, 12_345 + 10);
    let path = format!("/api/v1/cases/{case}/files/{id}");
    let deleted = practice.send(&ann, Method::DELETE, &path, None).await;
    assert_eq!(deleted.status(), 204);
    let quota = practice.quota_of(&ann).await;
    assert_eq!(
        (quota.used, quota.reserved),
        (10, 0),
        "exactly the file's size is freed"
    );
    for (method, path) in [
        (Method::GET, path.clone()),
        (Method::GET, format!("{path}/content")),
        (Method::DELETE, path.clone()),
        (Method::PATCH, path.clone()),
    ] {
        let body = (method == Method::PATCH).then(|| json!({ "name": "x" }));
        let response = practice.send(&ann, method.clone(), &path, body).await;
        assert_eq!(
            expect_error(response, 404).await,
            "not_found",
            "{method} {path}"
        );
    }
    assert_eq!(
        names(&practice.tree(&ann, &case).await),
        ["other.txt".to_owned()].into()
    );
    wait_for_objects(&practice, 1).await;
    assert_eq!(
        practice.download(&ann, &case, &id_of(&other)).await,
        b"0123456789"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn replacing_a_file_makes_a_new_version_under_the_same_name() {
    let practice = Practice::spawn().await;
    let ann = practice.user("ann").await;
    let case = practice.new_case(&ann).await;
    let first = practice.upload(&ann, &case, "plan.pdf", &pdf()).await;
    let before = practice.snapshot(&ann, &case).await;
    let refused = practice
        .try_upload(&ann, &case, "", "plan.pdf", b"v2")
        .await;
    assert_eq!(expect_error(refused, 409).await, "conflict");
    let refused = practice
        .try_upload(&ann, &case, "?on_conflict=fail", "PLAN.PDF", b"v2")
        .await;
    assert_eq!(expect_error(refused, 409).await, "conflict");
    let bad = practice
        .try_upload(&ann, &case, "?on_conflict=overwrite", "plan.pdf", b"v2")
        .await;
    assert_eq!(expect_error(bad, 400).await, "bad_request");
    practice.assert_left_as(&ann, &case, &before).await;

    let second_bytes = pseudo_random(4, 3 * 65_536);
    let second = practice
        .upload_to(
            &ann,
            &case,
            "?on_conflict=replace",
            "plan.pdf",
            &second_bytes,
        )
        .await;
    assert_ne!(second["id"], first["id"], "a new version has a new id");
    assert_eq!(second["size"], second_bytes.len());
    assert_eq!(second["sha256"], sha256_hex(&second_bytes));
    assert_eq!(second["kind"], "other");
    let tree = practice.tree(&ann, &case).await;
    assert_eq!(tree["files"], json!([second]));
    let quota = practice.quota_of(&ann).await;
    assert_eq!((quota.used, quota.reserved), (second_bytes.len() as u64, 0));
    let old = format!("/api/v1/cases/{case}/files/{}/content", id_of(&first));
    let response = practice.send(&ann, Method::GET, &old, None).await;
    assert_eq!(response.status(), 404);
    assert_eq!(
        practice.download(&ann, &case, &id_of(&second)).await,
        second_bytes
    );
    wait_for_objects(&practice, 1).await;

    // Replacing where nothing has the name simply stores the file.
    let fresh = practice
        .upload_to(&ann, &case, "?on_conflict=replace", "new.txt", b"new")
        .await;
    assert_eq!(fresh["size"], 3);
    assert_eq!(
        practice.tree(&ann, &case).await["files"]
            .as_array()
            .map(Vec::len),
        Some(2)
    );
}
