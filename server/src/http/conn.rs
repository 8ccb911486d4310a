//! One connection, from TLS handshake to close: the handshake under a timeout, the protocol
//! chosen by ALPN, every request wrapped (minimum body rate, client address, in-flight count),
//! and a driver that closes the connection gracefully on shutdown or when idle, and drops it
//! when the peer stops reading.

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use http::{Request, Response};
use hyper::body::Incoming;
use hyper::server::conn::{http1, http2};
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::net::TcpStream;
use tokio::time::Instant;
use tokio_rustls::TlsAcceptor;
use tokio_util::sync::CancellationToken;
use tower::ServiceExt;

use super::ClientAddr;
use super::min_rate::{MinRate, MinRateBody};
use super::watch::{ConnWatch, GuardedBody, Verdict, WatchedIo};

/// What every HTTPS connection shares.
pub struct ConnContext {
    /// TLS with the reloading certificate.
    pub acceptor: TlsAcceptor,
    /// The application.
    pub router: Router,
    /// HTTP/1.1 settings.
    pub http1: http1::Builder,
    /// HTTP/2 settings.
    pub http2: http2::Builder<TokioExecutor>,
    /// Time allowed for the TLS handshake.
    pub handshake_timeout: Duration,
    /// Idle (and stalled-peer) timeout.
    pub idle_timeout: Duration,
    /// Minimum request body rate.
    pub min_rate: MinRate,
    /// Cancelled when the server shuts down.
    pub shutdown: CancellationToken,
}

/// Serves one accepted TCP connection over TLS until it closes.
pub async fn serve_tls(tcp: TcpStream, peer: SocketAddr, ctx: Arc<ConnContext>) {
    let handshake = tokio::time::timeout(ctx.handshake_timeout, ctx.acceptor.accept(tcp));
    let tls = tokio::select! {
        result = handshake => match result {
            Ok(Ok(tls)) => tls,
            Ok(Err(err)) => {
                tracing::debug!(%peer, error = %err, "TLS handshake failed");
                return;
            }
            Err(_) => {
                tracing::debug!(%peer, "TLS handshake timed out");
                return;
            }
        },
        _ = ctx.shutdown.cancelled() => return,
    };
    let h2 = tls.get_ref().1.alpn_protocol() == Some(b"h2".as_slice());
    let watch = ConnWatch::default();
    let io = TokioIo::new(WatchedIo::new(tls, watch.clone()));
    let service = service(ctx.router.clone(), peer, watch.clone(), ctx.min_rate);
    if h2 {
        let conn = ctx.http2.serve_connection(io, service);
        drive(conn, &watch, ctx.idle_timeout, &ctx.shutdown, peer).await;
    } else {
        let conn = ctx.http1.serve_connection(io, service);
        drive(conn, &watch, ctx.idle_timeout, &ctx.shutdown, peer).await;
    }
}

/// The hyper service around `router`: wraps the request body in the minimum-rate guard,
/// records the client address, and counts the request as in flight until its response body
/// is done.
pub fn service(
    router: Router,
    peer: SocketAddr,
    watch: ConnWatch,
    min_rate: MinRate,
) -> impl hyper::service::Service<
    Request<Incoming>,
    Response = Response<GuardedBody<Body>>,
    Error = Infallible,
    Future = impl Future<Output = Result<Response<GuardedBody<Body>>, Infallible>> + Send,
> + Clone {
    hyper::service::service_fn(move |request: Request<Incoming>| {
        let guard = watch.request_started();
        let mut request = request.map(|body| Body::new(MinRateBody::new(body, min_rate)));
        request.extensions_mut().insert(ClientAddr(peer));
        let router = router.clone();
        async move {
            let response = match router.oneshot(request).await {
                Ok(response) => response,
                Err(never) => match never {},
            };
            Ok(response.map(|body| GuardedBody::new(body, guard)))
        }
    })
}

/// A hyper connection that can be asked to finish its requests and close.
pub trait GracefulConnection: Future<Output = hyper::Result<()>> {
    /// Starts a graceful close (HTTP/2 GOAWAY; HTTP/1.1 closes after the current response).
    fn graceful_shutdown(self: Pin<&mut Self>);
}

impl<I, S, B> GracefulConnection for http1::Connection<I, S>
where
    S: hyper::service::HttpService<Incoming, ResBody = B>,
    S::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    I: hyper::rt::Read + hyper::rt::Write + Unpin,
    B: hyper::body::Body + 'static,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    fn graceful_shutdown(self: Pin<&mut Self>) {
        http1::Connection::graceful_shutdown(self);
    }
}

impl<I, S, B> GracefulConnection for http2::Connection<I, S, TokioExecutor>
where
    S: hyper::service::HttpService<Incoming, ResBody = B>,
    S::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    I: hyper::rt::Read + hyper::rt::Write + Unpin,
    B: hyper::body::Body + 'static,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    TokioExecutor: hyper::rt::bounds::Http2ServerConnExec<S::Future, B>,
{
    fn graceful_shutdown(self: Pin<&mut Self>) {
        http2::Connection::graceful_shutdown(self);
    }
}

/// Runs `conn` to completion, closing it gracefully on shutdown or idleness and dropping it
/// when the peer has stopped reading. A graceful close that has not finished after another
/// idle period with no request in flight (an HTTP/2 peer that never answers the closing PING)
/// is turned into a hard close.
pub async fn drive<C: GracefulConnection>(
    conn: C,
    watch: &ConnWatch,
    idle: Duration,
    shutdown: &CancellationToken,
    peer: SocketAddr,
) {
    let mut conn = std::pin::pin!(conn);
    let period = (idle / 4).clamp(Duration::from_millis(25), Duration::from_secs(5));
    let mut ticker = tokio::time::interval(period);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut closing_since: Option<Instant> = None;
    loop {
        tokio::select! {
            result = conn.as_mut() => {
                if let Err(err) = result {
                    tracing::debug!(%peer, error = %err, "connection ended with an error");
                }
                return;
            }
            _ = shutdown.cancelled(), if closing_since.is_none() => {
                closing_since = Some(Instant::now());
                conn.as_mut().graceful_shutdown();
            }
            _ = ticker.tick() => match (watch.verdict(idle), closing_since) {
                (Verdict::Busy, _) => {}
                (Verdict::Idle, None) => {
                    closing_since = Some(Instant::now());
                    conn.as_mut().graceful_shutdown();
                }
                (Verdict::Idle, Some(since)) => if since.elapsed() > idle {
                    tracing::debug!(%peer, "graceful close did not finish; closing the connection");
                    return;
                },
                (Verdict::Stalled, _) => {
                    tracing::debug!(%peer, "peer stopped reading; closing the connection");
                    return;
                }
            },
        }
    }
}
