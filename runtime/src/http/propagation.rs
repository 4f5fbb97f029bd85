//! Outgoing requests: the current trace's `sentry-trace` and `baggage` headers, so the next
//! service joins the trace.

/// Puts the current trace's `sentry-trace` (and, when known, `baggage`) headers on an outgoing
/// request, so that the service it calls continues this trace (a kansoku service with the
/// [`SentryLayer`](super::SentryLayer), or any Sentry SDK). Inside a request served by the
/// layer, or an annotated call, the headers name the current span and carry its sampling
/// decision (`-0` when this request is not sampled, so the callee does not sample either).
/// Outside any, or without the `sentry` feature, nothing is added.
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
    if let Some((trace, baggage)) = crate::sentry_backend::outgoing_headers() {
        if let Ok(value) = http::HeaderValue::from_str(&trace) {
            headers.insert("sentry-trace", value);
        }
        if let Some(value) = baggage.and_then(|b| http::HeaderValue::from_str(&b).ok()) {
            headers.insert("baggage", value);
        }
    }
}
