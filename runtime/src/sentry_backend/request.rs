//! A request served by the HTTP layer, as the Sentry backend sees it: a scope of its own that
//! owns the request's transaction, what the request looked like (described lazily, off the
//! request's path), and the trace it propagates to outgoing calls.

// Used by the HTTP layers (feature `axum`) only.
#![cfg_attr(not(feature = "axum"), allow(dead_code))]

use std::fmt;
use std::sync::Arc;

use sentry::protocol::{self, SpanStatus, Value};

use super::call::{find_current, CallScope, ScopeKind, Trace};
use super::trace::Incoming;

/// Describes the request for an event or a transaction, scrubbed. Called only when one is
/// sent: on the span thread for a transaction, when capturing for an event.
#[derive(Clone)]
pub(crate) struct RequestDescriber(pub(crate) Arc<dyn Fn() -> protocol::Request + Send + Sync>);

impl fmt::Debug for RequestDescriber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("RequestDescriber")
    }
}

/// The trace a request belongs to, for outgoing headers when it is not sampled (a sampled
/// request propagates its span).
#[derive(Debug, Clone)]
pub(crate) struct Propagation {
    pub(crate) trace_id: [u8; 16],
    pub(crate) sampled: bool,
    /// The caller's `baggage`, passed on as it came.
    pub(crate) baggage: Option<String>,
}

/// Opens the scope and transaction of a request named `name` (`GET /shops/{id}`), continuing
/// `incoming` when the caller sent a valid `sentry-trace`. `None` when no telemetry here has a
/// Sentry backend: then nothing is described or allocated.
pub(crate) fn start_request(
    name: &'static str,
    incoming: Option<&Incoming>,
    baggage: Option<&str>,
    describe: impl FnOnce() -> RequestDescriber,
) -> Option<CallScope> {
    let op = "http.server";
    let (trace, backend) = match incoming {
        Some(incoming) => Trace::open_continuing(name.into(), op.into(), incoming)?,
        None => Trace::open(name.into(), op.into())?,
    };
    let scope = CallScope::new(backend, ScopeKind::Request, name, None, trace);
    let trace_id = match (scope.span_handle(), incoming) {
        (Some(span), _) => span.trace_id(),
        (None, Some(incoming)) => incoming.trace_id,
        (None, None) => {
            let mut id = [0; 16];
            id[..8].copy_from_slice(&super::call::random_u64().to_be_bytes());
            id[8..].copy_from_slice(&super::call::random_u64().to_be_bytes());
            id
        }
    };
    {
        let mut data = scope
            .shared_scope()
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        data.request = Some(describe());
        data.propagation = Some(Propagation {
            trace_id,
            sampled: scope.span_handle().is_some(),
            baggage: baggage.map(str::to_owned),
        });
    }
    Some(scope)
}

/// The status of a request's transaction for an answer with `code`.
pub(crate) fn status_of(code: u16) -> SpanStatus {
    match code {
        100..=399 => SpanStatus::Ok,
        401 => SpanStatus::Unauthenticated,
        403 => SpanStatus::PermissionDenied,
        404 => SpanStatus::NotFound,
        409 => SpanStatus::AlreadyExists,
        429 => SpanStatus::ResourceExhausted,
        499 => SpanStatus::Cancelled,
        400..=499 => SpanStatus::InvalidArgument,
        501 => SpanStatus::Unimplemented,
        503 => SpanStatus::Unavailable,
        504 => SpanStatus::DeadlineExceeded,
        _ => SpanStatus::InternalError,
    }
}

impl CallScope {
    /// Ends a request's transaction: answered with `code`, or (`None`) abandoned.
    pub(crate) fn finish_request(mut self, code: Option<u16>) {
        let status = match code {
            Some(code) => {
                self.set_span_data("http.response.status_code", Value::from(code));
                status_of(code)
            }
            None if std::thread::panicking() => SpanStatus::InternalError,
            None => SpanStatus::Cancelled,
        };
        self.finish_with(status);
    }
}

fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    bytes.iter().fold(String::new(), |mut out, b| {
        let _ = write!(out, "{b:02x}");
        out
    })
}

/// `sentry-trace` and `baggage` for an outgoing request made here: the innermost sampled span
/// (`-1`), else the unsampled request's trace (`-0`). `None` outside any request or call.
pub(crate) fn outgoing_headers() -> Option<(String, Option<String>)> {
    let propagation = find_current(|scope| {
        let data = scope.scope.get()?;
        data.lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .propagation
            .clone()
    });
    let baggage = propagation.as_ref().and_then(|p| p.baggage.clone());
    if let Some(span) = find_current(CallScope::span_handle) {
        let context = span.trace_context();
        return Some((
            format!("{}-{}-1", context.trace_id, context.span_id),
            baggage,
        ));
    }
    let propagation = propagation?;
    let span_id = super::call::random_u64().max(1).to_be_bytes();
    Some((
        format!(
            "{}-{}-{}",
            hex(&propagation.trace_id),
            hex(&span_id),
            u8::from(propagation.sampled)
        ),
        baggage,
    ))
}

/// The sampling decision in a `baggage` header's `sentry-sampled` entry, if any.
pub(crate) fn baggage_sampled(baggage: &str) -> Option<bool> {
    baggage.split(',').find_map(|entry| {
        let (key, value) = entry.split_once('=')?;
        (key.trim() == "sentry-sampled").then(|| match value.trim() {
            "true" => Some(true),
            "false" => Some(false),
            _ => None,
        })?
    })
}
