//! The accept loop shared by the HTTPS and redirect listeners.
//!
//! A connection needs a permit from the shared semaphore before it is accepted, so beyond
//! `max_connections` new clients wait in the kernel's listen backlog instead of being served.
//! Every socket gets `TCP_NODELAY` (without it, each kept-alive request after the first stalls
//! on Nagle's algorithm and delayed ACKs). On shutdown the loop stops accepting, lets open
//! connections finish for the grace period, then aborts the rest.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

/// Accepts connections on `listener` and runs `serve` for each, until `shutdown`.
pub async fn run<F, Fut>(
    listener: TcpListener,
    limiter: Arc<Semaphore>,
    shutdown: CancellationToken,
    grace: Duration,
    serve: F,
) where
    F: Fn(TcpStream, SocketAddr) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let mut connections = JoinSet::new();
    loop {
        let permit = tokio::select! {
            permit = Arc::clone(&limiter).acquire_owned() => match permit {
                Ok(permit) => permit,
                Err(_closed) => break,
            },
            _ = shutdown.cancelled() => break,
        };
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            _ = shutdown.cancelled() => break,
        };
        let (tcp, peer) = match accepted {
            Ok(pair) => pair,
            Err(err) => {
                // Per-connection errors (reset before accept) are harmless; running out of
                // file descriptors is not, and retrying at once would spin.
                tracing::warn!(error = %err, "accept failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        if let Err(err) = tcp.set_nodelay(true) {
            tracing::debug!(%peer, error = %err, "cannot set TCP_NODELAY");
        }
        let connection = serve(tcp, peer);
        connections.spawn(async move {
            connection.await;
            drop(permit);
        });
        while connections.try_join_next().is_some() {}
    }
    drain(connections, grace).await;
}

/// Waits up to `grace` for the connections to finish, then aborts the others.
async fn drain(mut connections: JoinSet<()>, grace: Duration) {
    let finished = tokio::time::timeout(grace, async {
        while connections.join_next().await.is_some() {}
    })
    .await;
    if finished.is_err() {
        tracing::warn!(
            open = connections.len(),
            "connections still open after the shutdown grace period; closing them"
        );
        connections.shutdown().await;
    }
}
