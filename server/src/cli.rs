//! The command line: `casevault serve`, `casevault config check` and the administration
//! commands (users, organisations, quotas, key rotation, integrity check, backup and
//! restore), which live in [`crate::admin`] and run while the server is stopped.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};
use tokio_util::sync::CancellationToken;

use crate::admin::backup::{BackupArgs, RestoreArgs};
use crate::admin::maintenance::{FsckArgs, RotateKeyArgs};
use crate::admin::orgs::{OrgCommand, QuotaCommand};
use crate::admin::users::UserCommand;
use crate::admin::{self, Console};
use crate::config::Settings;
use crate::server::Server;
use crate::{signals, telemetry};

/// casevault: encrypted file sharing for medical and dental practices.
///
/// The administration commands (user, org, quota, rotate-key, fsck, backup, restore) read the
/// same configuration as `serve` and need the server to be stopped first.
#[derive(Debug, Parser)]
#[command(name = "casevault", version)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The sub-commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the HTTPS server.
    Serve(ConfigArg),
    /// Inspect the configuration.
    Config {
        /// What to do with it.
        #[command(subcommand)]
        command: ConfigCommand,
    },
    /// Manage user accounts: create, list, disable, enable, reset-password.
    User {
        /// What to do.
        #[command(subcommand)]
        command: UserCommand,
    },
    /// Manage organisations (clinics) and their members.
    Org {
        /// What to do.
        #[command(subcommand)]
        command: OrgCommand,
    },
    /// Change storage limits.
    Quota {
        /// What to do.
        #[command(subcommand)]
        command: QuotaCommand,
    },
    /// Replace the master key and re-wrap every case key with the new one.
    ///
    /// File contents are not re-encrypted: only the case keys stored in the metadata are.
    /// Works with the key file only (not with CASEVAULT__SECURITY__MASTER_KEY). Afterwards,
    /// replace every stored copy of the key file with the new one.
    RotateKey(RotateKeyArgs),
    /// Check the stored files, the quotas and the audit log.
    ///
    /// Checks that every file has its encrypted object with the right size, that no object is
    /// left over, that quota counters add up and that the audit log was not altered. Exit
    /// status 0 when everything is in order, 1 when problems are found (each is listed).
    Fsck(FsckArgs),
    /// Back up the metadata and the master key into a new folder.
    ///
    /// Writes `metadata.cvbackup` (users, organisations, cases, shares, audit log…) and
    /// `master.key`, both readable only by you. The object store with the encrypted file
    /// contents is NOT included: back it up separately. Keep master.key apart from both the
    /// object store and the metadata backup: whoever holds all of them can read every file.
    Backup(BackupArgs),
    /// Restore the metadata and the master key from a `casevault backup` folder.
    ///
    /// The data folder must not have a metadata database or a key file yet. Restore the object
    /// store first (for the local store: the `objects` folder inside the data folder), then
    /// run this; it verifies the backup's checksum, rebuilds the database and checks the
    /// result like `casevault fsck`.
    Restore(RestoreArgs),
}

/// `casevault config …`.
#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Validate the configuration and print the effective settings (secrets redacted).
    Check(ConfigArg),
}

/// The configuration file option.
#[derive(Debug, Args)]
pub struct ConfigArg {
    /// TOML configuration file; CASEVAULT__SECTION__KEY environment variables override it.
    #[arg(long, short, value_name = "PATH")]
    pub config: Option<PathBuf>,
}

impl ConfigArg {
    /// The settings from the file (if any) and the environment.
    pub(crate) fn load(&self, env: Vec<(String, String)>) -> Result<Settings, String> {
        Settings::load(self.config.as_deref(), env).map_err(|err| err.to_string())
    }
}

/// Parses the command line and runs the command; the binary's `main`.
pub fn main() -> ExitCode {
    match run(Cli::parse(), std::env::vars().collect()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("casevault: {message}");
            ExitCode::FAILURE
        }
    }
}

/// Runs a parsed command with the given environment, reading standard input and writing to
/// standard output; the error is the message to print.
pub fn run(cli: Cli, env: Vec<(String, String)>) -> Result<(), String> {
    let stdin = std::io::stdin();
    let mut input = stdin.lock();
    let mut output = std::io::stdout();
    run_with(
        cli,
        env,
        &mut Console {
            input: &mut input,
            output: &mut output,
        },
    )
}

/// Runs a parsed command with the given environment and console (tests pass buffers).
pub fn run_with(
    cli: Cli,
    env: Vec<(String, String)>,
    console: &mut Console<'_>,
) -> Result<(), String> {
    match cli.command {
        Command::Serve(arg) => arg.load(env).and_then(serve),
        Command::Config {
            command: ConfigCommand::Check(arg),
        } => {
            let settings = arg.load(env)?;
            print!("{}", check_report(&settings)?);
            Ok(())
        }
        Command::User { command } => admin::users::run(command, env, console),
        Command::Org { command } => admin::orgs::run(command, env, console),
        Command::Quota { command } => admin::orgs::run_quota(command, env, console),
        Command::RotateKey(args) => admin::maintenance::rotate_key(args, env, console),
        Command::Fsck(args) => admin::maintenance::fsck(args, env, console),
        Command::Backup(args) => admin::backup::backup(args, env, console),
        Command::Restore(args) => admin::backup::restore(args, env, console),
    }
}

/// What `config check` prints for valid settings: the effective settings, secrets redacted.
pub fn check_report(settings: &Settings) -> Result<String, String> {
    let text = settings
        .to_redacted_toml()
        .map_err(|err| format!("cannot print the settings: {err}"))?;
    Ok(format!(
        "# configuration is valid; effective settings (secrets redacted):\n\n{text}"
    ))
}

/// `serve`: run until SIGTERM or Ctrl-C.
fn serve(settings: Settings) -> Result<(), String> {
    telemetry::init(&settings.log.filter)
        .map_err(|err| format!("invalid setting log.filter: {err}"))?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        // Bounds the threads (and the malloc arenas they keep) that file and flush work
        // may use under load; waiting work queues instead.
        .max_blocking_threads(64)
        .build()
        .map_err(|err| format!("cannot start the async runtime: {err}"))?;
    runtime.block_on(async {
        let server = Server::build(settings)
            .await
            .map_err(|err| err.to_string())?;
        tracing::info!(
            address = %server.local_addr(),
            public_url = server.public_url(),
            version = env!("CARGO_PKG_VERSION"),
            "listening (HTTPS)"
        );
        crate::auth::setup::announce(&server).await?;
        if let Some(addr) = server.redirect_addr() {
            tracing::info!(address = %addr, "listening (plain HTTP, redirects to HTTPS only)");
        }
        if server.is_self_signed() {
            tracing::warn!(
                certificate = %server.certificate_path().display(),
                sha256_fingerprint = %server.certificate_fingerprint(),
                "using a self-signed certificate; set http.tls_cert and http.tls_key for production"
            );
        } else {
            tracing::info!(
                certificate = %server.certificate_path().display(),
                sha256_fingerprint = %server.certificate_fingerprint(),
                "TLS certificate loaded"
            );
        }
        let stop = CancellationToken::new();
        let handle = server.handle();
        tokio::spawn(async move {
            if let Err(err) = signals::shutdown_on_signal(handle).await {
                tracing::error!(error = %err, "cannot listen for shutdown signals");
            }
        });
        let hup = tokio::spawn(signals::reload_on_sighup(
            server.tls_resolver(),
            stop.clone(),
        ));
        server.run_until_stopped().await;
        stop.cancel();
        if let Ok(Err(err)) = hup.await {
            tracing::error!(error = %err, "cannot listen for SIGHUP");
        }
        Ok(())
    })
}
