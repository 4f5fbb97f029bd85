//! The scope and capture API of the guide: tags, contexts, user, errors and messages with
//! extra data, and hand-made transactions. Inside an annotated endpoint everything applies to
//! that call only; outside, to the current telemetry's scope. Without the `sentry` feature (or
//! without a DSN) these do nothing and return `None`.

use std::collections::BTreeMap;
use std::fmt;
use std::future::Future;
use std::pin::Pin;

use pin_project_lite::pin_project;
use std::task::{Context, Poll};

pub use serde_json::Value;

use crate::Status;

// The Sentry side, or its twin that does nothing: the only place this module names a feature.
#[cfg_attr(feature = "sentry", path = "sentry.rs")]
#[cfg_attr(not(feature = "sentry"), path = "noop.rs")]
mod imp;

/// A user, for [`set_user`].
#[derive(Debug, Clone, Default, PartialEq)]
pub struct User {
    /// Your id of the user.
    pub id: Option<String>,
    /// Their e-mail address.
    pub email: Option<String>,
    /// Their user name.
    pub username: Option<String>,
    /// Their IP address.
    pub ip_address: Option<String>,
    /// Anything else.
    pub other: BTreeMap<String, Value>,
}

/// How severe a [`capture_message`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    /// Debugging information.
    Debug,
    /// Worth knowing.
    Info,
    /// Something may be wrong.
    Warning,
    /// Something is wrong.
    Error,
    /// Something is badly wrong.
    Fatal,
}

/// The id of a captured event, as Sentry shows it (32 hex digits).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct EventId(pub [u8; 16]);

impl fmt::Display for EventId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.iter().try_for_each(|byte| write!(f, "{byte:02x}"))
    }
}

/// Sets a tag on the current call's events and transaction (or, outside any annotated call,
/// on the current telemetry's scope).
///
/// ```
/// kansoku::set_tag("shop.filter", "active");
/// ```
pub fn set_tag(key: impl Into<String>, value: impl Into<String>) {
    imp::set_tag(key, value);
}

/// Sets a named context (a JSON object) on the current call's events.
///
/// ```
/// kansoku::set_context("search", serde_json::json!({"type": "shop_list", "count": 12}));
/// ```
pub fn set_context(key: impl Into<String>, value: impl Into<Value>) {
    imp::set_context(key, value);
}

/// Sets an extra key-value on the current call's events.
pub fn set_extra(key: impl Into<String>, value: impl Into<Value>) {
    imp::set_extra(key, value);
}

/// Sets (or, with `None`, clears) the user of the current call's events.
pub fn set_user(user: Option<User>) {
    imp::set_user(user);
}

/// Captures an error (with its whole `source()` chain) and extra key-values, in the current
/// call's scope. Returns the event's id when a Sentry backend took it.
///
/// ```
/// # let error = std::io::Error::other("seat taken");
/// kansoku::capture_error(&error, &[("reservation_id", 42.into()), ("error_stage", "payment".into())]);
/// ```
pub fn capture_error(
    error: &(dyn std::error::Error + 'static),
    extra: &[(&str, Value)],
) -> Option<EventId> {
    imp::capture_error(error, extra)
}

/// Captures a message at `level`, with extra key-values, in the current call's scope.
///
/// ```
/// kansoku::capture_message("reservation queue is long", kansoku::Level::Warning, &[("queue_length", 120.into())]);
/// ```
pub fn capture_message(message: &str, level: Level, extra: &[(&str, Value)]) -> Option<EventId> {
    imp::capture_message(message, level, extra)
}

/// Where the call running here is in its trace: what its Sentry events carry and what
/// [`inject_trace_headers`](http/fn.inject_trace_headers.html) (feature `axum`) sends downstream, sampled or
/// not. Made by [`trace_context`].
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TraceContext {
    /// The trace's id.
    pub trace_id: [u8; 16],
    /// The current span's id: the innermost sampled span, or the unsampled call's own.
    pub span_id: [u8; 8],
    /// Whether the trace is recorded here.
    pub sampled: bool,
}

impl TraceContext {
    /// The trace id as 32 lower-case hex digits, as Sentry and W3C `traceparent` write it.
    pub fn trace_id_hex(&self) -> String {
        hex(&self.trace_id)
    }

    /// The span id as 16 lower-case hex digits.
    pub fn span_id_hex(&self) -> String {
        hex(&self.span_id)
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes
        .iter()
        .fold(String::with_capacity(2 * bytes.len()), |mut out, byte| {
            use std::fmt::Write as _;
            let _ = write!(out, "{byte:02x}");
            out
        })
}

/// `TRACE_ID-SPAN_ID-SAMPLED`, the `sentry-trace` header's form.
impl fmt::Display for TraceContext {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}-{}-{}",
            self.trace_id_hex(),
            self.span_id_hex(),
            u8::from(self.sampled)
        )
    }
}

/// The trace of the call running here (a request served by the HTTP layer, an annotated call,
/// a hand-made transaction, a task bound with [`bind`]), to join a log line to its Sentry
/// events and to the next service's request. `None` outside any, and without the `sentry`
/// feature or a Sentry client.
///
/// ```
/// #[kansoku::monitor_api_endpoint]
/// fn handler() {
///     if let Some(trace) = kansoku::trace_context() {
///         println!("trace_id={} span_id={}", trace.trace_id_hex(), trace.span_id_hex());
///     }
/// }
/// # handler();
/// ```
pub fn trace_context() -> Option<TraceContext> {
    imp::trace_context()
}

/// The current trace's id in hex ([`trace_context`]).
pub fn trace_id() -> Option<String> {
    trace_context().map(|trace| trace.trace_id_hex())
}

/// The current span's id in hex ([`trace_context`]).
pub fn span_id() -> Option<String> {
    trace_context().map(|trace| trace.span_id_hex())
}

/// Starts a transaction by hand (the guide's `complex_operation`), sampled like endpoints.
/// Inside an annotated call or another transaction it becomes a child span instead. It
/// finishes when dropped (or at [`Transaction::finish`]).
///
/// ```
/// let transaction = kansoku::start_transaction("task", "complex_operation");
/// {
///     let _step = transaction.start_child("step1", "validate input");
/// }
/// let step2 = transaction.start_child("step2", "process data");
/// step2.finish();
/// ```
#[must_use = "a transaction finishes when dropped"]
pub fn start_transaction(op: &str, name: &str) -> Transaction {
    Transaction {
        scope: imp::TransactionScope::start(op, name),
        status: Status::Ok,
    }
}

/// Starts a transaction that continues the trace a caller started: the `sentry-trace` header
/// among `headers` (any case) puts it in the caller's trace, under the caller's span, and the
/// caller's sampling decision stands when the header carries one. Without a valid header it is
/// a [`start_transaction`]. For a request handled outside the HTTP layers.
///
/// ```
/// let headers = [("sentry-trace", "771a43a4192642f0b136d5159a501700-a1b2c3d4e5f60718-1")];
/// let transaction = kansoku::continue_transaction("queue.task", "resize image", headers);
/// transaction.finish();
/// ```
#[must_use = "a transaction finishes when dropped"]
pub fn continue_transaction<'a>(
    op: &str,
    name: &str,
    headers: impl IntoIterator<Item = (&'a str, &'a str)>,
) -> Transaction {
    match imp::TransactionScope::continued(op, name, headers) {
        Some(scope) => Transaction {
            scope,
            status: Status::Ok,
        },
        None => start_transaction(op, name),
    }
}

/// A transaction started by [`start_transaction`].
#[derive(Debug)]
pub struct Transaction {
    scope: imp::TransactionScope,
    status: Status,
}

/// A child span, from [`Transaction::start_child`] or [`Span::start_child`]; finishes on drop.
#[derive(Debug)]
#[must_use = "a span finishes when dropped"]
pub struct Span {
    span: imp::SpanScope,
    status: Status,
}

impl Transaction {
    /// Starts a child span of this transaction.
    pub fn start_child(&self, op: &str, description: &str) -> Span {
        Span {
            span: self.scope.start_child(op, description),
            status: Status::Ok,
        }
    }

    /// How the transaction ended; `Ok` unless set.
    pub fn set_status(&mut self, status: Status) {
        self.status = status;
    }

    /// Runs `f` with this transaction current: annotated calls in it become its children, and
    /// tags set in it go on it.
    pub fn in_scope<R>(&self, f: impl FnOnce() -> R) -> R {
        let _entered = self.enter();
        f()
    }

    /// Makes this transaction current until the guard drops.
    fn enter(&self) -> impl Sized {
        self.scope.enter()
    }

    /// `future`, with this transaction current whenever it is polled.
    pub fn bind<F: Future>(&self, future: F) -> TransactionBound<'_, F> {
        TransactionBound {
            transaction: self,
            future,
        }
    }

    /// Finishes the transaction now (dropping it does the same).
    pub fn finish(self) {}
}

impl Drop for Transaction {
    fn drop(&mut self) {
        self.scope.finish(self.status);
    }
}

pin_project! {
    /// A future bound to a [`Transaction`]; made by [`Transaction::bind`].
    #[derive(Debug)]
    #[must_use = "futures do nothing unless polled"]
    pub struct TransactionBound<'a, F> {
        transaction: &'a Transaction,
        #[pin]
        future: F,
    }
}

impl<F: Future> Future for TransactionBound<'_, F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let this = self.project();
        let _entered = this.transaction.enter();
        this.future.poll(cx)
    }
}

impl Span {
    /// Starts a child span of this span.
    pub fn start_child(&self, op: &str, description: &str) -> Span {
        Span {
            span: self.span.start_child(op, description),
            status: Status::Ok,
        }
    }

    /// Adds a key-value to the span's data.
    pub fn set_data(&mut self, key: &str, value: impl Into<Value>) {
        self.span.set_data(key, value);
    }

    /// How the span ended; `Ok` unless set.
    pub fn set_status(&mut self, status: Status) {
        self.status = status;
    }

    /// Finishes the span now (dropping it does the same).
    pub fn finish(self) {}
}

impl Drop for Span {
    fn drop(&mut self) {
        self.span.finish(self.status);
    }
}

/// Carries the current call's scope and span (and the current telemetry, if one is entered)
/// into `future`, for a task you spawn: its annotated calls become children of the current
/// span, and its tags and errors belong to the current call.
///
/// ```
/// # async fn refresh_cache() {}
/// # async fn handler() {
/// tokio::spawn(kansoku::bind(refresh_cache()));
/// # }
/// ```
pub fn bind<F: Future>(future: F) -> Carried<F> {
    Carried {
        carrying: Carrying {
            scope: imp::CarriedScope::current(),
            local: crate::context::local_arc(),
            served: crate::serving::current(),
        },
        future,
    }
}

/// What [`bind`] carries into a future: the call's scope and the telemetry that was current.
#[derive(Debug)]
struct Carrying {
    scope: imp::CarriedScope,
    /// The telemetry entered where `bind` was called (a test-local one), if any.
    local: Option<std::sync::Arc<crate::context::Context>>,
    /// The HTTP request being served where `bind` was called, if any.
    served: Option<std::sync::Arc<crate::serving::Served>>,
}

impl Carrying {
    /// Makes what is carried current until the guard drops.
    fn enter(&self) -> impl Sized {
        let local = self.local.clone().map(crate::context::LocalGuard::enter);
        let served = self.served.as_ref().map(crate::serving::enter);
        // entered after the telemetry, so that it is left first
        let scope = self.scope.enter();
        (local, served, scope)
    }
}

pin_project! {
    /// A future carrying a call's scope; made by [`bind`].
    #[derive(Debug)]
    #[must_use = "futures do nothing unless polled"]
    pub struct Carried<F> {
        carrying: Carrying,
        #[pin]
        future: F,
    }
}

impl<F: Future> Future for Carried<F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let this = self.project();
        let _entered = this.carrying.enter();
        this.future.poll(cx)
    }
}
