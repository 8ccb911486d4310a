//! `casevault backup` and `casevault restore`: a logical copy of the metadata database and
//! the master key. The object store (encrypted file contents) is backed up separately.

use std::fs::{File, OpenOptions};
use std::io::{BufReader, BufWriter};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use casevault_crypto::Keyring;
use casevault_storage::Storage;
use clap::Args;

use super::maintenance::print_report;
use super::size::format_size;
use super::{Console, Open, audit, block_on, failed, open, storage_error};
use crate::backend::{self, BackendError};
use crate::cli::ConfigArg;

/// The metadata file in a backup folder.
pub const METADATA_FILE: &str = "metadata.cvbackup";

/// The master key copy in a backup folder.
pub const KEY_FILE: &str = "master.key";

/// `backup`.
#[derive(Debug, Args)]
pub struct BackupArgs {
    /// A new or empty folder to write `metadata.cvbackup` and `master.key` into.
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
    /// The configuration (`--config`).
    #[command(flatten)]
    pub config: ConfigArg,
}

/// `restore`.
#[derive(Debug, Args)]
pub struct RestoreArgs {
    /// A folder written by `casevault backup`.
    #[arg(long, value_name = "DIR")]
    pub from: PathBuf,
    /// The configuration (`--config`).
    #[command(flatten)]
    pub config: ConfigArg,
}

/// Runs `backup`.
pub fn backup(
    args: BackupArgs,
    env: Vec<(String, String)>,
    console: &mut Console<'_>,
) -> Result<(), String> {
    let settings = args.config.load(env)?;
    let out = &args.out;
    if out.exists() {
        let mut entries = std::fs::read_dir(out)
            .map_err(|err| format!("cannot read {}: {err}", out.display()))?;
        if entries.next().is_some() {
            return Err(format!(
                "{} is not empty: back up into a new or empty folder",
                out.display()
            ));
        }
    } else {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(out)
            .map_err(|err| format!("cannot create {}: {err}", out.display()))?;
    }
    let summary = block_on(async {
        let storage = open(&settings, Open::Existing, false).await?;
        let keyring = backend::load_keyring(&settings).map_err(|err| err.to_string())?;
        write_private(&out.join(KEY_FILE), keyring.to_text().as_bytes())?;
        let meta = storage.meta().clone();
        let path = out.join(METADATA_FILE);
        let summary = tokio::task::spawn_blocking(move || {
            let file = create_private(&path)?;
            let mut writer = BufWriter::new(file);
            let summary = meta.export(&mut writer).map_err(failed)?;
            let file = writer
                .into_inner()
                .map_err(|err| format!("cannot write {}: {err}", path.display()))?;
            file.sync_all()
                .map_err(|err| format!("cannot write {}: {err}", path.display()))?;
            Ok::<_, String>(summary)
        })
        .await
        .map_err(|err| format!("the backup task failed: {err}"))??;
        audit(&storage, "admin.backup.create").await?;
        Ok(summary)
    })?;
    console.line(format_args!(
        "metadata backup written to {}: {} records in {} trees, {}, sha256 {}",
        out.join(METADATA_FILE).display(),
        summary.records,
        summary.trees,
        format_size(summary.bytes),
        hex(&summary.sha256)
    ))?;
    console.line(format_args!(
        "master key copied to {}",
        out.join(KEY_FILE).display()
    ))?;
    console.line(
        "WARNING: store master.key apart from the object store and from the metadata backup \
         (e.g. on a different medium, locked away): whoever holds the key together with the \
         other two can read every file.",
    )?;
    console.line(
        "The object store (the encrypted file contents) is not part of this backup: back it \
         up separately.",
    )
}

/// Runs `restore`.
pub fn restore(
    args: RestoreArgs,
    env: Vec<(String, String)>,
    console: &mut Console<'_>,
) -> Result<(), String> {
    let settings = args.config.load(env)?;
    let metadata = args.from.join(METADATA_FILE);
    let key_path = args.from.join(KEY_FILE);
    let key_text = std::fs::read_to_string(&key_path)
        .map_err(|err| format!("cannot read {}: {err}", key_path.display()))?;
    let keyring = Keyring::from_env_value(&key_text)
        .map_err(|err| format!("{} is not a casevault key file: {err}", key_path.display()))?;
    let target_key = settings.master_key_file();
    let from_env = settings.security.master_key.is_some();
    if from_env {
        let env_keys = backend::load_keyring(&settings)
            .map_err(|err| err.to_string())?
            .key_ids();
        if env_keys != keyring.key_ids() {
            return Err(
                "the master key in CASEVAULT__SECURITY__MASTER_KEY is not the one in the backup: \
                 set the variable to the contents of the backup's master.key"
                    .into(),
            );
        }
    } else if target_key.exists() {
        return Err(format!(
            "{} already exists: restore into a new data folder (data_dir) without a key file",
            target_key.display()
        ));
    }
    let file = File::open(&metadata)
        .map_err(|err| format!("cannot read {}: {err}", metadata.display()))?;

    let (summary, report) = block_on(async {
        let storage = Storage::open_unswept(backend::storage_config(&settings), keyring)
            .await
            .map_err(|err| storage_error(&settings, BackendError::Storage(err)))?;
        let meta = storage.meta().clone();
        let summary = tokio::task::spawn_blocking(move || meta.import(BufReader::new(file)))
            .await
            .map_err(|err| format!("the restore task failed: {err}"))?
            .map_err(|err| format!("restore refused: {}", failed(err)))?;
        if !from_env {
            write_private(&target_key, key_text.as_bytes())?;
        }
        audit(&storage, "admin.backup.restore").await?;
        let report = storage.fsck(false).await.map_err(failed)?;
        Ok((summary, report))
    })?;
    console.line(format_args!(
        "restored {} records in {} trees into {}",
        summary.records,
        summary.trees,
        settings.data_dir.join("meta").display()
    ))?;
    if !from_env {
        console.line(format_args!(
            "master key restored to {}",
            target_key.display()
        ))?;
    }
    print_report(console, &report, false)?;
    if report.is_clean() {
        Ok(())
    } else {
        Err(
            "the metadata is restored, but the integrity check found problems (listed above); \
             if objects are missing, restore the object store and run `casevault fsck`"
                .into(),
        )
    }
}

/// Creates a new file readable only by its owner.
fn create_private(path: &Path) -> Result<File, String> {
    OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map_err(|err| format!("cannot create {}: {err}", path.display()))
}

/// Writes a new file readable only by its owner, synced to disk.
fn write_private(path: &Path, contents: &[u8]) -> Result<(), String> {
    use std::io::Write;
    let mut file = create_private(path)?;
    file.write_all(contents)
        .and_then(|()| file.sync_all())
        .map_err(|err| format!("cannot write {}: {err}", path.display()))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
