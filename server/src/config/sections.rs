//! The `[storage]`, `[security]`, `[smtp]` and `[log]` sections.

use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::{Secret, duration};

/// Where file contents are stored.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct StorageSettings {
    /// `local` (files under the data directory) or `s3`. Default `local`.
    pub backend: StorageBackend,
    /// The S3-compatible object store; required when `backend = "s3"`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub s3: Option<S3Settings>,
}

/// The object store kind.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StorageBackend {
    /// The local filesystem, under the data directory.
    #[default]
    Local,
    /// An S3-compatible object store (Garage, MinIO, AWS…).
    S3,
}

/// An S3-compatible object store.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct S3Settings {
    /// Endpoint URL, e.g. `http://127.0.0.1:3900`; absent means AWS.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub endpoint: Option<String>,
    /// Bucket name (required).
    pub bucket: String,
    /// Region; it must match the server's (Garage: its `s3_region`). Default `us-east-1`.
    pub region: String,
    /// Access key id (required).
    pub access_key_id: String,
    /// Secret access key: this or `secret_access_key_file` is required.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub secret_access_key: Option<Secret>,
    /// File holding the secret access key (mode 0600 or stricter).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub secret_access_key_file: Option<PathBuf>,
    /// Allow a plain-HTTP endpoint. Default false.
    pub allow_http: bool,
    /// Use virtual-hosted-style URLs (`bucket.host`) instead of path style. Default false.
    pub virtual_hosted_style: bool,
}

impl Default for S3Settings {
    fn default() -> Self {
        Self {
            endpoint: None,
            bucket: String::new(),
            region: "us-east-1".to_owned(),
            access_key_id: String::new(),
            secret_access_key: None,
            secret_access_key_file: None,
            allow_http: false,
            virtual_hosted_style: false,
        }
    }
}

/// Key material.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SecuritySettings {
    /// The master key file (mode 0600 or stricter). Default `DATA_DIR/master.key`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub master_key_file: Option<PathBuf>,
    /// The master key itself; accepted only from the environment
    /// (`CASEVAULT__SECURITY__MASTER_KEY`), never from the file. Takes precedence over
    /// `master_key_file`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub master_key: Option<Secret>,
}

/// Outgoing mail. Messages wait in a queue in the metadata database and are retried with
/// a growing delay (`retry_initial`, ×4 each time, at most `retry_max`) until they are sent
/// or `give_up_after` has passed. Durations are written like `30s`, `10m` or `2days`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SmtpSettings {
    /// SMTP server host name (required).
    pub host: String,
    /// SMTP server port. Default 587.
    #[serde(default = "default_smtp_port")]
    pub port: u16,
    /// User name, when the server needs authentication (with `password`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    /// Password; or use `password_file`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password: Option<Secret>,
    /// File holding the password (mode 0600 or stricter).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password_file: Option<PathBuf>,
    /// Sender address, e.g. `casevault <noreply@example-clinic.org>` (required).
    pub from: String,
    /// Transport security. Default `starttls`.
    #[serde(default)]
    pub tls: SmtpTls,
    /// Time allowed to connect and for each SMTP command. Default `30s`.
    #[serde(default = "default_smtp_timeout", with = "duration")]
    pub timeout: Duration,
    /// Wait before the first retry of a failed delivery. Default `30s`.
    #[serde(default = "default_retry_initial", with = "duration")]
    pub retry_initial: Duration,
    /// Longest wait between two retries. Default `1h`.
    #[serde(default = "default_retry_max", with = "duration")]
    pub retry_max: Duration,
    /// A message still not delivered this long after it was queued is given up on (and
    /// shown as failed to its sender). Default `2days`.
    #[serde(default = "default_give_up_after", with = "duration")]
    pub give_up_after: Duration,
}

impl Default for SmtpSettings {
    /// Empty `host` and `from` (which validation refuses), defaults elsewhere.
    fn default() -> Self {
        Self {
            host: String::new(),
            port: default_smtp_port(),
            username: None,
            password: None,
            password_file: None,
            from: String::new(),
            tls: SmtpTls::default(),
            timeout: default_smtp_timeout(),
            retry_initial: default_retry_initial(),
            retry_max: default_retry_max(),
            give_up_after: default_give_up_after(),
        }
    }
}

fn default_smtp_port() -> u16 {
    587
}

fn default_smtp_timeout() -> Duration {
    Duration::from_secs(30)
}

fn default_retry_initial() -> Duration {
    Duration::from_secs(30)
}

fn default_retry_max() -> Duration {
    Duration::from_secs(3600)
}

fn default_give_up_after() -> Duration {
    Duration::from_secs(2 * 24 * 3600)
}

/// How the SMTP connection is secured.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SmtpTls {
    /// Plain connection upgraded with STARTTLS (port 587).
    #[default]
    Starttls,
    /// TLS from the first byte (port 465).
    Tls,
    /// No encryption: only for a relay on the same host (or a test sink).
    None,
}

/// Logging.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LogSettings {
    /// A `tracing` filter such as `info` or `info,casevault_server=debug`. Default `info`.
    pub filter: String,
}

impl Default for LogSettings {
    fn default() -> Self {
        Self {
            filter: "info".to_owned(),
        }
    }
}
