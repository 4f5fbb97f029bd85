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

#[cfg(feature = "sentry")]
use crate::sentry_backend::call::{current_hub, BackendRef, CallScope};

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

/// Changes the scope of the call running here (its hub's, which every crate's `sentry::`
/// calls reach too) or, outside any call, the current telemetry's.
#[cfg(feature = "sentry")]
fn with_scope(change: impl FnOnce(&mut sentry::Scope)) {
    if let Some(hub) = current_hub() {
        hub.configure_scope(change);
    } else if let Some(backend) = BackendRef::current() {
        backend.with_hub(|hub| hub.configure_scope(change));
    }
}

/// Sets a tag on the current call's events and transaction (or, outside any annotated call,
/// on the current telemetry's scope).
///
/// ```
/// kansoku::set_tag("shop.filter", "active");
/// ```
#[cfg_attr(
    not(feature = "sentry"),
    allow(unused_variables, clippy::needless_pass_by_value)
)]
pub fn set_tag(key: impl Into<String>, value: impl Into<String>) {
    #[cfg(feature = "sentry")]
    {
        let (key, value) = (key.into(), value.into());
        with_scope(|scope| scope.set_tag(&key, value));
    }
}

/// Sets a named context (a JSON object) on the current call's events.
///
/// ```
/// kansoku::set_context("search", serde_json::json!({"type": "shop_list", "count": 12}));
/// ```
#[cfg_attr(
    not(feature = "sentry"),
    allow(unused_variables, clippy::needless_pass_by_value)
)]
pub fn set_context(key: impl Into<String>, value: impl Into<Value>) {
    #[cfg(feature = "sentry")]
    {
        let key = key.into();
        let context = match value.into() {
            Value::Object(map) => sentry::protocol::Context::Other(map.into_iter().collect()),
            other => sentry::protocol::Context::Other(
                std::iter::once(("value".to_owned(), other)).collect(),
            ),
        };
        with_scope(|scope| scope.set_context(&key, context));
    }
}

/// Sets an extra key-value on the current call's events.
#[cfg_attr(
    not(feature = "sentry"),
    allow(unused_variables, clippy::needless_pass_by_value)
)]
pub fn set_extra(key: impl Into<String>, value: impl Into<Value>) {
    #[cfg(feature = "sentry")]
    {
        let (key, value) = (key.into(), value.into());
        with_scope(|scope| scope.set_extra(&key, value));
    }
}

/// Sets (or, with `None`, clears) the user of the current call's events.
#[cfg_attr(
    not(feature = "sentry"),
    allow(unused_variables, clippy::needless_pass_by_value)
)]
pub fn set_user(user: Option<User>) {
    #[cfg(feature = "sentry")]
    {
        let user = user.map(|user| sentry::User {
            id: user.id,
            email: user.email,
            username: user.username,
            ip_address: user.ip_address.and_then(|ip| ip.parse().ok()),
            other: user.other.into_iter().collect(),
        });
        with_scope(|scope| scope.set_user(user));
    }
}

/// Captures an error (with its whole `source()` chain) and extra key-values, in the current
/// call's scope. Returns the event's id when a Sentry backend took it.
///
/// ```
/// # let error = std::io::Error::other("seat taken");
/// kansoku::capture_error(&error, &[("reservation_id", 42.into()), ("error_stage", "payment".into())]);
/// ```
#[cfg_attr(not(feature = "sentry"), allow(unused_variables))]
pub fn capture_error(
    error: &(dyn std::error::Error + 'static),
    extra: &[(&str, Value)],
) -> Option<EventId> {
    #[cfg(feature = "sentry")]
    {
        crate::sentry_backend::capture_error_event(error, extra).map(|id| EventId(*id.as_bytes()))
    }
    #[cfg(not(feature = "sentry"))]
    None
}

/// Captures a message at `level`, with extra key-values, in the current call's scope.
///
/// ```
/// kansoku::capture_message("reservation queue is long", kansoku::Level::Warning, &[("queue_length", 120.into())]);
/// ```
#[cfg_attr(not(feature = "sentry"), allow(unused_variables))]
pub fn capture_message(message: &str, level: Level, extra: &[(&str, Value)]) -> Option<EventId> {
    #[cfg(feature = "sentry")]
    {
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
    #[cfg(not(feature = "sentry"))]
    None
}

/// Where the call running here is in its trace: what its Sentry events carry and what
/// [`inject_trace_headers`](crate::http::inject_trace_headers) sends downstream, sampled or
/// not. Made by [`trace_context`].
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
    #[cfg(feature = "sentry")]
    {
        crate::sentry_backend::call::current_trace().map(|ids| TraceContext {
            trace_id: ids.trace_id,
            span_id: ids.span_id,
            sampled: ids.sampled,
        })
    }
    #[cfg(not(feature = "sentry"))]
    None
}

/// The current trace's id in hex ([`trace_context`]).
pub fn trace_id() -> Option<String> {
    trace_context().map(|trace| trace.trace_id_hex())
}

/// The current span's id in hex ([`trace_context`]).
pub fn span_id() -> Option<String> {
    trace_context().map(|trace| trace.span_id_hex())
}

#[cfg(feature = "sentry")]
fn span_status(status: Status) -> sentry::protocol::SpanStatus {
    use sentry::protocol::SpanStatus;
    match status {
        Status::Ok => SpanStatus::Ok,
        Status::Error | Status::Panic => SpanStatus::InternalError,
        Status::Cancelled => SpanStatus::Cancelled,
    }
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
    #[cfg(feature = "sentry")]
    {
        Transaction {
            scope: CallScope::start_transaction(name, op).map(Box::new),
            status: Status::Ok,
        }
    }
    #[cfg(not(feature = "sentry"))]
    {
        let _ = (op, name);
        Transaction { status: Status::Ok }
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
    #[cfg(feature = "sentry")]
    {
        let incoming = crate::sentry_backend::Incoming::from_headers(headers);
        // inside a running transaction the call joins that one, as `start_transaction` does
        let Some(incoming) = incoming.filter(|_| !crate::sentry_backend::call::in_transaction())
        else {
            return start_transaction(op, name);
        };
        let scope = BackendRef::current().map(|backend| {
            Box::new(CallScope::open_root(
                backend,
                crate::sentry_backend::call::ScopeKind::Transaction,
                "",
                crate::sentry_backend::call::RootSpec {
                    name,
                    op,
                    incoming: Some(&incoming),
                    request: None,
                },
            ))
        });
        Transaction {
            scope,
            status: Status::Ok,
        }
    }
    #[cfg(not(feature = "sentry"))]
    {
        let _ = headers.into_iter().count();
        start_transaction(op, name)
    }
}

/// A transaction started by [`start_transaction`].
#[derive(Debug)]
pub struct Transaction {
    #[cfg(feature = "sentry")]
    scope: Option<Box<CallScope>>,
    status: Status,
}

/// A child span, from [`Transaction::start_child`] or [`Span::start_child`]; finishes on drop.
#[derive(Debug)]
#[must_use = "a span finishes when dropped"]
pub struct Span {
    #[cfg(feature = "sentry")]
    span: Option<sentry::Span>,
    status: Status,
}

impl Transaction {
    /// Starts a child span of this transaction.
    #[cfg_attr(not(feature = "sentry"), allow(unused_variables))]
    pub fn start_child(&self, op: &str, description: &str) -> Span {
        #[cfg(feature = "sentry")]
        {
            let span = self
                .scope
                .as_ref()
                .and_then(|scope| scope.sampled_span())
                .map(|parent| parent.start_child(op, description));
            Span {
                span,
                status: Status::Ok,
            }
        }
        #[cfg(not(feature = "sentry"))]
        Span { status: Status::Ok }
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
    #[cfg_attr(not(feature = "sentry"), allow(clippy::unused_self))]
    fn enter(&self) -> impl Sized {
        #[cfg(feature = "sentry")]
        {
            self.scope.as_deref().map(CallScope::enter)
        }
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
        #[cfg(feature = "sentry")]
        if let Some(scope) = self.scope.take() {
            scope.finish_with(span_status(self.status));
        }
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
    #[cfg_attr(not(feature = "sentry"), allow(unused_variables))]
    pub fn start_child(&self, op: &str, description: &str) -> Span {
        #[cfg(feature = "sentry")]
        {
            let span = self
                .span
                .as_ref()
                .map(|span| span.start_child(op, description));
            Span {
                span,
                status: Status::Ok,
            }
        }
        #[cfg(not(feature = "sentry"))]
        Span { status: Status::Ok }
    }

    /// Adds a key-value to the span's data.
    #[cfg_attr(
        not(feature = "sentry"),
        allow(unused_variables, clippy::needless_pass_by_value)
    )]
    pub fn set_data(&mut self, key: &str, value: impl Into<Value>) {
        #[cfg(feature = "sentry")]
        if let Some(span) = &self.span {
            span.set_data(key, value.into());
        }
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
        #[cfg(feature = "sentry")]
        if let Some(span) = self.span.take() {
            span.set_status(span_status(self.status));
            span.finish();
        }
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
    #[cfg(feature = "sentry")]
    let scope = CallScope::carried().map(Box::new);
    Carried {
        carrying: Carrying {
            #[cfg(feature = "sentry")]
            scope,
            #[cfg(any(feature = "otel", feature = "redis", feature = "sentry"))]
            local: crate::context::local_arc(),
            #[cfg(any(feature = "otel", feature = "redis", feature = "sentry"))]
            served: crate::serving::current(),
        },
        future,
    }
}

/// What [`bind`] carries into a future: the call's scope and the telemetry that was current.
#[derive(Debug)]
struct Carrying {
    #[cfg(feature = "sentry")]
    scope: Option<Box<CallScope>>,
    /// The telemetry entered where `bind` was called (a test-local one), if any.
    #[cfg(any(feature = "otel", feature = "redis", feature = "sentry"))]
    local: Option<std::sync::Arc<crate::context::Context>>,
    /// The HTTP request being served where `bind` was called, if any.
    #[cfg(any(feature = "otel", feature = "redis", feature = "sentry"))]
    served: Option<std::sync::Arc<crate::serving::Served>>,
}

impl Carrying {
    /// Makes what is carried current until the guard drops.
    #[cfg(any(feature = "otel", feature = "redis", feature = "sentry"))]
    fn enter(&self) -> impl Sized {
        let local = self.local.clone().map(crate::context::LocalGuard::enter);
        let served = self.served.as_ref().map(crate::serving::enter);
        // entered after the telemetry, so that it is left first
        #[cfg(feature = "sentry")]
        let scope = self.scope.as_deref().map(CallScope::enter);
        (
            local,
            served,
            #[cfg(feature = "sentry")]
            scope,
        )
    }

    /// Nothing to carry with no backend.
    #[cfg(not(any(feature = "otel", feature = "redis", feature = "sentry")))]
    #[allow(clippy::unused_self)]
    fn enter(&self) -> impl Sized {
        std::marker::PhantomData::<()>
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
