//! Administration commands: users, organisations, quotas, key rotation, the integrity check,
//! backup and restore. Each opens storage from the same settings as `serve` (so it must run
//! while the server is stopped: sled allows one process at a time), writes an audit entry
//! (actor `System`) for every change, and returns the message to print on failure.

pub mod backup;
pub mod maintenance;
pub mod orgs;
pub mod size;
pub mod users;

use std::io::{BufRead, Write};

use casevault_storage::{Actor, AuditEvent, Outcome, Storage, StorageError};

use crate::backend::{self, BackendError};
use crate::config::Settings;

/// The storage and crypto crates the commands work on, re-exported for programs (and the
/// end-to-end tests) that drive the commands and inspect what they changed.
pub use casevault_crypto as crypto;
pub use casevault_storage as storage;

/// Where a command reads its input (a password from `--password-stdin`) and writes its
/// report. The binary passes stdin and stdout; tests pass buffers.
pub struct Console<'a> {
    /// Standard input.
    pub input: &'a mut dyn BufRead,
    /// Standard output.
    pub output: &'a mut dyn Write,
}

impl Console<'_> {
    /// Writes one line of the report.
    pub fn line(&mut self, text: impl std::fmt::Display) -> Result<(), String> {
        writeln!(self.output, "{text}").map_err(|err| format!("cannot write the output: {err}"))
    }
}

/// Whether a command may create the data folder (a first `user create` before the server
/// ever ran) or needs an existing database.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Open {
    /// Refuse when there is no metadata database yet.
    Existing,
    /// Create the database and the master key file when missing.
    CreateIfMissing,
}

/// Runs a command's async body on a small runtime of its own.
pub(crate) fn block_on<T>(
    work: impl std::future::Future<Output = Result<T, String>>,
) -> Result<T, String> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|err| format!("cannot start the async runtime: {err}"))?
        .block_on(work)
}

/// Opens storage as the server would, without the recovery sweep when `sweep` is false.
pub(crate) async fn open(settings: &Settings, mode: Open, sweep: bool) -> Result<Storage, String> {
    let meta_dir = settings.data_dir.join("meta");
    if !meta_dir.exists() {
        if mode == Open::Existing {
            return Err(format!(
                "no casevault database in {}: check data_dir (--config or CASEVAULT__DATA_DIR)",
                settings.data_dir.display()
            ));
        }
        std::os::unix::fs::DirBuilderExt::mode(std::fs::DirBuilder::new().recursive(true), 0o700)
            .create(&settings.data_dir)
            .map_err(|err| format!("cannot create {}: {err}", settings.data_dir.display()))?;
    } else if settings.security.master_key.is_none() && !settings.master_key_file().exists() {
        return Err(format!(
            "the master key file {} is missing; without it the stored files cannot be read. \
             Put the key file back (from where you keep its copy) or set security.master_key_file",
            settings.master_key_file().display()
        ));
    }
    let keyring = backend::load_keyring(settings).map_err(|err| err.to_string())?;
    let config = backend::storage_config(settings);
    let opened = if sweep {
        Storage::open(config, keyring).await
    } else {
        Storage::open_unswept(config, keyring).await
    };
    opened.map_err(|err| storage_error(settings, BackendError::Storage(err)))
}

/// The message for a storage error, with plain advice for a database in use.
pub(crate) fn storage_error(settings: &Settings, err: BackendError) -> String {
    match err {
        BackendError::Storage(StorageError::Locked(_)) => format!(
            "the metadata database is in use: stop the server first ({} is locked by another process)",
            settings.data_dir.join("meta").display()
        ),
        other => other.to_string(),
    }
}

/// Records an administration action in the audit log.
pub(crate) async fn audit(storage: &Storage, action: &str) -> Result<(), String> {
    storage
        .meta()
        .audit(AuditEvent {
            actor: Actor::System,
            action: action.to_owned(),
            case: None,
            file: None,
            grant: None,
            ip: None,
            outcome: Outcome::Success,
        })
        .await
        .map(drop)
        .map_err(|err| format!("the change was made but could not be audited: {err}"))
}

/// A storage error as a message.
pub(crate) fn failed(err: StorageError) -> String {
    match err {
        StorageError::Locked(_) => {
            "the metadata database is in use: stop the server first".to_owned()
        }
        other => other.to_string(),
    }
}
