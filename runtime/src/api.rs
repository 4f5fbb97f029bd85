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
use crate::sentry_backend::{
    call::{with_owner, BackendRef, CallScope, ScopeKind, SharedScope, Trace},
    TraceSpan,
};

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

#[cfg(feature = "sentry")]
fn owner_scope() -> Option<SharedScope> {
    with_owner(|owner| owner.shared_scope().clone())
}

#[cfg(feature = "sentry")]
fn with_scope(
    call: impl FnOnce(&mut crate::sentry_backend::call::ScopeData),
    global: impl FnOnce(&mut sentry::Scope),
) {
    if let Some(scope) = owner_scope() {
        call(
            &mut scope
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner),
        );
    } else if let Some(backend) = BackendRef::current() {
        backend.with_hub(|hub| hub.configure_scope(global));
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
        with_scope(
            |data| {
                data.tags.insert(key.clone(), value.clone());
            },
            |scope| scope.set_tag(&key, value.clone()),
        );
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
        with_scope(
            |data| {
                data.contexts.insert(key.clone(), context.clone());
            },
            |scope| scope.set_context(&key, context.clone()),
        );
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
        with_scope(
            |data| {
                data.extra.insert(key.clone(), value.clone());
            },
            |scope| scope.set_extra(&key, value.clone()),
        );
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
        with_scope(
            |data| data.user.clone_from(&user),
            |scope| scope.set_user(user.clone()),
        );
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
        Transaction::opened(Trace::open(name.to_owned().into(), op.to_owned().into()))
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
        let incoming = headers
            .into_iter()
            .find(|(key, _)| key.eq_ignore_ascii_case("sentry-trace"))
            .and_then(|(_, value)| crate::sentry_backend::Incoming::parse(value));
        // inside a running transaction the call joins that one, as `start_transaction` does
        let Some(incoming) = incoming.filter(|_| !crate::sentry_backend::call::in_transaction())
        else {
            return start_transaction(op, name);
        };
        Transaction::opened(Trace::open_continuing(
            name.to_owned().into(),
            op.to_owned().into(),
            &incoming,
        ))
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
    span: Option<(TraceSpan, BackendRef)>,
    status: Status,
}

impl Transaction {
    /// The transaction of the span `Trace::open…` opened, if a Sentry backend is current.
    #[cfg(feature = "sentry")]
    fn opened(opened: Option<(Option<Box<Trace>>, BackendRef)>) -> Transaction {
        // the transaction's name lives in its span; `name` on a scope only names endpoints
        let scope = opened.map(|(trace, backend)| {
            Box::new(CallScope::new(
                backend,
                ScopeKind::Transaction,
                "",
                None,
                trace,
            ))
        });
        Transaction {
            scope,
            status: Status::Ok,
        }
    }

    /// Starts a child span of this transaction.
    #[cfg_attr(not(feature = "sentry"), allow(unused_variables))]
    pub fn start_child(&self, op: &str, description: &str) -> Span {
        #[cfg(feature = "sentry")]
        {
            let span = self.scope.as_ref().and_then(|scope| {
                let parent = scope.span_handle()?;
                Some((
                    parent.child(op, Some(description.to_owned().into())),
                    scope.backend.clone(),
                ))
            });
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
            let span = self.span.as_ref().map(|(span, backend)| {
                (
                    span.handle().child(op, Some(description.to_owned().into())),
                    backend.clone(),
                )
            });
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
        if let Some((span, _)) = &mut self.span {
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
        if let Some((span, backend)) = self.span.take() {
            span.finish(span_status(self.status), &backend, None);
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
    let scope = with_owner(|owner| {
        let carried = CallScope::new(
            owner.backend.clone(),
            ScopeKind::Carried,
            owner.name,
            owner.function,
            Trace::carrying(owner.span_handle()),
        );
        let _ = carried.scope.set(owner.shared_scope().clone());
        Box::new(carried)
    });
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
