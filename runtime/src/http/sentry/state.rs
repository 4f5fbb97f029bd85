//! The Sentry side of one request (feature `sentry`): its scope and transaction while it runs,
//! and the description of the request its events carry. Its twin `state_noop.rs` has the same
//! items doing nothing, so that the layer's future names no feature.

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use pin_project_lite::pin_project;

use super::layer::Config;
use crate::http::stream::Grpc;
use crate::site::Incomplete;

/// The Sentry side of one request: its scope and transaction while it runs.
#[derive(Debug)]
pub(crate) struct RequestState {
    scope: Option<crate::sentry_backend::CallScope>,
    /// The request's description, which the scope shares: kept for the next request on this
    /// thread when nothing else holds it at the end.
    info: Option<super::describe::Info>,
    /// What the response's head said of its gRPC call.
    grpc: Grpc,
}

impl RequestState {
    /// A request with nothing of Sentry's.
    const EMPTY: RequestState = RequestState {
        scope: None,
        info: None,
        grpc: Grpc::No,
    };

    /// Opens the request's scope (when a Sentry backend is current) and wraps its body for
    /// capture when that is on.
    pub(super) fn start(
        request: http::Request<axum::body::Body>,
        config: &Config,
    ) -> (RequestState, http::Request<axum::body::Body>) {
        start_sentry(request, config)
    }

    /// Makes the request's scope current until the guard drops.
    pub(super) fn enter(&self) -> impl Sized {
        self.scope
            .as_ref()
            .map(crate::sentry_backend::CallScope::enter)
    }

    /// The response. A body produced later (a stream: no exact size and not ended) takes the
    /// request along: it runs inside the request's scope, so that what it logs or captures while
    /// it streams reaches the request's hub and trace, and the transaction ends with it — whole,
    /// failed (`internal_error`) or left by the client (`cancelled`), the head's status code in
    /// its data either way. This state is then empty.
    pub(super) fn scoped<B>(
        &mut self,
        response: http::Response<B>,
    ) -> http::Response<axum::body::Body>
    where
        B: Body<Data = Bytes> + Send + 'static,
        B::Error: Into<axum::BoxError>,
    {
        if self.scope.is_some() {
            // a gRPC call that failed before any message says so in the head; any other gives
            // its status in the trailers, at the end of its (streamed) body
            let (streamed, grpc) = crate::http::stream::shape(&response);
            self.grpc = grpc;
            if streamed {
                let code = response.status().as_u16();
                let state = StreamEnd {
                    state: Some(std::mem::replace(self, RequestState::EMPTY)),
                    code,
                };
                return response
                    .map(|inner| axum::body::Body::new(ScopedBody { inner, end: state }));
            }
        }
        response.map(axum::body::Body::new)
    }

    /// A streamed body ended: whole, or early.
    fn end_of_body(&mut self, code: u16, incomplete: Option<Incomplete>) {
        if let Some(scope) = self.scope.take() {
            scope.finish_streamed(
                code,
                self.grpc.code(),
                incomplete.map(|why| match why {
                    Incomplete::ClientGone => "client_gone",
                    Incomplete::BodyError => "body_error",
                }),
            );
        }
        if let Some(info) = self.info.take() {
            super::describe::recycle(info);
        }
    }

    /// The request ends: answered with `code`, or (`None`) before its answer — cancelled, or a
    /// panic while unwinding. Its description is kept for the next request if nothing holds it.
    pub(super) fn end(&mut self, code: Option<u16>) {
        if let Some(scope) = self.scope.take() {
            scope.finish_request(code, self.grpc.code());
        }
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

fn start_sentry(
    request: http::Request<axum::body::Body>,
    config: &Config,
) -> (RequestState, http::Request<axum::body::Body>) {
    use crate::sentry_backend::{request as sentry_request, Incoming};
    // named once: a `&str` name is parsed at every lookup
    static BAGGAGE: http::HeaderName = http::HeaderName::from_static("baggage");
    static SENTRY_TRACE: http::HeaderName = http::HeaderName::from_static("sentry-trace");
    static TRACEPARENT: http::HeaderName = http::HeaderName::from_static("traceparent");
    static TRACESTATE: http::HeaderName = http::HeaderName::from_static("tracestate");

    // No Sentry backend in reach (no DSN): nothing to read off the request, no scope to open.
    if !crate::sentry_backend::call::reachable() {
        return (RequestState::EMPTY, request);
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
            let [sentry_trace, traceparent, baggage, tracestate] = head
                .headers([&SENTRY_TRACE, &TRACEPARENT, &BAGGAGE, &TRACESTATE])
                .map(|value| value.and_then(|value| value.to_str().ok()));
            let baggage = baggage.map(crate::sentry_backend::bounded_baggage);
            // Sentry's own header first; a W3C `traceparent` stands in without it
            let incoming = sentry_trace
                .and_then(Incoming::parse)
                .or_else(|| traceparent.and_then(Incoming::parse_traceparent))
                .map(|incoming| incoming.with_baggage(baggage.as_deref()));
            let tracestate =
                tracestate.map(|t| crate::sentry_backend::bounded_tracestate(t).into_owned());
            (
                incoming,
                (baggage.map(std::borrow::Cow::into_owned), tracestate),
            )
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
            grpc: Grpc::No,
        },
        request,
    )
}

/// A streamed body's request, ended when the body ends or, dropped first, as left by the
/// client.
#[derive(Debug)]
struct StreamEnd {
    state: Option<RequestState>,
    code: u16,
}

impl Drop for StreamEnd {
    fn drop(&mut self) {
        if let Some(mut state) = self.state.take() {
            state.end_of_body(self.code, Some(Incomplete::ClientGone));
        }
    }
}

pin_project! {
    /// A streamed response body produced inside its request's scope: each poll makes the
    /// request's hub current, so `tracing` events, breadcrumbs and captures made while the
    /// body streams belong to that request (sentry-rust #1208 loses the hub there); the
    /// request's transaction ends with the body.
    struct ScopedBody<B> {
        #[pin]
        inner: B,
        end: StreamEnd,
    }
}

impl<B: Body<Data = Bytes>> Body for ScopedBody<B> {
    type Data = Bytes;
    type Error = B::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, B::Error>>> {
        let mut this = self.project();
        let entered = this.end.state.as_ref().map(RequestState::enter);
        let polled = this.inner.as_mut().poll_frame(cx);
        drop(entered);
        if let Some(state) = this.end.state.as_mut() {
            // a gRPC call's status comes in the trailers, the body's last frame
            state.grpc.see(&polled);
        }
        if let Some(incomplete) = crate::http::stream::ended(&polled, &*this.inner) {
            if let Some(mut state) = this.end.state.take() {
                state.end_of_body(this.end.code, incomplete.err());
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
