use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{ready, Context, Poll};

use http_body::{Body, Frame, SizeHint};
use pin_project_lite::pin_project;

use super::routes::{Entry, Shared};
use crate::http::stream::Grpc;
use crate::site::{Incomplete, Status};

pin_project! {
    /// The response future of [`HttpMetrics`](super::HttpMetrics): the request is recorded
    /// when it resolves (for a streamed body, when the body ends: see [`MeteredBody`]), or as
    /// `cancelled` when it is dropped before (the client went away).
    ///
    /// ```
    /// use tower_service::Service as _;
    /// use tower_layer::Layer as _;
    ///
    /// # let telemetry = kansoku::Telemetry::builder().build().unwrap();
    /// let mut service = kansoku::http::HttpMetricsLayer::new(&telemetry)
    ///     .layer(axum::routing::get(|| async { "namba" }));
    /// let request = http::Request::get("/").body(axum::body::Body::empty()).unwrap();
    /// let future: kansoku::http::HttpMetricsFuture<_> = service.call(request);
    /// drop(future); // dropped before it resolved: counted as `cancelled`
    /// ```
    #[must_use = "futures do nothing unless polled"]
    #[derive(Debug)]
    pub struct HttpMetricsFuture<F> {
        #[pin]
        inner: F,
        in_flight: Option<InFlight>,
    }
}

impl<F> HttpMetricsFuture<F> {
    pub(super) fn new(inner: F, in_flight: InFlight) -> HttpMetricsFuture<F> {
        HttpMetricsFuture {
            inner,
            in_flight: Some(in_flight),
        }
    }
}

impl<F, ResBody, E> Future for HttpMetricsFuture<F>
where
    F: Future<Output = Result<http::Response<ResBody>, E>>,
    ResBody: Body<Data = bytes::Bytes> + Send + 'static,
    ResBody::Error: Into<axum::BoxError>,
{
    type Output = Result<http::Response<axum::body::Body>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let entered = this.in_flight.as_ref().map(InFlight::enter);
        // A handler that panics unwinds through this poll; the runtime catches the panic and
        // drops this future only later, when the thread no longer panics: record it here.
        let unwinding = OnUnwind(Some(this.in_flight));
        let polled = this.inner.poll(cx);
        let in_flight = unwinding.defuse();
        let result = ready!(polled);
        let in_flight = in_flight.take();
        drop(entered);
        Poll::Ready(match result {
            Ok(response) => {
                let code = response.status().as_u16();
                // a body produced later (a stream: no exact size, not ended) keeps the request
                // in flight until it ends; any other is as good as sent
                let (streamed, grpc) = crate::http::stream::shape(&response);
                match in_flight {
                    Some(mut in_flight) if streamed => {
                        in_flight.head = Some(code);
                        in_flight.grpc = grpc;
                        Ok(response.map(|inner| {
                            axum::body::Body::new(MeteredBody {
                                inner,
                                in_flight: Some(in_flight),
                            })
                        }))
                    }
                    in_flight => {
                        if let Some(in_flight) = in_flight {
                            in_flight.finish(code, grpc);
                        }
                        // axum's own body (what the Sentry layer and every handler give) is
                        // taken as it is: no allocation
                        Ok(response.map(axum::body::Body::new))
                    }
                }
            }
            Err(error) => {
                // an inner error never reaches the client as an answer of ours: the server
                // closes the connection, which the client sees as a failure of the service
                if let Some(in_flight) = in_flight {
                    in_flight.finish(500, Grpc::No);
                }
                Err(error)
            }
        })
    }
}

pin_project! {
    /// What [`HttpMetrics`](super::HttpMetrics) wraps a streamed response body in (no exact
    /// size when the head goes out: server-sent events, a download produced as it goes), inside
    /// axum's `Body`: it keeps its request in flight until it ends, and the request's duration
    /// runs to that end; a body that fails, or that the client leaves before its end, is counted
    /// in `ns_http_responses_incomplete_total` (`body_error`, `client_gone`). The head's status
    /// code stays the request's `status_code`. Any other body is passed on as it is.
    #[derive(Debug)]
    pub(crate) struct MeteredBody<B> {
        #[pin]
        inner: B,
        in_flight: Option<InFlight>,
    }
}

impl<B: Body> Body for MeteredBody<B> {
    type Data = B::Data;
    type Error = B::Error;

    #[inline]
    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<B::Data>, B::Error>>> {
        let mut this = self.project();
        let polled = this.inner.as_mut().poll_frame(cx);
        if let Some(in_flight) = this.in_flight.as_mut() {
            // a gRPC call's status comes in the trailers, the body's last frame
            in_flight.grpc.see(&polled);
            if let Some(incomplete) = crate::http::stream::ended(&polled, &*this.inner) {
                if let Some(in_flight) = this.in_flight.take() {
                    in_flight.end_of_body(incomplete.err());
                }
            }
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

/// Records the request as a panic (`500`) if dropped while the thread unwinds.
struct OnUnwind<'a>(Option<&'a mut Option<InFlight>>);

impl<'a> OnUnwind<'a> {
    /// The poll returned: nothing to do on the way out.
    fn defuse(mut self) -> &'a mut Option<InFlight> {
        let inner = self.0.take().expect("defused once");
        std::mem::forget(self);
        inner
    }
}

impl Drop for OnUnwind<'_> {
    fn drop(&mut self) {
        // only reached while unwinding: `defuse` forgets the guard on every return
        if let Some(in_flight) = self.0.take() {
            drop(in_flight.take());
        }
    }
}

/// A request between its start and its end, recorded by `finish` or, dropped first, as
/// cancelled (or, while unwinding, as a `500`).
#[derive(Debug)]
pub(super) struct InFlight {
    entry: Arc<Entry>,
    shared: Arc<Shared>,
    start: u64,
    done: bool,
    /// The head went out with this status code; the body is still being sent.
    head: Option<u16>,
    /// What the response says of its gRPC call (its status, once seen).
    grpc: Grpc,
}

fn clock() -> &'static quanta::Clock {
    static CLOCK: std::sync::OnceLock<quanta::Clock> = std::sync::OnceLock::new();
    CLOCK.get_or_init(quanta::Clock::new)
}

impl InFlight {
    pub(super) fn start(entry: Arc<Entry>, shared: Arc<Shared>) -> InFlight {
        entry.series.begin();
        InFlight {
            entry,
            shared,
            start: clock().raw(),
            done: false,
            head: None,
            grpc: Grpc::No,
        }
    }

    /// Makes the request (and, unless it is the installed one, the layer's telemetry)
    /// current on this thread until the guard drops.
    pub(super) fn enter(&self) -> impl Sized {
        let local = (!self.shared.global)
            .then(|| crate::context::LocalGuard::enter(self.shared.context.clone()));
        let served = crate::serving::enter(&self.entry.served);
        (local, served)
    }

    /// The response is out with `code` (its head, and a body that needs no more work; a gRPC
    /// call's status, when it failed before any message, is in that head).
    pub(super) fn finish(mut self, code: u16, grpc: Grpc) {
        self.done = true;
        self.grpc = grpc;
        self.record(status_of(code, grpc), Some(code), None);
    }

    /// A streamed body ended: whole, or early because it failed.
    fn end_of_body(mut self, incomplete: Option<Incomplete>) {
        self.done = true;
        let code = self.head.unwrap_or(200);
        let status = match incomplete {
            Some(Incomplete::BodyError) => Status::Error,
            _ => status_of(code, self.grpc),
        };
        self.record(status, Some(code), incomplete);
    }

    fn record(&self, status: Status, code: Option<u16>, incomplete: Option<Incomplete>) {
        let clock = clock();
        let nanos = clock.delta_as_nanos(self.start, clock.raw());
        let slow = nanos >= self.shared.slow_nanos;
        self.entry
            .series
            .end(status, code, self.grpc.code(), nanos, slow, incomplete);
        #[cfg(feature = "sentry")]
        if slow {
            super::slow::report(&self.entry, &self.shared, nanos);
        }
    }
}

/// A request answered with `code` went well unless the server failed (5xx) or, for a gRPC
/// call, its status is not `OK`.
fn status_of(code: u16, grpc: Grpc) -> Status {
    if code >= 500 || grpc.failed() {
        Status::Error
    } else {
        Status::Ok
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        if self.done {
            return;
        }
        match self.head {
            // the body was dropped before its end: the client went away mid-stream
            Some(code) => self.record(
                status_of(code, self.grpc),
                Some(code),
                Some(Incomplete::ClientGone),
            ),
            None if std::thread::panicking() => self.record(Status::Panic, Some(500), None),
            None => self.record(Status::Cancelled, None, None),
        }
    }
}
