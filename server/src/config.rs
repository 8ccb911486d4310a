//! Settings: one [`Settings`] struct built from defaults, then an optional TOML file, then
//! environment variables (`CASEVAULT__SECTION__KEY`, a double underscore between levels).
//!
//! [`Settings::load`] does the layering, reads `*_file` secrets (refusing files that group or
//! others may access) and validates the result; every error names the setting at fault, as in
//! `invalid setting http.port: ...`. Unknown keys are rejected.

mod duration;
mod http;
mod layers;
mod secret;
mod sections;
mod shares;
mod validate;

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

pub use http::{HttpLimits, HttpSettings, HttpTimeouts};
pub use layers::ENV_PREFIX;
pub use secret::Secret;
pub use sections::{
    LogSettings, S3Settings, SecuritySettings, SmtpSettings, SmtpTls, StorageBackend,
    StorageSettings,
};
pub use shares::ShareSettings;

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
    /// Shares: expiry, reminders, link locking.
    pub shares: ShareSettings,
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
            shares: ShareSettings::default(),
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

#[cfg(test)]
mod tests;
