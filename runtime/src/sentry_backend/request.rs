//! A request served by the HTTP layer, as the Sentry backend sees it: a root with a hub of its
//! own, what the request looked like (described lazily, off the request's path), and the trace
//! it propagates to outgoing calls.

use std::sync::Arc;

use sentry::protocol::SpanStatus;

use super::call::{current_hub, current_trace, BackendRef, CallScope, RootSpec, ScopeKind};
use super::trace::Incoming;
pub(crate) use super::trace::{DescribeRequest, RequestInfo};

/// Opens the root of a request named `name` (`GET /shops/{id}`), continuing `incoming` when
/// the caller sent a valid `sentry-trace` the backend accepts; `describe` makes what describes it
/// (with the caller's `baggage`). `None` when no telemetry here has
/// a Sentry backend: then nothing is described or allocated.
pub(crate) fn start_request(
    name: &'static str,
    incoming: Option<&Incoming>,
    describe: impl FnOnce() -> Arc<RequestInfo>,
) -> Option<CallScope> {
    let backend = BackendRef::current()?;
    let request = describe();
    Some(CallScope::open_root(
        backend,
        ScopeKind::Request,
        name,
        RootSpec {
            name,
            op: "http.server",
            incoming,
            request: Some(request),
        },
    ))
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

/// The status of a gRPC call's transaction for its `grpc-status` (Sentry's span statuses are
/// gRPC's codes).
pub(crate) fn grpc_status_of(code: u8) -> SpanStatus {
    match code {
        0 => SpanStatus::Ok,
        1 => SpanStatus::Cancelled,
        3 => SpanStatus::InvalidArgument,
        4 => SpanStatus::DeadlineExceeded,
        5 => SpanStatus::NotFound,
        6 => SpanStatus::AlreadyExists,
        7 => SpanStatus::PermissionDenied,
        8 => SpanStatus::ResourceExhausted,
        9 => SpanStatus::FailedPrecondition,
        10 => SpanStatus::Aborted,
        11 => SpanStatus::OutOfRange,
        12 => SpanStatus::Unimplemented,
        13 => SpanStatus::InternalError,
        14 => SpanStatus::Unavailable,
        15 => SpanStatus::DataLoss,
        16 => SpanStatus::Unauthenticated,
        _ => SpanStatus::UnknownError,
    }
}

impl CallScope {
    /// The status of an answer with `code`, and, for a gRPC call whose status was seen, that
    /// status (a gRPC error comes in a `200`), both written on the transaction.
    fn answered(&self, code: u16, grpc: Option<u8>) -> SpanStatus {
        self.set_response_code(code);
        match grpc {
            Some(grpc) if code < 500 => {
                self.set_grpc_status(grpc);
                grpc_status_of(grpc)
            }
            _ => status_of(code),
        }
    }

    /// Ends a request's transaction: answered with `code` (and `grpc`, a gRPC call's status),
    /// or (`None`) abandoned.
    pub(crate) fn finish_request(self, code: Option<u16>, grpc: Option<u8>) {
        let status = match code {
            Some(code) => self.answered(code, grpc),
            None if std::thread::panicking() => SpanStatus::InternalError,
            None => SpanStatus::Cancelled,
        };
        self.finish_with(status);
    }

    /// Ends a request whose streamed body ended after a head with `code` (and trailers with
    /// `grpc`, a gRPC call's status): whole, or early
    /// (`incomplete`: `client_gone`, `body_error`), which its transaction says.
    pub(crate) fn finish_streamed(
        self,
        code: u16,
        grpc: Option<u8>,
        incomplete: Option<&'static str>,
    ) {
        let answered = self.answered(code, grpc);
        let status = match incomplete {
            None => answered,
            Some(why) => {
                self.set_span_text("http.response.incomplete", why);
                if why == "client_gone" {
                    SpanStatus::Cancelled
                } else {
                    SpanStatus::InternalError
                }
            }
        };
        self.finish_with(status);
    }
}

/// `sentry-trace` and `baggage` for an outgoing request made here: the innermost sampled span
/// (`-1`), else the unsampled call's trace and span (`-0`). `None` outside any request or call.
pub(crate) fn outgoing_headers() -> Option<(String, Option<String>, Option<String>)> {
    let trace = current_trace()?;
    let (baggage, tracestate) = super::call::find_current(|scope| {
        let request = scope.request()?;
        Some((request.baggage.clone(), request.tracestate.clone()))
    })
    .unwrap_or_default();
    // the hub's scope knows best when a span of someone else's (sentry-tracing's) is entered
    let header = current_hub()
        .and_then(|hub| {
            let current = sentry::Hub::current();
            (!Arc::ptr_eq(&hub, &current) && trace.sampled)
                .then(|| {
                    current.configure_scope(|scope| {
                        scope
                            .iter_trace_propagation_headers()
                            .find(|(name, _)| *name == "sentry-trace")
                            .map(|(_, value)| value)
                    })
                })
                .flatten()
        })
        .unwrap_or_else(|| trace.sentry_trace());
    Some((header, baggage, tracestate))
}
