//! The minimum transfer rate for request bodies: a body wrapper that fails a request whose
//! body trickles in, so that a slow client cannot hold a connection and a handler forever.
//!
//! How it works: the rule is "at least `rate × window` bytes per `window`". A window starts
//! when the handler first reads the body. Whenever that many bytes have arrived, a new window
//! starts. If the window ends before they have, the next read fails with [`TransferTooSlow`],
//! which the extractors ([`crate::extract`]) turn into `408 request_timeout`. Only time spent
//! waiting for the client counts: while the handler is busy with a chunk it already got (say,
//! writing it to storage), the window's end moves back by that long. A body that is never read
//! never starts a window. A rate of 0 turns the rule off.

use std::pin::Pin;
use std::task::{Context, Poll, ready};
use std::time::Duration;

use bytes::{Buf, Bytes};
use http_body::{Body, Frame, SizeHint};
use pin_project_lite::pin_project;
use tokio::time::{Instant, Sleep};

use crate::error::BoxError;

/// The rule: at least `min_bytes` per `window` of waiting.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MinRate {
    /// Bytes that must arrive within each window; 0 disables the rule.
    pub min_bytes: u64,
    /// The window length.
    pub window: Duration,
}

impl MinRate {
    /// `bytes_per_second` averaged over `window`.
    pub fn new(bytes_per_second: u64, window: Duration) -> Self {
        let min_bytes = (bytes_per_second as f64 * window.as_secs_f64()).ceil() as u64;
        Self {
            min_bytes: if bytes_per_second == 0 {
                0
            } else {
                min_bytes.max(1)
            },
            window,
        }
    }
}

/// The error a too-slow body fails with.
#[derive(Debug, thiserror::Error)]
#[error("request body slower than {min_bytes} bytes in {window:?}")]
pub struct TransferTooSlow {
    /// Bytes required per window.
    pub min_bytes: u64,
    /// The window.
    pub window: Duration,
}

pin_project! {
    /// A request body that enforces a [`MinRate`].
    pub struct MinRateBody<B> {
        #[pin]
        inner: B,
        rule: MinRate,
        deadline: Option<Pin<Box<Sleep>>>,
        received: u64,
        handed_out_at: Option<Instant>,
    }
}

impl<B> MinRateBody<B> {
    /// Wraps `inner` with `rule`.
    pub fn new(inner: B, rule: MinRate) -> Self {
        Self {
            inner,
            rule,
            deadline: None,
            received: 0,
            handed_out_at: None,
        }
    }
}

impl<B> Body for MinRateBody<B>
where
    B: Body<Data = Bytes>,
    B::Error: Into<BoxError>,
{
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let this = self.project();
        if this.rule.min_bytes == 0 {
            return this.inner.poll_frame(cx).map_err(Into::into);
        }
        let now = Instant::now();
        let deadline = this
            .deadline
            .get_or_insert_with(|| Box::pin(tokio::time::sleep_until(now + this.rule.window)));
        if let Some(since) = this.handed_out_at.take() {
            // The handler was busy for `now - since`: that is not the client's time.
            let end = deadline.deadline() + (now - since);
            deadline.as_mut().reset(end);
        }
        match this.inner.poll_frame(cx) {
            Poll::Ready(Some(Ok(frame))) => {
                if let Some(data) = frame.data_ref() {
                    *this.received += data.remaining() as u64;
                    if *this.received >= this.rule.min_bytes {
                        *this.received = 0;
                        deadline.as_mut().reset(now + this.rule.window);
                    }
                }
                *this.handed_out_at = Some(now);
                Poll::Ready(Some(Ok(frame)))
            }
            Poll::Ready(Some(Err(err))) => Poll::Ready(Some(Err(err.into()))),
            Poll::Ready(None) => Poll::Ready(None),
            Poll::Pending => {
                ready!(deadline.as_mut().poll(cx));
                Poll::Ready(Some(Err(Box::new(TransferTooSlow {
                    min_bytes: this.rule.min_bytes,
                    window: this.rule.window,
                }))))
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

#[cfg(test)]
mod tests;
