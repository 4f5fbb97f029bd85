//! The API's Sentry side without the `sentry` feature: `sentry.rs`'s items, doing nothing.

// Each item keeps the signature of its twin in `sentry.rs`.
#![allow(clippy::unused_self, clippy::needless_pass_by_value)]

use super::{EventId, Level, TraceContext, User, Value};
use crate::Status;

pub(super) fn set_tag(_key: impl Into<String>, _value: impl Into<String>) {}

pub(super) fn set_context(_key: impl Into<String>, _value: impl Into<Value>) {}

pub(super) fn set_extra(_key: impl Into<String>, _value: impl Into<Value>) {}

pub(super) fn set_user(_user: Option<User>) {}

pub(super) fn capture_error(
    _error: &(dyn std::error::Error + 'static),
    _extra: &[(&str, Value)],
) -> Option<EventId> {
    None
}

pub(super) fn capture_message(
    _message: &str,
    _level: Level,
    _extra: &[(&str, Value)],
) -> Option<EventId> {
    None
}

pub(super) fn trace_context() -> Option<TraceContext> {
    None
}

#[derive(Debug)]
pub(super) struct TransactionScope;

impl TransactionScope {
    pub(super) fn start(_op: &str, _name: &str) -> TransactionScope {
        TransactionScope
    }

    pub(super) fn continued<'a>(
        _op: &str,
        _name: &str,
        _headers: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) -> Option<TransactionScope> {
        None
    }

    pub(super) fn start_child(&self, _op: &str, _description: &str) -> SpanScope {
        SpanScope
    }

    pub(super) fn enter(&self) -> impl Sized {
        std::marker::PhantomData::<()>
    }

    pub(super) fn finish(&mut self, _status: Status) {}
}

#[derive(Debug)]
pub(super) struct SpanScope;

impl SpanScope {
    pub(super) fn start_child(&self, _op: &str, _description: &str) -> SpanScope {
        SpanScope
    }

    pub(super) fn set_data(&self, _key: &str, _value: impl Into<Value>) {}

    pub(super) fn finish(&mut self, _status: Status) {}
}

#[derive(Debug)]
pub(super) struct CarriedScope;

impl CarriedScope {
    pub(super) fn current() -> CarriedScope {
        CarriedScope
    }

    pub(super) fn enter(&self) -> impl Sized {
        std::marker::PhantomData::<()>
    }
}
