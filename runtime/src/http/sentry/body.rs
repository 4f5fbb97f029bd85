use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use pin_project_lite::pin_project;

/// What a [`CapturedBody`] kept of the body so far.
#[derive(Debug, Default)]
pub(crate) struct Captured {
    /// The first bytes, at most the limit.
    pub(crate) bytes: Vec<u8>,
    /// Bytes that went through, kept or not.
    pub(crate) seen: u64,
}

pin_project! {
    /// A request body that keeps a bounded copy of what passes through it for Sentry, made by
    /// the [`SentryLayer`](super::SentryLayer) when body capture is on. The handler reads the
    /// body as usual, frame by frame as it arrives; nothing is buffered beyond the copy.
    ///
    /// The layer wraps it in axum's `Body`, so a handler sees no new type:
    ///
    /// ```
    /// let app: axum::Router = axum::Router::new()
    ///     .route("/upload", axum::routing::post(|body: axum::body::Bytes| async move { body.len().to_string() }))
    ///     .layer(kansoku::http::SentryLayer::new().capture_request_body(true).max_body_size(1024));
    /// ```
    #[derive(Debug)]
    pub struct CapturedBody<B> {
        #[pin]
        inner: B,
        kept: Arc<Mutex<Captured>>,
        limit: usize,
    }
}

// made only where a Sentry backend can be current
#[cfg_attr(not(feature = "sentry"), allow(dead_code))]
impl<B> CapturedBody<B> {
    pub(crate) fn new(inner: B, kept: Arc<Mutex<Captured>>, limit: usize) -> CapturedBody<B> {
        CapturedBody { inner, kept, limit }
    }
}

impl<B: Body<Data = Bytes>> Body for CapturedBody<B> {
    type Data = Bytes;
    type Error = B::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, B::Error>>> {
        let this = self.project();
        let frame = this.inner.poll_frame(cx);
        if let Poll::Ready(Some(Ok(frame))) = &frame {
            if let Some(data) = frame.data_ref() {
                let mut kept = this.kept.lock().unwrap_or_else(PoisonError::into_inner);
                kept.seen += data.len() as u64;
                let room = this.limit.saturating_sub(kept.bytes.len());
                let take = room.min(data.len());
                kept.bytes.extend_from_slice(&data[..take]);
            }
        }
        frame
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}
