//! Settings: one [`Settings`] struct built from defaults, then an optional TOML file, then
//! environment variables (`CASEVAULT__SECTION__KEY`, a double underscore between levels).
//!
//! [`Settings::load`] does the layering, reads `*_file` secrets (refusing files that group or
//! others may access) and validates the result; every error names the setting at fault, as in
//! `invalid setting http.port: ...`. Unknown keys are rejected.

mod duration;
mod layers;
mod secret;
mod validate;

use std::net::{IpAddr, Ipv4Addr};
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};

pub use layers::ENV_PREFIX;
pub use secret::Secret;

/// Why the settings could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The configuration file could not be read.
    #[error("cannot read configuration file {path}: {source}")]
    ReadFile {
        /// The file given with `--config`.
        path: PathBuf,
        /// The underlying I/O error.
        source: std::io::Error,
    },
    /// The configuration file is not valid TOML.
    #[error("configuration file {path} is not valid TOML: {message}")]
    Syntax {
        /// The file given with `--config`.
        path: PathBuf,
        /// The parser's description of the problem.
        message: String,
    },
    /// A setting has a wrong type, an invalid value, or is unknown.
    #[error("invalid setting {setting}: {message}")]
    Invalid {
        /// The dotted name of the setting, e.g. `http.port`.
        setting: String,
        /// What is wrong with it.
        message: String,
    },
}

impl ConfigError {
    /// An [`ConfigError::Invalid`] for `setting`.
    pub fn invalid(setting: impl Into<String>, message: impl Into<String>) -> Self {
        Self::Invalid {
            setting: setting.into(),
            message: message.into(),
        }
    }
}

/// Everything the server can be configured with.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Settings {
    /// Directory for the metadata database, the local object store, the generated TLS
    /// certificate and, by default, the master key file. Default `./casevault-data`.
    pub data_dir: PathBuf,
    /// The HTTPS listener, TLS and connection limits.
    pub http: HttpSettings,
    /// Where encrypted file contents are stored.
    pub storage: StorageSettings,
    /// Key material.
    pub security: SecuritySettings,
    /// Outgoing mail; mail is disabled when this section is absent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub smtp: Option<SmtpSettings>,
    /// Logging.
    pub log: LogSettings,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            data_dir: PathBuf::from("./casevault-data"),
            http: HttpSettings::default(),
            storage: StorageSettings::default(),
            security: SecuritySettings::default(),
            smtp: None,
            log: LogSettings::default(),
        }
    }
}

impl Settings {
    /// Builds the settings from the defaults, the TOML file at `file` (if any) and the
    /// `CASEVAULT__…` entries of `env` (pass `std::env::vars()`), reads `*_file` secrets and
    /// validates the result.
    pub fn load(
        file: Option<&Path>,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Self, ConfigError> {
        let mut settings: Settings = layers::merge(file, env)?;
        validate::finish(&mut settings)?;
        Ok(settings)
    }

    /// The master key file: `security.master_key_file`, or `master.key` in the data directory.
    pub fn master_key_file(&self) -> PathBuf {
        self.security
            .master_key_file
            .clone()
            .unwrap_or_else(|| self.data_dir.join("master.key"))
    }

    /// The directory for the generated self-signed certificate.
    pub fn tls_dir(&self) -> PathBuf {
        self.data_dir.join("tls")
    }

    /// The public base URL (no trailing slash): `http.public_url`, or
    /// `https://localhost:PORT` with the port the HTTPS listener is bound to.
    pub fn public_url(&self, bound_port: u16) -> String {
        match &self.http.public_url {
            Some(url) => url.trim_end_matches('/').to_owned(),
            None => format!("https://localhost:{bound_port}"),
        }
    }

    /// The effective settings as TOML, secrets shown as `[redacted]`.
    pub fn to_redacted_toml(&self) -> Result<String, toml::ser::Error> {
        toml::to_string_pretty(self)
    }
}

/// The HTTPS listener.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct HttpSettings {
    /// Address to listen on. Default `0.0.0.0`.
    pub bind: IpAddr,
    /// HTTPS port; `0` picks a free port (tests). Default `8443`.
    pub port: u16,
    /// Public base URL used in links and redirects, e.g. `https://files.example-clinic.org`.
    /// Default: `https://localhost:PORT`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub public_url: Option<String>,
    /// Optional plain-HTTP port that only answers `308` redirects to the public URL.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub redirect_port: Option<u16>,
    /// PEM certificate chain. When both `tls_cert` and `tls_key` are absent, a self-signed
    /// certificate for localhost is generated in `DATA_DIR/tls/` and reused.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tls_cert: Option<PathBuf>,
    /// PEM private key (PKCS#8, PKCS#1 or SEC1) matching `tls_cert`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tls_key: Option<PathBuf>,
    /// How often the certificate files are checked for changes (SIGHUP reloads at once).
    /// Default `30s`.
    #[serde(with = "duration")]
    pub tls_reload_interval: Duration,
    /// Timeouts.
    pub timeouts: HttpTimeouts,
    /// Connection and request limits.
    pub limits: HttpLimits,
}

impl Default for HttpSettings {
    fn default() -> Self {
        Self {
            bind: IpAddr::V4(Ipv4Addr::UNSPECIFIED),
            port: 8443,
            public_url: None,
            redirect_port: None,
            tls_cert: None,
            tls_key: None,
            tls_reload_interval: Duration::from_secs(30),
            timeouts: HttpTimeouts::default(),
            limits: HttpLimits::default(),
        }
    }
}

/// Timeouts of the HTTP stack. Durations are written like `10s`, `500ms` or `2m`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct HttpTimeouts {
    /// Time allowed for the TLS handshake. Default `10s`.
    #[serde(with = "duration")]
    pub tls_handshake: Duration,
    /// Time allowed to receive a request's headers. For HTTP/1.1 the clock also runs while a
    /// kept-alive connection waits for its next request. Default `10s`.
    #[serde(with = "duration")]
    pub header_read: Duration,
    /// A connection with no request in flight for this long is closed, and so is one whose
    /// peer has not accepted a single byte of response for this long. Default `60s`.
    #[serde(with = "duration")]
    pub idle: Duration,
    /// On shutdown, how long in-flight requests may still run. Default `30s`.
    #[serde(with = "duration")]
    pub shutdown_grace: Duration,
}

impl Default for HttpTimeouts {
    fn default() -> Self {
        Self {
            tls_handshake: Duration::from_secs(10),
            header_read: Duration::from_secs(10),
            idle: Duration::from_secs(60),
            shutdown_grace: Duration::from_secs(30),
        }
    }
}

/// Limits of the HTTP stack.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct HttpLimits {
    /// Largest request head (request line and headers) in bytes. Default 16 KiB.
    pub max_header_size: usize,
    /// Connections served at once; further clients wait in the listen backlog. Default 1024.
    pub max_connections: usize,
    /// Concurrent HTTP/2 streams per connection. Default 64.
    pub h2_max_concurrent_streams: u32,
    /// Slowest accepted request body, in bytes per second, averaged over
    /// `min_transfer_window`. A body slower than this fails with 408. Default 1024.
    pub min_transfer_rate: u64,
    /// The window over which `min_transfer_rate` is measured. Default `30s`.
    #[serde(with = "duration")]
    pub min_transfer_window: Duration,
}

impl Default for HttpLimits {
    fn default() -> Self {
        Self {
            max_header_size: 16 * 1024,
            max_connections: 1024,
            h2_max_concurrent_streams: 64,
            min_transfer_rate: 1024,
            min_transfer_window: Duration::from_secs(30),
        }
    }
}

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

/// Outgoing mail.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SmtpSettings {
    /// SMTP server host name.
    pub host: String,
    /// SMTP server port. Default 587.
    #[serde(default = "default_smtp_port")]
    pub port: u16,
    /// User name, when the server needs authentication.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    /// Password; or use `password_file`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password: Option<Secret>,
    /// File holding the password (mode 0600 or stricter).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password_file: Option<PathBuf>,
    /// Sender address, e.g. `casevault <noreply@example-clinic.org>`.
    pub from: String,
    /// Transport security. Default `starttls`.
    #[serde(default)]
    pub tls: SmtpTls,
}

fn default_smtp_port() -> u16 {
    587
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
    /// No encryption: only for a relay on the same host.
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

#[cfg(test)]
mod tests;
