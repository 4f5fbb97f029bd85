use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use pin_project_lite::pin_project;

use super::layer::Config;
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
        // still inside the request's scope: a streamed body takes it along
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

/// The Sentry side of one request: its scope and transaction while it runs.
#[derive(Debug)]
pub(super) struct RequestState {
    #[cfg(feature = "sentry")]
    scope: Option<crate::sentry_backend::CallScope>,
    /// The request's description, which the scope shares: kept for the next request on this
    /// thread when nothing else holds it at the end.
    #[cfg(feature = "sentry")]
    info: Option<super::describe::Info>,
}

impl RequestState {
    /// Opens the request's scope (when a Sentry backend is current) and wraps its body for
    /// capture when that is on.
    #[cfg_attr(not(feature = "sentry"), allow(unused_variables))]
    pub(super) fn start(
        request: http::Request<axum::body::Body>,
        config: &Config,
    ) -> (RequestState, http::Request<axum::body::Body>) {
        #[cfg(feature = "sentry")]
        {
            start_sentry(request, config)
        }
        #[cfg(not(feature = "sentry"))]
        {
            (RequestState {}, request)
        }
    }

    /// Makes the request's scope current until the guard drops.
    #[cfg_attr(not(feature = "sentry"), allow(clippy::unused_self))]
    pub(super) fn enter(&self) -> impl Sized {
        #[cfg(feature = "sentry")]
        {
            self.scope
                .as_ref()
                .map(crate::sentry_backend::CallScope::enter)
        }
    }

    /// The response, its body made to run inside the request's scope when it is produced
    /// later (a stream: no exact size and not ended), so that what it logs or captures while it
    /// streams reaches the request's hub and trace.
    #[cfg_attr(not(feature = "sentry"), allow(clippy::unused_self))]
    fn scoped<B>(&self, response: http::Response<B>) -> http::Response<axum::body::Body>
    where
        B: http_body::Body<Data = bytes::Bytes> + Send + 'static,
        B::Error: Into<axum::BoxError>,
    {
        #[cfg(feature = "sentry")]
        if self.scope.is_some() {
            let body = response.body();
            if body.size_hint().exact().is_none() && !body.is_end_stream() {
                if let Some(scope) = crate::sentry_backend::CallScope::carried() {
                    return response.map(|body| {
                        axum::body::Body::new(super::body::ScopedBody::new(body, scope))
                    });
                }
            }
        }
        response.map(axum::body::Body::new)
    }

    /// The request ends: answered with `code`, or (`None`) before its answer — cancelled, or a
    /// panic while unwinding. Its description is kept for the next request if nothing holds it.
    #[cfg_attr(not(feature = "sentry"), allow(unused_variables, clippy::unused_self))]
    fn end(&mut self, code: Option<u16>) {
        #[cfg(feature = "sentry")]
        if let Some(scope) = self.scope.take() {
            scope.finish_request(code);
        }
        #[cfg(feature = "sentry")]
        if let Some(info) = self.info.take() {
            super::describe::recycle(info);
        }
    }
}

impl Drop for RequestState {
    fn drop(&mut self) {
        self.end(None);
    }
}

#[cfg(feature = "sentry")]
fn start_sentry(
    request: http::Request<axum::body::Body>,
    config: &Config,
) -> (RequestState, http::Request<axum::body::Body>) {
    use crate::sentry_backend::{request as sentry_request, Incoming};
    // named once: a `&str` name is parsed at every lookup
    static BAGGAGE: http::HeaderName = http::HeaderName::from_static("baggage");
    static SENTRY_TRACE: http::HeaderName = http::HeaderName::from_static("sentry-trace");
    static TRACEPARENT: http::HeaderName = http::HeaderName::from_static("traceparent");

    // No Sentry backend in reach (no DSN): nothing to read off the request, no scope to open.
    if !crate::sentry_backend::call::reachable() {
        return (
            RequestState {
                scope: None,
                info: None,
            },
            request,
        );
    }
    let name = crate::serving::with_current(|served| served.name).unwrap_or("");
    let captured = config
        .capture_body
        .then(|| Arc::new(std::sync::Mutex::new(super::body::Captured::default())));
    // the head is copied in one pass over the headers (into an allocation an ended request left
    // on this thread, when there is one), and the trace headers are found in that copy (a
    // header map lookup by a name that is not a standard one hashes it)
    let (info, incoming) = super::describe::info_of(
        &request,
        captured.clone(),
        config.max_body_size,
        &config.scrubber,
        |head| {
            let header =
                |name: &http::HeaderName| head.header(name).and_then(|value| value.to_str().ok());
            let baggage = header(&BAGGAGE).map(crate::sentry_backend::bounded_baggage);
            // Sentry's own header first; a W3C `traceparent` stands in without it
            let incoming = header(&SENTRY_TRACE)
                .and_then(Incoming::parse)
                .or_else(|| header(&TRACEPARENT).and_then(Incoming::parse_traceparent))
                .map(|incoming| incoming.with_baggage(baggage.as_deref()));
            (incoming, baggage.map(std::borrow::Cow::into_owned))
        },
    );
    let scope = sentry_request::start_request(name, incoming.as_ref(), || {
        let shared: Arc<sentry_request::RequestInfo> = info.clone();
        shared
    });
    let request = match (&scope, captured) {
        (Some(_), Some(captured)) => request.map(|body| {
            axum::body::Body::new(super::CapturedBody::new(
                body,
                captured,
                config.max_body_size,
            ))
        }),
        _ => request,
    };
    (
        RequestState {
            scope,
            info: Some(info),
        },
        request,
    )
}
