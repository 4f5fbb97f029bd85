//! Outgoing requests: the current trace's `sentry-trace`, W3C `traceparent` (with the caller's
//! `tracestate`) and `baggage` headers, so the next service joins the trace.

/// Puts the current trace's `sentry-trace` and W3C `traceparent` (and, when the caller sent
/// them, its `baggage` and `tracestate`, bounded by the W3C limits) headers on an outgoing
/// request, so that the service it calls continues this trace (a kansoku
/// service with the [`SentryLayer`](super::SentryLayer), any Sentry SDK, or an OpenTelemetry
/// one). Inside a request served by the layer, or an annotated call, the headers name the
/// current span and carry its sampling decision (`-0` and flags `00` when this request is not
/// sampled, so the callee does not sample either). Outside any, or without the `sentry`
/// feature, nothing is added.
///
/// Works on any `http::HeaderMap`: a `reqwest` request's (`request.headers_mut()`), an
/// `http::Request`'s, a hyper client's.
///
/// ```
/// let mut request = http::Request::get("http://127.0.0.1:7700/health").body(()).unwrap();
/// kansoku::http::inject_trace_headers(request.headers_mut());
/// ```
#[cfg_attr(not(feature = "sentry"), allow(unused_variables))]
pub fn inject_trace_headers(headers: &mut http::HeaderMap) {
    #[cfg(feature = "sentry")]
    if let Some((trace, baggage, tracestate)) = crate::sentry_backend::outgoing_headers() {
        // the same trace, span and decision in W3C's form (no decision: `00`, not sampled here)
        let parent = crate::sentry_backend::Incoming::parse(&trace).map(|ids| {
            format!(
                "00-{}-{}-{}",
                sentry::protocol::TraceId::from(ids.trace_id),
                sentry::protocol::SpanId::from(ids.parent_span_id),
                if ids.sampled == Some(true) {
                    "01"
                } else {
                    "00"
                }
            )
        });
        if let Some(value) = parent.and_then(|p| http::HeaderValue::from_str(&p).ok()) {
            headers.insert("traceparent", value);
        }
        if let Ok(value) = http::HeaderValue::from_str(&trace) {
            headers.insert("sentry-trace", value);
        }
        if let Some(value) = baggage.and_then(|b| http::HeaderValue::from_str(&b).ok()) {
            headers.insert("baggage", value);
        }
        // the caller's other vendors' entries, with the trace they belong to
        if let Some(value) = tracestate.and_then(|t| http::HeaderValue::from_str(&t).ok()) {
            headers.insert("tracestate", value);
        }
    }
}
