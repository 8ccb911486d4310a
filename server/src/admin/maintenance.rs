//! `casevault rotate-key` and `casevault fsck`.

use casevault_storage::{FsckReport, QuotaAccount};
use clap::Args;

use super::{Console, Open, audit, block_on, failed, open};
use crate::cli::ConfigArg;

/// `rotate-key`.
#[derive(Debug, Args)]
pub struct RotateKeyArgs {
    /// The configuration (`--config`).
    #[command(flatten)]
    pub config: ConfigArg,
}

/// `fsck`.
#[derive(Debug, Args)]
pub struct FsckArgs {
    /// Also decrypt every stored file and compare it with its recorded checksum (reads the
    /// whole object store: slow on large installations).
    #[arg(long)]
    pub deep: bool,
    /// First clean up what interrupted uploads and deletions left behind: abort unfinished
    /// uploads and delete objects that no file uses.
    #[arg(long)]
    pub repair: bool,
    /// The configuration (`--config`).
    #[command(flatten)]
    pub config: ConfigArg,
}

/// Runs `rotate-key`.
pub fn rotate_key(
    args: RotateKeyArgs,
    env: Vec<(String, String)>,
    console: &mut Console<'_>,
) -> Result<(), String> {
    let settings = args.config.load(env)?;
    if settings.security.master_key.is_some() {
        return Err(
            "the master key comes from CASEVAULT__SECURITY__MASTER_KEY (security.master_key), \
             and casevault cannot save a new key there. To rotate: write the variable's value \
             to a file readable only by the server's user (chmod 600), set \
             security.master_key_file to that file, unset the variable, run `casevault \
             rotate-key`, then keep using the key file (or copy its new contents back into the \
             variable)"
                .into(),
        );
    }
    let key_file = settings.master_key_file();
    let (rewrapped, key_ids) = block_on(async {
        let storage = open(&settings, Open::Existing, true).await?;
        let rewrapped = storage
            .rotate_master_key(Some(&key_file))
            .await
            .map_err(failed)?;
        audit(&storage, "admin.key.rotate").await?;
        Ok((rewrapped, storage.master_key_ids().map_err(failed)?))
    })?;
    let current = key_ids.first().map(ToString::to_string).unwrap_or_default();
    console.line(format_args!(
        "new master key {current} saved in {}",
        key_file.display()
    ))?;
    console.line(format_args!("{rewrapped} case keys re-wrapped with it"))?;
    if key_ids.len() > 1 {
        console.line(format_args!(
            "{} older keys are still needed by some cases and were kept",
            key_ids.len() - 1
        ))?;
    }
    console.line(
        "Replace every stored copy of the key file with the new one. Metadata backups made \
         before now still need the master.key kept with them.",
    )
}

/// Runs `fsck`: exit status 0 when everything is consistent, an error when not.
pub fn fsck(
    args: FsckArgs,
    env: Vec<(String, String)>,
    console: &mut Console<'_>,
) -> Result<(), String> {
    let settings = args.config.load(env)?;
    let report = block_on(async {
        let storage = open(&settings, Open::Existing, false).await?;
        if args.repair {
            let swept = storage.recover().await.map_err(failed)?;
            audit(&storage, "admin.fsck.repair").await?;
            console.line(format_args!(
                "repair: {} interrupted uploads aborted, {} queued deletions done, {} orphan objects deleted, {} shares of deleted items removed",
                swept.uploads_aborted, swept.garbage_deleted, swept.orphans_deleted, swept.grants_pruned
            ))?;
        }
        storage.fsck(args.deep).await.map_err(failed)
    })?;
    print_report(console, &report, args.deep)?;
    if report.is_clean() {
        Ok(())
    } else {
        Err("the integrity check found problems (listed above)".into())
    }
}

/// Prints an integrity report for people.
pub fn print_report(
    console: &mut Console<'_>,
    report: &FsckReport,
    deep: bool,
) -> Result<(), String> {
    let check = if deep { "deep check" } else { "check" };
    console.line(format_args!(
        "{check}: {} files, {} uploads in progress, {} objects queued for deletion, {} audit entries",
        report.files, report.pending_uploads, report.garbage, report.audit.entries
    ))?;
    for file in &report.missing_objects {
        console.line(format_args!(
            "problem: file {file}: its object is missing from the object store"
        ))?;
    }
    for file in &report.size_mismatches {
        console.line(format_args!(
            "problem: file {file}: its object has the wrong size"
        ))?;
    }
    for file in &report.corrupt {
        console.line(format_args!(
            "problem: file {file}: fails to decrypt or its checksum differs"
        ))?;
    }
    for blob in &report.orphans {
        console.line(format_args!(
            "problem: object {blob}: no file uses it (`casevault fsck --repair` deletes it)"
        ))?;
    }
    for drift in &report.quota_drift {
        let account = match drift.account {
            QuotaAccount::User(id) => format!("user {id}"),
            QuotaAccount::Org(id) => format!("organisation {id}"),
        };
        console.line(format_args!(
            "problem: quota of {account}: recorded {} used / {} reserved, actual {} / {}",
            drift.recorded_used, drift.recorded_reserved, drift.actual_used, drift.actual_reserved
        ))?;
    }
    let grants = &report.grants;
    for grant in &grants.missing_targets {
        console.line(format_args!(
            "problem: share {grant}: what it points at is gone (`casevault fsck --repair` removes it)"
        ))?;
    }
    for grant in &grants.unindexed {
        console.line(format_args!(
            "problem: share {grant}: an index entry is missing"
        ))?;
    }
    if grants.stray_index_entries > 0 {
        console.line(format_args!(
            "problem: {} share index entries name no matching share",
            grants.stray_index_entries
        ))?;
    }
    for file in &grants.stray_uploaders {
        console.line(format_args!(
            "problem: uploader entry of file {file}: the file is gone"
        ))?;
    }
    if let Some(broken) = &report.audit.first_break {
        console.line(format_args!(
            "problem: the audit log is broken at entry {}: {}",
            broken.seq, broken.reason
        ))?;
    }
    if report.is_clean() {
        console.line("no problems found")
    } else {
        Ok(())
    }
}
