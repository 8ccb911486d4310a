//! No patient data at rest in the clear: a random marker put into every field a user can
//! fill (patient reference, title, comments, folder and file names, file contents) must
//! appear in no file the server wrote, on the local backend and in the S3 bucket.

use std::path::PathBuf;

use casevault_tests::{Backend, Practice, files_under, hex, id_of};
use reqwest::Method;
use serde_json::json;

/// The needles that must not be found: the marker and its random part in either case.
fn needles(marker: &str) -> Vec<Vec<u8>> {
    let random = marker.trim_start_matches("MARKER-");
    vec![
        marker.as_bytes().to_vec(),
        random.as_bytes().to_vec(),
        random.to_uppercase().into_bytes(),
    ]
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

async fn nothing_readable_reaches_the_disk(backend: Backend) {
    let Some(practice) = Practice::spawn_on(backend).await else {
        return;
    };
    let marker = format!("MARKER-{}", hex(&rand::random::<[u8; 16]>()));
    let ann = practice.user("ann").await;
    let case = practice
        .create_case(
            &ann,
            json!({
                "patient_ref": format!("{marker} ref"),
                "title": format!("{marker} title"),
                "comments": format!("comments\n{marker}\n"),
            }),
        )
        .await;
    let case_id = id_of(&case);
    let folder = practice
        .folder(&ann, &case_id, &format!("{marker} folder"), None)
        .await;
    let query = format!("?folder={}", id_of(&folder));
    // The marker alone, and the marker repeated across several chunk boundaries.
    let small = practice
        .upload_to(
            &ann,
            &case_id,
            &query,
            &format!("{marker}.txt"),
            marker.as_bytes(),
        )
        .await;
    let line = format!("{marker}\n");
    let repeated = line.repeat(300_000 / line.len());
    let big = practice
        .upload_to(
            &ann,
            &case_id,
            "",
            &format!("scan {marker}.stl"),
            repeated.as_bytes(),
        )
        .await;
    let renamed = practice
        .send(
            &ann,
            Method::PATCH,
            &format!("/api/v1/cases/{case_id}/files/{}", id_of(&big)),
            Some(json!({ "name": format!("renamed {marker}.stl") })),
        )
        .await;
    assert_eq!(renamed.status(), 200);
    let changed = practice
        .send(
            &ann,
            Method::PATCH,
            &format!("/api/v1/cases/{case_id}"),
            Some(json!({ "comments": format!("new comments {marker}") })),
        )
        .await;
    assert_eq!(changed.status(), 200);

    // Everything reads back through the API.
    let view = practice.case(&ann, &case_id).await;
    assert_eq!(view["patient_ref"], format!("{marker} ref"));
    assert_eq!(view["comments"], format!("new comments {marker}"));
    let tree = practice.tree(&ann, &case_id).await;
    assert!(tree.to_string().contains(&format!("renamed {marker}.stl")));
    assert_eq!(
        practice.download(&ann, &case_id, &id_of(&small)).await,
        marker.as_bytes()
    );
    assert_eq!(
        practice.download(&ann, &case_id, &id_of(&big)).await,
        repeated.as_bytes()
    );

    let s3_dir = match backend {
        Backend::Local => None,
        Backend::S3 => Some(PathBuf::from(
            std::env::var("CASEVAULT_TEST_S3_DIR").expect("CASEVAULT_TEST_S3_DIR with S3"),
        )),
    };
    let data_dir = practice.stop().await;
    let mut files = files_under(data_dir.path());
    let objects = match &s3_dir {
        None => files_under(&data_dir.path().join("objects")).len(),
        Some(dir) => files_under(dir).len(),
    };
    assert!(
        objects >= 2,
        "the encrypted objects are on disk ({objects} files)"
    );
    if let Some(dir) = &s3_dir {
        files.extend(files_under(dir));
    }
    let mut scanned = 0usize;
    for path in &files {
        let Ok(bytes) = std::fs::read(path) else {
            continue; // removed meanwhile (another test's object in the shared bucket)
        };
        scanned += bytes.len();
        for needle in needles(&marker) {
            assert!(
                !contains(&bytes, &needle),
                "{} holds {:?} in the clear",
                path.display(),
                String::from_utf8_lossy(&needle)
            );
        }
    }
    assert!(
        scanned > repeated.len(),
        "only {scanned} bytes scanned in {} files",
        files.len()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn nothing_readable_reaches_the_local_disk() {
    nothing_readable_reaches_the_disk(Backend::Local).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn nothing_readable_reaches_the_s3_bucket() {
    nothing_readable_reaches_the_disk(Backend::S3).await;
}
