//! A body stream that tells, once, whether it was sent to the end: downloads are audited as
//! completed or aborted (and, for share links, counted only when complete).

use std::pin::Pin;
use std::task::{Context, Poll};

use futures::Stream;
use pin_project_lite::pin_project;

/// How a tracked stream ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ending {
    /// Every item was taken and the stream ended without an error.
    Completed,
    /// The stream failed, or was dropped (the client went away) before its end.
    Aborted,
}

type OnEnd = Box<dyn FnOnce(Ending) + Send + 'static>;

pin_project! {
    /// Wraps a stream; `on_end` runs exactly once, when the stream ends, fails or is dropped.
    pub struct Tracked<S> {
        #[pin]
        inner: S,
        on_end: Option<OnEnd>,
    }

    impl<S> PinnedDrop for Tracked<S> {
        fn drop(this: Pin<&mut Self>) {
            if let Some(on_end) = this.project().on_end.take() {
                on_end(Ending::Aborted);
            }
        }
    }
}

impl<S> Tracked<S> {
    /// Tracks `inner`.
    pub fn new(inner: S, on_end: impl FnOnce(Ending) + Send + 'static) -> Self {
        Self {
            inner,
            on_end: Some(Box::new(on_end)),
        }
    }
}

impl<S, T, E> Stream for Tracked<S>
where
    S: Stream<Item = Result<T, E>>,
{
    type Item = Result<T, E>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.project();
        let item = std::task::ready!(this.inner.poll_next(cx));
        let ending = match &item {
            None => Some(Ending::Completed),
            Some(Err(_)) => Some(Ending::Aborted),
            Some(Ok(_)) => None,
        };
        if let Some(ending) = ending
            && let Some(on_end) = this.on_end.take()
        {
            on_end(ending);
        }
        Poll::Ready(item)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use futures::StreamExt;

    use super::*;

    fn recorder() -> (
        Arc<Mutex<Vec<Ending>>>,
        impl FnOnce(Ending) + Send + 'static,
    ) {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let sink = Arc::clone(&seen);
        (seen, move |ending| sink.lock().expect("lock").push(ending))
    }

    #[tokio::test]
    async fn a_stream_read_to_the_end_completes_once() {
        let (seen, on_end) = recorder();
        let items = futures::stream::iter([Ok::<_, ()>(1), Ok(2)]);
        let mut tracked = Tracked::new(items, on_end);
        while tracked.next().await.is_some() {}
        assert!(tracked.next().await.is_none());
        drop(tracked);
        assert_eq!(*seen.lock().expect("lock"), [Ending::Completed]);
    }

    #[tokio::test]
    async fn a_dropped_or_failed_stream_is_aborted() {
        let (seen, on_end) = recorder();
        let mut tracked = Tracked::new(futures::stream::iter([Ok::<_, ()>(1), Ok(2)]), on_end);
        assert!(tracked.next().await.is_some());
        drop(tracked);
        assert_eq!(*seen.lock().expect("lock"), [Ending::Aborted]);

        let (seen, on_end) = recorder();
        let mut tracked = Tracked::new(futures::stream::iter([Ok(1), Err(())]), on_end);
        while tracked.next().await.is_some() {}
        drop(tracked);
        assert_eq!(*seen.lock().expect("lock"), [Ending::Aborted]);
    }
}
