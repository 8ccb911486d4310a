//! Storage configuration (a part of the server's settings).

use std::fmt;
use std::path::PathBuf;

use serde::Deserialize;

/// A secret string whose `Debug` output is redacted.
#[derive(Clone, Deserialize, PartialEq, Eq)]
#[serde(transparent)]
pub struct SecretString(String);

impl SecretString {
    /// Wraps a secret.
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The secret itself, for the one place that needs it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for SecretString {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

/// Where encrypted objects are kept.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum BlobBackend {
    /// Files under `<data_dir>/objects`.
    #[default]
    Local,
    /// An S3-compatible service.
    S3(S3Config),
}

/// Connection settings for an S3-compatible service.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct S3Config {
    /// Endpoint URL (e.g. `https://s3.example.org`); AWS's when absent.
    pub endpoint: Option<String>,
    /// Bucket name.
    pub bucket: String,
    /// Region; must match the service's (Garage: its `s3_region`).
    pub region: String,
    /// Access key id.
    pub access_key_id: String,
    /// Secret access key.
    pub secret_access_key: SecretString,
    /// Allow a plain-HTTP endpoint (only for a store on a trusted local network).
    pub allow_http: bool,
    /// Virtual-hosted-style requests (`bucket.host`); path-style otherwise.
    pub virtual_hosted_style: bool,
}

/// Everything the storage layer needs to open.
#[derive(Clone, Debug)]
pub struct StorageConfig {
    /// Folder holding the metadata database (and, for the local backend, the objects).
    pub data_dir: PathBuf,
    /// Where objects go.
    pub backend: BlobBackend,
    /// Ciphertext bytes per multipart part; `None` picks the backend's default (1 MiB local,
    /// 8 MiB S3), and S3's 5 MiB minimum always applies.
    pub part_size: Option<usize>,
    /// Parts uploaded concurrently per transfer.
    pub parts_in_flight: usize,
    /// Plaintext bytes per encrypted chunk for new files.
    pub chunk_size: u32,
    /// Optional prefix of every object key (to share a bucket); keys stay opaque.
    pub key_prefix: Option<String>,
}

impl StorageConfig {
    /// Defaults for a data folder with the local object store.
    pub fn local(data_dir: impl Into<PathBuf>) -> Self {
        StorageConfig {
            data_dir: data_dir.into(),
            backend: BlobBackend::Local,
            part_size: None,
            parts_in_flight: 2,
            chunk_size: casevault_crypto::DEFAULT_CHUNK_SIZE,
            key_prefix: None,
        }
    }
}
