//! Shared helpers: storage on each backend, deterministic test data, body streams.

use std::convert::Infallible;
use std::path::PathBuf;

use bytes::Bytes;
use casevault_crypto::Keyring;
use casevault_storage::{
    Actor, BlobBackend, CaseRecord, FileRecord, NewCase, NewFile, OnConflict, QuotaAccount,
    S3Config, SecretString, Storage, StorageConfig, StorageError, UserId,
};
use futures::{Stream, StreamExt, stream};
use tempfile::TempDir;

/// Which object store a test runs against.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Local,
    S3,
}

/// The backends available: always local; S3 when the test command has started one.
pub fn backends() -> Vec<Backend> {
    let mut out = vec![Backend::Local];
    if s3_env().is_some() {
        out.push(Backend::S3);
    } else if std::env::var("CASEVAULT_TEST_REQUIRE_SERVICES").as_deref() == Ok("1") {
        panic!("CASEVAULT_TEST_S3_* variables are missing but CASEVAULT_TEST_REQUIRE_SERVICES=1");
    } else {
        eprintln!("note: no S3 server configured (CASEVAULT_TEST_S3_ENDPOINT); S3 runs skipped");
    }
    out
}

fn s3_env() -> Option<S3Config> {
    let var = |name: &str| std::env::var(format!("CASEVAULT_TEST_S3_{name}")).ok();
    Some(S3Config {
        endpoint: Some(var("ENDPOINT")?),
        bucket: var("BUCKET")?,
        region: var("REGION").unwrap_or_else(|| "us-east-1".into()),
        access_key_id: var("ACCESS_KEY")?,
        secret_access_key: SecretString::new(var("SECRET_KEY")?),
        allow_http: true,
        virtual_hosted_style: false,
    })
}

/// The folder of the S3 server's data, to look for plaintext in it.
pub fn s3_data_dir() -> Option<PathBuf> {
    std::env::var_os("CASEVAULT_TEST_S3_DIR").map(PathBuf::from)
}

/// A storage instance with its own data folder (and its own key prefix in the bucket).
pub struct TestStorage {
    pub storage: Storage,
    pub dir: TempDir,
    pub config: StorageConfig,
    pub keyring: Keyring,
    pub owner: UserId,
}

impl TestStorage {
    pub async fn open(backend: Backend) -> TestStorage {
        Self::open_with(backend, |_| {}).await
    }

    pub async fn open_with(
        backend: Backend,
        adjust: impl FnOnce(&mut StorageConfig),
    ) -> TestStorage {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut config = config_for(backend, dir.path().to_path_buf(), &unique_prefix());
        adjust(&mut config);
        let keyring = Keyring::generate();
        let storage = Storage::open(config.clone(), clone_keyring(&keyring))
            .await
            .expect("open storage");
        let t = TestStorage {
            storage,
            dir,
            config,
            keyring,
            owner: UserId::random(),
        };
        t.set_quota(1 << 40).await;
        t
    }

    /// Reopens the same data (as after a restart), running recovery.
    pub async fn reopen(self) -> TestStorage {
        let TestStorage {
            storage,
            dir,
            config,
            keyring,
            owner,
        } = self;
        drop(storage);
        let storage = Storage::open(config.clone(), clone_keyring(&keyring))
            .await
            .expect("reopen storage");
        TestStorage {
            storage,
            dir,
            config,
            keyring,
            owner,
        }
    }

    pub fn account(&self) -> QuotaAccount {
        QuotaAccount::User(self.owner)
    }

    pub async fn set_quota(&self, limit: u64) {
        self.storage
            .meta()
            .set_quota_limit(self.account(), limit)
            .await
            .expect("set quota");
    }

    pub async fn case(&self) -> CaseRecord {
        self.storage
            .create_case(NewCase {
                account: self.account(),
                created_by: self.owner,
                patient_ref: "PAT-0001".into(),
                title: "Implant 36".into(),
                comments: String::new(),
                labels: vec![],
                expires_at: None,
            })
            .await
            .expect("create case")
    }

    pub async fn upload(
        &self,
        case: &CaseRecord,
        name: &str,
        data: &[u8],
    ) -> Result<FileRecord, StorageError> {
        self.storage
            .upload(new_file(case, name), pieces(data.to_vec(), 10_000))
            .await
    }

    pub async fn read_all(
        &self,
        file: &FileRecord,
        range: Option<std::ops::Range<u64>>,
    ) -> Result<Vec<u8>, StorageError> {
        let mut stream = self.storage.read_file(file, range).await?;
        let mut out = Vec::new();
        while let Some(piece) = stream.next().await {
            out.extend_from_slice(&piece?);
        }
        Ok(out)
    }

    /// The local object store's file holding a file's encrypted object.
    pub fn local_object(&self, file: &FileRecord) -> PathBuf {
        files_under(&self.dir.path().join("objects"))
            .into_iter()
            .find(|p| p.to_string_lossy().contains(&file.blob.to_string()))
            .expect("the file's object on disk")
    }

    pub async fn assert_clean(&self) {
        let report = self.storage.fsck(true).await.expect("fsck");
        assert!(report.is_clean(), "integrity check failed: {report:#?}");
        assert_eq!(report.pending_uploads, 0, "{report:#?}");
    }
}

pub fn config_for(backend: Backend, data_dir: PathBuf, prefix: &str) -> StorageConfig {
    let mut config = StorageConfig::local(data_dir);
    config.chunk_size = 4096;
    if backend == Backend::S3 {
        config.backend = BlobBackend::S3(s3_env().expect("S3 settings"));
    }
    config.key_prefix = Some(prefix.to_string());
    config
}

pub fn unique_prefix() -> String {
    format!("t{}", casevault_storage::UploadId::random())
}

pub fn new_file(case: &CaseRecord, name: &str) -> NewFile {
    NewFile {
        case: case.id,
        folder: None,
        name: name.to_string(),
        uploaded_by: Actor::System,
        expected_size: None,
        on_conflict: OnConflict::Fail,
        owner_only: false,
        grant: None,
        uploader: None,
    }
}

/// Deterministic pseudo-random bytes.
pub fn data(len: usize, seed: u64) -> Vec<u8> {
    let mut state = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state as u8
        })
        .collect()
}

/// A body stream delivering `data` in pieces of `piece` bytes.
pub fn pieces(
    data: Vec<u8>,
    piece: usize,
) -> impl Stream<Item = Result<Bytes, Infallible>> + Unpin {
    let chunks: Vec<Result<Bytes, Infallible>> = data
        .chunks(piece.max(1))
        .map(|c| Ok(Bytes::copy_from_slice(c)))
        .collect();
    stream::iter(chunks)
}

/// Every file under `dir`, recursively.
pub fn files_under(dir: &std::path::Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else {
                out.push(path);
            }
        }
    }
    out
}

/// Whether `needle` occurs in any file under `dir` (file names included).
pub fn occurs_under(dir: &std::path::Path, needle: &[u8]) -> Option<PathBuf> {
    files_under(dir).into_iter().find(|path| {
        let in_name = path
            .to_string_lossy()
            .as_bytes()
            .windows(needle.len())
            .any(|w| w == needle);
        let in_body =
            std::fs::read(path).is_ok_and(|body| body.windows(needle.len()).any(|w| w == needle));
        in_name || in_body
    })
}

/// A copy of a keyring (through its text form, as a restart would load it).
pub fn clone_keyring(keyring: &Keyring) -> Keyring {
    Keyring::from_env_value(&keyring.to_text()).expect("keyring text round trip")
}
