//! Process signals for `casevault serve`: SIGTERM or Ctrl-C starts a graceful shutdown (a
//! second one exits at once), SIGHUP reloads the TLS certificate.

use std::sync::Arc;

use tokio::signal::unix::{SignalKind, signal};
use tokio_util::sync::CancellationToken;

use crate::server::ServerHandle;
use crate::tls::CertResolver;

/// Waits for SIGTERM or SIGINT, shuts the server down, and exits on a second signal.
pub async fn shutdown_on_signal(handle: ServerHandle) -> std::io::Result<()> {
    let mut term = signal(SignalKind::terminate())?;
    let mut int = signal(SignalKind::interrupt())?;
    tokio::select! {
        _ = term.recv() => {}
        _ = int.recv() => {}
    }
    tracing::info!("shutting down: finishing in-flight requests (signal again to exit now)");
    handle.shutdown();
    tokio::select! {
        _ = term.recv() => {}
        _ = int.recv() => {}
    }
    tracing::warn!("second signal: exiting now");
    std::process::exit(130);
}

/// Reloads the certificate on every SIGHUP until `stop`.
pub async fn reload_on_sighup(
    resolver: Arc<CertResolver>,
    stop: CancellationToken,
) -> std::io::Result<()> {
    let mut hup = signal(SignalKind::hangup())?;
    loop {
        tokio::select! {
            _ = stop.cancelled() => return Ok(()),
            received = hup.recv() => if received.is_none() { return Ok(()) },
        }
        tracing::info!("SIGHUP: reloading the TLS certificate");
        resolver.reload_logged(true);
    }
}
