//! The command line: `casevault serve` and `casevault config check`. Administration commands
//! (users, keys, backups) join here with the storage.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};
use tokio_util::sync::CancellationToken;

use crate::config::Settings;
use crate::server::Server;
use crate::{signals, telemetry};

/// casevault: encrypted file sharing for medical and dental practices.
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
    fn load(&self, env: Vec<(String, String)>) -> Result<Settings, String> {
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

/// Runs a parsed command with the given environment; the error is the message to print.
pub fn run(cli: Cli, env: Vec<(String, String)>) -> Result<(), String> {
    match cli.command {
        Command::Serve(arg) => arg.load(env).and_then(serve),
        Command::Config {
            command: ConfigCommand::Check(arg),
        } => {
            let settings = arg.load(env)?;
            print!("{}", check_report(&settings)?);
            Ok(())
        }
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
