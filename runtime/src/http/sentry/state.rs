//! The Sentry side of one request (feature `sentry`): its scope and transaction while it runs,
//! and the description of the request its events carry. Its twin `state_noop.rs` has the same
//! items doing nothing, so that the layer's future names no feature.

use std::sync::Arc;

use super::layer::Config;

/// The Sentry side of one request: its scope and transaction while it runs.
#[derive(Debug)]
pub(crate) struct RequestState {
    scope: Option<crate::sentry_backend::CallScope>,
    /// The request's description, which the scope shares: kept for the next request on this
    /// thread when nothing else holds it at the end.
    info: Option<super::describe::Info>,
}

impl RequestState {
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

    /// The response, its body made to run inside the request's scope when it is produced
    /// later (a stream: no exact size and not ended), so that what it logs or captures while it
    /// streams reaches the request's hub and trace.
    pub(super) fn scoped<B>(&self, response: http::Response<B>) -> http::Response<axum::body::Body>
    where
        B: http_body::Body<Data = bytes::Bytes> + Send + 'static,
        B::Error: Into<axum::BoxError>,
    {
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
    pub(super) fn end(&mut self, code: Option<u16>) {
        if let Some(scope) = self.scope.take() {
            scope.finish_request(code);
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
        },
        request,
    )
}
