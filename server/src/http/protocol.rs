//! The HTTP/1.1 and HTTP/2 connection settings, from [`HttpSettings`].
//!
//! The protocol is chosen by ALPN (`h2` → HTTP/2, anything else → HTTP/1.1) rather than by
//! sniffing the first bytes, which lets HTTP/1.1 use hyper's own header size limit.

use std::time::Duration;

use hyper::server::conn::{http1, http2};
use hyper_util::rt::{TokioExecutor, TokioTimer};

use crate::config::HttpSettings;

/// HTTP/2 per-stream flow-control window: large enough for fast single-stream transfers.
pub const H2_STREAM_WINDOW: u32 = 1024 * 1024;
/// HTTP/2 connection flow-control window.
pub const H2_CONNECTION_WINDOW: u32 = 4 * 1024 * 1024;
/// Interval of HTTP/2 PINGs that detect dead peers (answer within the same time).
pub const H2_KEEP_ALIVE: Duration = Duration::from_secs(20);

/// HTTP/1.1: keep-alive, a header read timeout (hyper also runs it while a kept-alive
/// connection waits for its next request) and a cap on the request head size (431 beyond).
pub fn http1(settings: &HttpSettings) -> http1::Builder {
    let mut builder = http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .keep_alive(true)
        .header_read_timeout(settings.timeouts.header_read)
        .max_header_size(settings.limits.max_header_size);
    builder
}

/// HTTP/2: a cap on concurrent streams and on the header list, fixed large flow-control windows
/// and keep-alive PINGs.
///
/// hyper's adaptive window is left off on purpose: enabling it resets both windows to the
/// 64 KiB default and grows them from a bandwidth-delay estimate, which stays small on
/// low-latency links and then limits a single large transfer.
pub fn http2(settings: &HttpSettings) -> http2::Builder<TokioExecutor> {
    let mut builder = http2::Builder::new(TokioExecutor::new());
    builder
        .timer(TokioTimer::new())
        .max_concurrent_streams(settings.limits.h2_max_concurrent_streams)
        .max_header_list_size(u32::try_from(settings.limits.max_header_size).unwrap_or(u32::MAX))
        .initial_stream_window_size(H2_STREAM_WINDOW)
        .initial_connection_window_size(H2_CONNECTION_WINDOW)
        .keep_alive_interval(H2_KEEP_ALIVE)
        .keep_alive_timeout(H2_KEEP_ALIVE);
    builder
}
