//! Per-connection watchdog state: how many requests are in flight, since when the connection
//! has been idle, and since when the peer has refused to take response bytes.
//!
//! [`WatchedIo`] wraps the connection's stream and notes when a write could not proceed
//! (socket buffer full) and when one did. [`InFlight`] guards count requests from their
//! arrival until their response body is finished or dropped ([`GuardedBody`]). The connection
//! driver ([`super::conn`]) asks [`ConnWatch::verdict`] on a timer.

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use pin_project_lite::pin_project;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::Instant;

/// What the watchdog concludes about a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Requests in flight or recently finished: leave it alone.
    Busy,
    /// No request in flight for longer than the idle timeout: close it gracefully.
    Idle,
    /// The peer has not accepted a byte for longer than the idle timeout: drop it.
    Stalled,
}

/// Shared watchdog state of one connection.
#[derive(Debug, Clone)]
pub struct ConnWatch(Arc<Shared>);

#[derive(Debug)]
struct Shared {
    origin: Instant,
    in_flight: AtomicUsize,
    /// Milliseconds since `origin` when `in_flight` last became 0.
    idle_since: AtomicU64,
    /// Milliseconds since `origin` (plus one) when a write first could not proceed; 0 = none.
    blocked_since: AtomicU64,
}

impl Default for ConnWatch {
    fn default() -> Self {
        Self(Arc::new(Shared {
            origin: Instant::now(),
            in_flight: AtomicUsize::new(0),
            idle_since: AtomicU64::new(0),
            blocked_since: AtomicU64::new(0),
        }))
    }
}

impl ConnWatch {
    fn now_ms(&self) -> u64 {
        self.0.origin.elapsed().as_millis() as u64
    }

    /// Counts a request until the returned guard is dropped.
    pub fn request_started(&self) -> InFlight {
        self.0.in_flight.fetch_add(1, Ordering::AcqRel);
        InFlight(self.clone())
    }

    /// Judges the connection against the idle timeout.
    pub fn verdict(&self, idle: Duration) -> Verdict {
        let now = self.now_ms();
        let limit = idle.as_millis() as u64;
        let blocked = self.0.blocked_since.load(Ordering::Acquire);
        if blocked != 0 && now.saturating_sub(blocked - 1) > limit {
            return Verdict::Stalled;
        }
        if self.0.in_flight.load(Ordering::Acquire) == 0
            && now.saturating_sub(self.0.idle_since.load(Ordering::Acquire)) > limit
        {
            return Verdict::Idle;
        }
        Verdict::Busy
    }

    fn write_progress(&self, blocked: bool) {
        if blocked {
            let stamp = self.now_ms() + 1;
            let _ = self.0.blocked_since.compare_exchange(
                0,
                stamp,
                Ordering::AcqRel,
                Ordering::Acquire,
            );
        } else {
            self.0.blocked_since.store(0, Ordering::Release);
        }
    }
}

/// Counts one request in flight; see [`ConnWatch::request_started`].
#[derive(Debug)]
pub struct InFlight(ConnWatch);

impl Drop for InFlight {
    fn drop(&mut self) {
        let shared = &(self.0).0;
        if shared.in_flight.fetch_sub(1, Ordering::AcqRel) == 1 {
            shared.idle_since.store(self.0.now_ms(), Ordering::Release);
        }
    }
}

pin_project! {
    /// A response body that keeps its request counted as in flight until it is done.
    pub struct GuardedBody<B> {
        #[pin]
        inner: B,
        guard: Option<InFlight>,
    }
}

impl<B> GuardedBody<B> {
    /// Wraps `inner`, releasing `guard` at the end of the body or when it is dropped.
    pub fn new(inner: B, guard: InFlight) -> Self {
        Self {
            inner,
            guard: Some(guard),
        }
    }
}

impl<B: Body<Data = Bytes>> Body for GuardedBody<B> {
    type Data = Bytes;
    type Error = B::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, B::Error>>> {
        let this = self.project();
        let polled = this.inner.poll_frame(cx);
        if matches!(polled, Poll::Ready(None) | Poll::Ready(Some(Err(_)))) {
            this.guard.take();
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

pin_project! {
    /// A stream that reports write progress to a [`ConnWatch`].
    pub struct WatchedIo<T> {
        #[pin]
        inner: T,
        watch: ConnWatch,
    }
}

impl<T> WatchedIo<T> {
    /// Wraps `inner`.
    pub fn new(inner: T, watch: ConnWatch) -> Self {
        Self { inner, watch }
    }
}

impl<T: AsyncRead> AsyncRead for WatchedIo<T> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        self.project().inner.poll_read(cx, buf)
    }
}

impl<T: AsyncWrite> AsyncWrite for WatchedIo<T> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.project();
        let polled = this.inner.poll_write(cx, buf);
        this.watch.write_progress(polled.is_pending());
        polled
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.project();
        let polled = this.inner.poll_write_vectored(cx, bufs);
        this.watch.write_progress(polled.is_pending());
        polled
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.project();
        let polled = this.inner.poll_flush(cx);
        this.watch.write_progress(polled.is_pending());
        polled
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.project().inner.poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn idle_only_without_requests() {
        let watch = ConnWatch::default();
        assert_eq!(watch.verdict(Duration::from_secs(60)), Verdict::Busy);
        std::thread::sleep(Duration::from_millis(5));
        assert_eq!(watch.verdict(Duration::ZERO), Verdict::Idle);
        let guard = watch.request_started();
        assert_eq!(watch.verdict(Duration::ZERO), Verdict::Busy);
        drop(guard);
        std::thread::sleep(Duration::from_millis(5));
        assert_eq!(watch.verdict(Duration::ZERO), Verdict::Idle);
    }

    #[test]
    fn stalled_when_writes_do_not_proceed() {
        let watch = ConnWatch::default();
        let _guard = watch.request_started();
        watch.write_progress(true);
        std::thread::sleep(Duration::from_millis(5));
        watch.write_progress(true);
        assert_eq!(watch.verdict(Duration::ZERO), Verdict::Stalled);
        watch.write_progress(false);
        assert_eq!(watch.verdict(Duration::ZERO), Verdict::Busy);
    }
}
