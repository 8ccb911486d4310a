//! Unit tests of the minimum transfer rate (real time, with margins for a busy machine).

use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http_body::{Body, Frame};
use tokio::sync::mpsc;
use tokio::time::{Instant, sleep};

use super::{MinRate, MinRateBody, TransferTooSlow};
use crate::error::BoxError;

/// A body fed through a channel.
struct ChannelBody(mpsc::Receiver<Bytes>);

impl Body for ChannelBody {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        self.0
            .poll_recv(cx)
            .map(|chunk| chunk.map(|b| Ok(Frame::data(b))))
    }
}

/// Polls the next frame; `Err` carries whether it was a [`TransferTooSlow`].
async fn next(body: &mut Pin<Box<MinRateBody<ChannelBody>>>) -> Option<Result<usize, bool>> {
    std::future::poll_fn(|cx| body.as_mut().poll_frame(cx))
        .await
        .map(|frame| match frame {
            Ok(frame) => Ok(frame.into_data().map(|d| d.len()).unwrap_or(0)),
            Err(err) => Err(err.is::<TransferTooSlow>()),
        })
}

fn body(
    min_bytes: u64,
    window: Duration,
) -> (mpsc::Sender<Bytes>, Pin<Box<MinRateBody<ChannelBody>>>) {
    let (tx, rx) = mpsc::channel(16);
    let rule = MinRate { min_bytes, window };
    (tx, Box::pin(MinRateBody::new(ChannelBody(rx), rule)))
}

#[test]
fn rate_to_bytes_per_window() {
    assert_eq!(
        MinRate::new(1024, Duration::from_secs(30)).min_bytes,
        30 * 1024
    );
    assert_eq!(MinRate::new(0, Duration::from_secs(30)).min_bytes, 0);
    assert_eq!(MinRate::new(1, Duration::from_millis(10)).min_bytes, 1);
}

#[tokio::test]
async fn a_steady_body_passes() {
    let (tx, mut body) = body(10, Duration::from_secs(1));
    tokio::spawn(async move {
        for _ in 0..15 {
            if tx.send(Bytes::from_static(b"0123456789")).await.is_err() {
                return;
            }
            sleep(Duration::from_millis(100)).await;
        }
    });
    let mut total = 0;
    while let Some(frame) = next(&mut body).await {
        total += frame.expect("a steady body is fast enough");
    }
    assert_eq!(total, 150);
}

#[tokio::test]
async fn a_stalled_body_fails_after_the_window() {
    let (tx, mut body) = body(10, Duration::from_millis(500));
    tx.send(Bytes::from_static(b"0123")).await.expect("send");
    let start = Instant::now();
    assert_eq!(next(&mut body).await, Some(Ok(4)));
    // Six more bytes would be needed within the window; none come.
    assert_eq!(next(&mut body).await, Some(Err(true)));
    let waited = start.elapsed();
    assert!(waited >= Duration::from_millis(500), "{waited:?}");
    assert!(waited < Duration::from_secs(5), "{waited:?}");
    drop(tx);
}

#[tokio::test]
async fn time_spent_by_the_handler_does_not_count() {
    let (tx, mut body) = body(10, Duration::from_millis(300));
    tx.send(Bytes::from_static(b"01234")).await.expect("send");
    assert_eq!(next(&mut body).await, Some(Ok(5)));
    // The handler is busy for longer than the window; the client has queued the rest.
    tx.send(Bytes::from_static(b"56789")).await.expect("send");
    sleep(Duration::from_millis(600)).await;
    assert_eq!(next(&mut body).await, Some(Ok(5)));
    drop(tx);
    assert_eq!(next(&mut body).await, None);
}

#[tokio::test]
async fn a_zero_rate_disables_the_rule() {
    let (tx, mut body) = body(0, Duration::from_millis(10));
    let sender = tokio::spawn(async move {
        sleep(Duration::from_millis(100)).await;
        tx.send(Bytes::from_static(b"late")).await.expect("send");
    });
    assert_eq!(next(&mut body).await, Some(Ok(4)));
    sender.await.expect("sender");
}
