//! Crash consistency: a writer process is killed (SIGKILL) at random points while it
//! uploads, replaces and deletes files; after each kill, recovery runs and the integrity
//! check must find no partial file, no quota drift and no orphan.

use std::process::{Command, Stdio};
use std::time::Duration;

use casevault_crypto::Keyring;
use casevault_storage::{OnConflict, QuotaAccount, Storage, StorageConfig, UserId};
use rand::RngExt;

use crate::support::{Backend, backends, config_for, data, new_file, pieces, unique_prefix};

const CHILD_DIR: &str = "CASEVAULT_CRASH_CHILD_DIR";
const CHILD_BACKEND: &str = "CASEVAULT_CRASH_CHILD_BACKEND";
const CHILD_PREFIX: &str = "CASEVAULT_CRASH_CHILD_PREFIX";
const OWNER: UserId = UserId([7; 16]);

fn config(backend: Backend, dir: &std::path::Path, prefix: &str) -> StorageConfig {
    let mut config = config_for(backend, dir.to_path_buf(), prefix);
    config.part_size = Some(64 * 1024);
    config
}

/// Entry point of the child process (run by `crash_at_random_points_leaves_no_partial_file`
/// through this same test binary); ignored in ordinary runs.
#[tokio::test(flavor = "multi_thread")]
#[ignore = "child process of the crash test"]
async fn crash_writer_child() {
    let dir = std::path::PathBuf::from(std::env::var(CHILD_DIR).expect("child dir"));
    let backend = if std::env::var(CHILD_BACKEND).as_deref() == Ok("s3") {
        Backend::S3
    } else {
        Backend::Local
    };
    let prefix = std::env::var(CHILD_PREFIX).expect("prefix");
    let keyring = Keyring::load_or_create(&dir.join("master.key")).expect("key file");
    let storage = Storage::open(config(backend, &dir, &prefix), keyring)
        .await
        .expect("open");
    let case = match storage
        .meta()
        .all_cases()
        .await
        .expect("cases")
        .into_iter()
        .next()
    {
        Some(case) => case,
        None => {
            storage
                .meta()
                .set_quota_limit(QuotaAccount::User(OWNER), 1 << 40)
                .await
                .expect("quota");
            storage
                .create_case(casevault_storage::NewCase {
                    account: QuotaAccount::User(OWNER),
                    created_by: OWNER,
                    patient_ref: "crash".into(),
                    title: String::new(),
                    comments: String::new(),
                    labels: vec![],
                    expires_at: None,
                })
                .await
                .expect("case")
        }
    };
    println!("ready");
    for i in 0u64.. {
        let (size, piece, action) = {
            let mut rng = rand::rng();
            (
                rng.random_range(0..400_000usize),
                rng.random_range(1..70_000usize),
                rng.random_range(0..10u8),
            )
        };
        let files = storage.meta().files_of(case.id).await.expect("files");
        if action < 2 && !files.is_empty() {
            let victim = &files[(i as usize) % files.len()];
            storage.delete_file(victim.id).await.expect("delete");
            continue;
        }
        let mut request = new_file(&case, &format!("file-{}", i % 12));
        request.on_conflict = OnConflict::Replace;
        if action < 5 {
            request.expected_size = Some(size as u64);
        }
        storage
            .upload(request, pieces(data(size, i), piece))
            .await
            .expect("upload");
    }
}

fn spawn_child(backend: Backend, dir: &std::path::Path, prefix: &str) -> std::process::Child {
    Command::new(std::env::current_exe().expect("test binary"))
        .args([
            "crash::crash_writer_child",
            "--exact",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD_DIR, dir)
        .env(
            CHILD_BACKEND,
            if backend == Backend::S3 {
                "s3"
            } else {
                "local"
            },
        )
        .env(CHILD_PREFIX, prefix)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn writer")
}

#[tokio::test(flavor = "multi_thread")]
async fn crash_at_random_points_leaves_no_partial_file() {
    for backend in backends() {
        let iterations = if backend == Backend::Local { 50 } else { 20 };
        let dir = tempfile::tempdir().expect("dir");
        let prefix = unique_prefix();
        Keyring::load_or_create(&dir.path().join("master.key")).expect("key file");
        let mut committed_seen = 0usize;
        for iteration in 0..iterations {
            let mut child = spawn_child(backend, dir.path(), &prefix);
            let delay = rand::rng().random_range(150..900u64);
            tokio::time::sleep(Duration::from_millis(delay)).await;
            child.kill().expect("kill writer");
            child.wait().expect("reap writer");

            let keyring =
                Keyring::load_or_create(&dir.path().join("master.key")).expect("key file");
            let storage = Storage::open(config(backend, dir.path(), &prefix), keyring)
                .await
                .expect("reopen");
            let report = storage.fsck(true).await.expect("fsck");
            assert!(
                report.is_clean(),
                "{backend:?} iteration {iteration}: {report:#?}"
            );
            assert_eq!(
                report.pending_uploads, 0,
                "{backend:?} iteration {iteration}"
            );
            assert_eq!(report.garbage, 0, "{backend:?} iteration {iteration}");
            let quota = storage
                .meta()
                .quota(QuotaAccount::User(OWNER))
                .await
                .expect("quota");
            assert_eq!(quota.reserved, 0);
            committed_seen = committed_seen.max(report.files);
        }
        assert!(
            committed_seen > 0,
            "{backend:?}: the writer never committed a file; the test proves nothing"
        );
    }
}
