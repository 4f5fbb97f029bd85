//! The API's Sentry side (feature `sentry`): what `api` asks of the current call's scope. Its
//! twin `noop.rs` has the same items doing nothing, so that `api` itself names no feature.

use super::{EventId, Level, TraceContext, User, Value};
use crate::sentry_backend::call::{current_hub, BackendRef, CallScope, RootSpec, ScopeKind};
use crate::Status;

/// Changes the scope of the call running here (its hub's, which every crate's `sentry::`
/// calls reach too) or, outside any call, the current telemetry's.
fn with_scope(change: impl FnOnce(&mut sentry::Scope)) {
    if let Some(hub) = current_hub() {
        hub.configure_scope(change);
    } else if let Some(backend) = BackendRef::current() {
        backend.with_hub(|hub| hub.configure_scope(change));
    }
}

pub(super) fn set_tag(key: impl Into<String>, value: impl Into<String>) {
    let (key, value) = (key.into(), value.into());
    with_scope(|scope| scope.set_tag(&key, value));
}

pub(super) fn set_context(key: impl Into<String>, value: impl Into<Value>) {
    let key = key.into();
    let context = match value.into() {
        Value::Object(map) => sentry::protocol::Context::Other(map.into_iter().collect()),
        other => {
            sentry::protocol::Context::Other(std::iter::once(("value".to_owned(), other)).collect())
        }
    };
    with_scope(|scope| scope.set_context(&key, context));
}

pub(super) fn set_extra(key: impl Into<String>, value: impl Into<Value>) {
    let (key, value) = (key.into(), value.into());
    with_scope(|scope| scope.set_extra(&key, value));
}

pub(super) fn set_user(user: Option<User>) {
    let user = user.map(|user| sentry::User {
        id: user.id,
        email: user.email,
        username: user.username,
        ip_address: user.ip_address.and_then(|ip| ip.parse().ok()),
        other: user.other.into_iter().collect(),
    });
    with_scope(|scope| scope.set_user(user));
}

pub(super) fn capture_error(
    error: &(dyn std::error::Error + 'static),
    extra: &[(&str, Value)],
) -> Option<EventId> {
    crate::sentry_backend::capture_error_event(error, extra).map(|id| EventId(*id.as_bytes()))
}

pub(super) fn capture_message(
    message: &str,
    level: Level,
    extra: &[(&str, Value)],
) -> Option<EventId> {
    let level = match level {
        Level::Debug => sentry::Level::Debug,
        Level::Info => sentry::Level::Info,
        Level::Warning => sentry::Level::Warning,
        Level::Error => sentry::Level::Error,
        Level::Fatal => sentry::Level::Fatal,
    };
    crate::sentry_backend::capture_message_event(message, level, extra)
        .map(|id| EventId(*id.as_bytes()))
}

pub(super) fn trace_context() -> Option<TraceContext> {
    crate::sentry_backend::call::current_trace().map(|ids| TraceContext {
        trace_id: ids.trace_id,
        span_id: ids.span_id,
        sampled: ids.sampled,
    })
}

fn span_status(status: Status) -> sentry::protocol::SpanStatus {
    use sentry::protocol::SpanStatus;
    match status {
        Status::Ok => SpanStatus::Ok,
        Status::Error | Status::Panic => SpanStatus::InternalError,
        Status::Cancelled => SpanStatus::Cancelled,
    }
}

/// A hand-made transaction's scope: none without a Sentry backend in reach.
#[derive(Debug)]
pub(super) struct TransactionScope(Option<Box<CallScope>>);

impl TransactionScope {
    pub(super) fn start(op: &str, name: &str) -> TransactionScope {
        TransactionScope(CallScope::start_transaction(name, op).map(Box::new))
    }

    /// Continues the trace of a `sentry-trace` among `headers`; `None` without a valid one,
    /// or inside a running transaction (which the call then joins, as `start` does).
    pub(super) fn continued<'a>(
        op: &str,
        name: &str,
        headers: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) -> Option<TransactionScope> {
        let incoming = crate::sentry_backend::Incoming::from_headers(headers)
            .filter(|_| !crate::sentry_backend::call::in_transaction())?;
        let scope = BackendRef::current().map(|backend| {
            Box::new(CallScope::open_root(
                backend,
                ScopeKind::Transaction,
                "",
                RootSpec {
                    name,
                    op,
                    incoming: Some(&incoming),
                    request: None,
                },
            ))
        });
        Some(TransactionScope(scope))
    }

    pub(super) fn start_child(&self, op: &str, description: &str) -> SpanScope {
        SpanScope(
            self.0
                .as_ref()
                .and_then(|scope| scope.child_span(op, description))
                .map(Box::new),
        )
    }

    pub(super) fn enter(&self) -> impl Sized {
        self.0.as_deref().map(CallScope::enter)
    }

    pub(super) fn finish(&mut self, status: Status) {
        if let Some(scope) = self.0.take() {
            scope.finish_with(span_status(status));
        }
    }
}

/// A child span: none when its parent is not sampled.
///
/// A sampled one is a call scope of its own (never entered): its ids are kansoku's, and it
/// goes out over OTLP beside Sentry as the attributes' spans do.
#[derive(Debug)]
pub(super) struct SpanScope(Option<Box<CallScope>>);

impl SpanScope {
    pub(super) fn start_child(&self, op: &str, description: &str) -> SpanScope {
        SpanScope(
            self.0
                .as_ref()
                .and_then(|scope| scope.child_span(op, description))
                .map(Box::new),
        )
    }

    pub(super) fn set_data(&self, key: &str, value: impl Into<Value>) {
        if let Some(span) = self.0.as_ref().and_then(|scope| scope.sampled_span()) {
            span.set_data(key, value.into());
        }
    }

    pub(super) fn finish(&mut self, status: Status) {
        if let Some(scope) = self.0.take() {
            scope.finish_with(span_status(status));
        }
    }
}

/// The call's scope `kansoku::bind` carries into a task.
#[derive(Debug)]
pub(super) struct CarriedScope(Option<Box<CallScope>>);

impl CarriedScope {
    pub(super) fn current() -> CarriedScope {
        CarriedScope(CallScope::carried().map(Box::new))
    }

    pub(super) fn enter(&self) -> impl Sized {
        self.0.as_deref().map(CallScope::enter)
    }
}
