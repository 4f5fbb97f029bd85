use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{ready, Context, Poll};

use pin_project_lite::pin_project;

use super::routes::{Entry, Shared};
use crate::site::Status;

pin_project! {
    /// The response future of [`HttpMetrics`](super::HttpMetrics): the request is recorded
    /// when it resolves, or as `cancelled` when it is dropped before (the client went away).
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
{
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let entered = this.in_flight.as_ref().map(InFlight::enter);
        // A handler that panics unwinds through this poll; the runtime catches the panic and
        // drops this future only later, when the thread no longer panics: record it here.
        let unwinding = OnUnwind(Some(this.in_flight));
        let polled = this.inner.poll(cx);
        let in_flight = unwinding.defuse();
        let result = ready!(polled);
        if let Some(in_flight) = in_flight.take() {
            // an inner error never reaches the client as an answer of ours: the server
            // closes the connection, which the client sees as a failure of the service
            let code = result
                .as_ref()
                .map_or(500, |response| response.status().as_u16());
            in_flight.finish(code);
        }
        drop(entered);
        Poll::Ready(result)
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

    /// The response's head is out with `code`.
    pub(super) fn finish(mut self, code: u16) {
        self.done = true;
        let status = if code >= 500 {
            Status::Error
        } else {
            Status::Ok
        };
        self.record(status, Some(code));
    }

    fn record(&self, status: Status, code: Option<u16>) {
        let clock = clock();
        let nanos = clock.delta_as_nanos(self.start, clock.raw());
        let slow = nanos >= self.shared.slow_nanos;
        self.entry.series.end(status, code, nanos, slow);
        #[cfg(feature = "sentry")]
        if slow {
            super::slow::report(&self.entry, &self.shared, nanos);
        }
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        if self.done {
            return;
        }
        if std::thread::panicking() {
            self.record(Status::Panic, Some(500));
        } else {
            self.record(Status::Cancelled, None);
        }
    }
}
