use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use pin_project_lite::pin_project;

use super::state::RequestState;
use crate::serving::Served;

pin_project! {
    /// The response future of [`SentryService`](super::SentryService): the request's
    /// transaction ends with the response's status, or as `cancelled` when the future is
    /// dropped first (the client went away).
    ///
    /// ```
    /// use tower_service::Service as _;
    /// use tower_layer::Layer as _;
    ///
    /// let mut service = kansoku::http::SentryLayer::new()
    ///     .layer(axum::routing::get(|| async { "namba" }));
    /// let request = http::Request::get("/").body(axum::body::Body::empty()).unwrap();
    /// let response = futures::executor::block_on(service.call(request)).unwrap();
    /// assert_eq!(response.status(), 200);
    /// ```
    #[must_use = "futures do nothing unless polled"]
    #[derive(Debug)]
    pub struct SentryFuture<F> {
        #[pin]
        inner: F,
        state: RequestState,
        // the request's name when no metrics layer around this one set it
        served: Option<Arc<Served>>,
    }
}

impl<F> SentryFuture<F> {
    pub(super) fn new(inner: F, state: RequestState, served: Option<Arc<Served>>) -> Self {
        SentryFuture {
            inner,
            state,
            served,
        }
    }
}

impl<F, ResBody, E> Future for SentryFuture<F>
where
    F: Future<Output = Result<http::Response<ResBody>, E>>,
    ResBody: http_body::Body<Data = bytes::Bytes> + Send + 'static,
    ResBody::Error: Into<axum::BoxError>,
{
    type Output = Result<http::Response<axum::body::Body>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let _served = this.served.as_ref().map(crate::serving::enter);
        let entered = this.state.enter();
        // dropped by the unwinding of a panicking handler: the transaction ends as an error
        // now, while the thread still panics (the runtime drops this future only later)
        let unwinding = OnUnwind(Some(this.state));
        let polled = this.inner.poll(cx);
        let state = unwinding.defuse();
        let Poll::Ready(result) = polled else {
            return Poll::Pending;
        };
        let code = result
            .as_ref()
            .map_or(500, |response| response.status().as_u16());
        // still inside the request's scope: a streamed body takes it along (and ends it)
        let result = result.map(|response| state.scoped(response));
        drop(entered);
        state.end(Some(code));
        Poll::Ready(result)
    }
}

/// Ends the request's transaction (as a panic) if dropped while the thread unwinds.
struct OnUnwind<'a>(Option<&'a mut RequestState>);

impl<'a> OnUnwind<'a> {
    /// The poll returned: nothing to do on the way out.
    fn defuse(mut self) -> &'a mut RequestState {
        let inner = self.0.take().expect("defused once");
        std::mem::forget(self);
        inner
    }
}

impl Drop for OnUnwind<'_> {
    fn drop(&mut self) {
        // only reached while unwinding: `defuse` forgets the guard on every return
        if let Some(state) = self.0.take() {
            state.end(None);
        }
    }
}
