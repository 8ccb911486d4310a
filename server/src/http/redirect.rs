//! The optional plain-HTTP listener: every request is answered with `308 Permanent Redirect`
//! to the same path and query on the public HTTPS URL, and nothing else. The target host
//! comes from the configured public URL, never from the request's `Host` header.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderValue, Request, Response, StatusCode, header};
use http_body_util::Empty;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;
use tokio_util::sync::CancellationToken;

use super::conn::drive;
use super::watch::{ConnWatch, GuardedBody};

/// What every redirect connection shares.
pub struct RedirectContext {
    /// The public HTTPS base URL, without a trailing slash.
    pub public_url: String,
    /// HTTP/1.1 settings (header timeout and size).
    pub http1: http1::Builder,
    /// Idle timeout.
    pub idle_timeout: Duration,
    /// Cancelled when the server shuts down.
    pub shutdown: CancellationToken,
}

/// Serves one plain-HTTP connection with redirects only.
pub async fn serve(tcp: TcpStream, peer: SocketAddr, ctx: Arc<RedirectContext>) {
    let watch = ConnWatch::default();
    let base = ctx.public_url.clone();
    let service_watch = watch.clone();
    let service = hyper::service::service_fn(move |request: Request<Incoming>| {
        let guard = service_watch.request_started();
        let response = redirect(&base, &request);
        async move { Ok::<_, Infallible>(response.map(|body| GuardedBody::new(body, guard))) }
    });
    let conn = ctx.http1.serve_connection(TokioIo::new(tcp), service);
    drive(conn, &watch, ctx.idle_timeout, &ctx.shutdown, peer).await;
}

/// The `308` response for `request`.
pub fn redirect<B>(base: &str, request: &Request<B>) -> Response<Empty<Bytes>> {
    let path = match request.uri().path_and_query() {
        Some(pq) if pq.as_str().starts_with('/') => pq.as_str(),
        _ => "/",
    };
    let mut response = Response::new(Empty::new());
    match HeaderValue::try_from(format!("{base}{path}")) {
        Ok(location) => {
            *response.status_mut() = StatusCode::PERMANENT_REDIRECT;
            response.headers_mut().insert(header::LOCATION, location);
        }
        Err(_) => *response.status_mut() = StatusCode::BAD_REQUEST,
    }
    response
}
