//! The Sentry side of one annotated call: its sampled span, its own scope, and the
//! thread-local chain that tells code running inside it which call it is in.

use std::borrow::Cow;
use std::cell::Cell;
use std::collections::BTreeMap;
use std::ptr;
use std::sync::atomic::{AtomicPtr, Ordering::Relaxed};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};

use sentry::protocol::{Context, SpanStatus, User, Value};

use super::trace::{Incoming, SpanHandle, TraceSpan};
use super::SentryBackend;
use crate::context::Context as TelemetryContext;
use crate::site::{Attribute, Ending, FnInfo, Site, SiteKind};

thread_local! {
    /// The innermost call being polled (or run) on this thread, or null.
    static CURRENT: Cell<*const CallScope> = const { Cell::new(ptr::null()) };
    static RNG: Cell<u64> = const { Cell::new(0) };
}

/// A fast thread-local random number (xorshift64*), for sampling and ids. Not cryptographic.
#[inline]
pub(crate) fn random_u64() -> u64 {
    RNG.with(|cell| {
        let mut x = cell.get();
        if x == 0 {
            x = seed();
        }
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        cell.set(x);
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    })
}

#[inline]
pub(crate) fn random_u32() -> u32 {
    (random_u64() >> 32) as u32
}

#[cold]
fn seed() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    // RandomState is seeded by the OS once per process and varies per thread's instance.
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_usize(ptr::from_ref(&hasher) as usize);
    hasher.finish() | 1
}

/// Tags, contexts, user and extra data set inside one call.
#[derive(Debug, Default, Clone)]
pub(crate) struct ScopeData {
    pub(crate) tags: BTreeMap<String, String>,
    pub(crate) contexts: BTreeMap<String, Context>,
    pub(crate) extra: BTreeMap<String, Value>,
    pub(crate) user: Option<User>,
    /// The message of a panic in this call, left by the panic hook for the unwinding guard.
    pub(crate) panic: Option<String>,
    /// The HTTP request this scope serves (the HTTP layer's scope only).
    pub(crate) request: Option<super::request::RequestDescriber>,
    /// The trace the request propagates (the HTTP layer's scope only).
    #[cfg_attr(not(feature = "axum"), allow(dead_code))]
    pub(crate) propagation: Option<super::request::Propagation>,
}

pub(crate) type SharedScope = Arc<Mutex<ScopeData>>;

/// The installed telemetry's Sentry backend. Looked up among its backends once, then one load:
/// every monitored call asks. Nothing is cached before `install` (there is no global context
/// then), and the installed context never changes after.
#[inline]
fn installed() -> Option<&'static SentryBackend> {
    static INSTALLED: OnceLock<Option<&'static SentryBackend>> = OnceLock::new();
    if let Some(found) = INSTALLED.get() {
        return *found;
    }
    let context = crate::context::global()?;
    *INSTALLED.get_or_init(|| context.backend::<SentryBackend>())
}

/// Which backend a call reports to: the installed one is borrowed for the process's life.
#[derive(Debug, Clone)]
pub(crate) enum BackendRef {
    Global(&'static SentryBackend),
    Local(Arc<SentryBackend>),
}

impl std::ops::Deref for BackendRef {
    type Target = SentryBackend;
    fn deref(&self) -> &SentryBackend {
        match self {
            BackendRef::Global(backend) => backend,
            BackendRef::Local(backend) => backend,
        }
    }
}

impl BackendRef {
    /// The Sentry backend of the telemetry current here: `local` if entered, else the global.
    #[inline]
    pub(crate) fn resolve(local: Option<&TelemetryContext>) -> Option<BackendRef> {
        match local {
            Some(context) => context
                .backend_arc::<SentryBackend>()
                .map(BackendRef::Local),
            None => installed().map(BackendRef::Global),
        }
    }

    /// Whether [`BackendRef::current`] would find a backend, without taking a handle.
    #[cfg_attr(not(feature = "axum"), allow(dead_code))]
    pub(crate) fn is_current() -> bool {
        crate::context::with_local(|context| context.backend::<SentryBackend>().is_some())
            .unwrap_or_else(|| installed().is_some())
    }

    /// As [`BackendRef::resolve`], looking the local telemetry up itself.
    pub(crate) fn current() -> Option<BackendRef> {
        crate::context::with_local(|context| BackendRef::resolve(Some(context)))
            .unwrap_or_else(|| BackendRef::resolve(None))
    }
}

/// What a scope belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ScopeKind {
    /// `#[monitor_api_endpoint]`: owns a scope and, when sampled, a transaction or span.
    Monitored,
    /// `#[track_database_query]` inside a sampled call: a child span only.
    Query,
    /// `kansoku::start_transaction`: owns a scope and a transaction.
    Transaction,
    /// `kansoku::bind`: carries a call's scope and span into another task.
    Carried,
    /// A request served by the HTTP layer: owns a scope and a transaction.
    #[cfg_attr(not(feature = "axum"), allow(dead_code))]
    Request,
}

/// The Sentry state of one call. Kept small (it is moved with the call's guard on every
/// call): what only a sampled call needs is boxed, what only some calls need is made lazily.
#[derive(Debug)]
pub(crate) struct CallScope {
    pub(crate) backend: BackendRef,
    pub(crate) kind: ScopeKind,
    /// The endpoint name, for the event's `transaction`.
    pub(crate) name: &'static str,
    /// The annotated function, for the event's `function` tag.
    pub(crate) function: Option<&'static FnInfo>,
    /// Set at every poll: the scope that was current when the poll began. Only followed while
    /// this scope is itself current, when that outer scope is on the same thread's stack.
    outer: AtomicPtr<CallScope>,
    /// The span this call owns (sampled) and/or the one it parents under (carried).
    trace: Option<Box<Trace>>,
    pub(crate) scope: OnceLock<SharedScope>,
}

#[derive(Debug)]
pub(crate) struct Trace {
    span: Option<TraceSpan>,
    parent: Option<SpanHandle>,
}

/// Restores the previous current scope when a poll or run ends (also when it unwinds).
#[derive(Debug)]
pub(crate) struct Entered {
    previous: *const CallScope,
}

impl Drop for Entered {
    #[inline]
    fn drop(&mut self) {
        CURRENT.with(|current| current.set(self.previous));
    }
}

/// Whether a monitored call or transaction is current here (a new one then joins it).
pub(crate) fn in_transaction() -> bool {
    with_owner(|_| ()).is_some()
}

/// Calls `f` with the innermost current scope that owns a scope of its own: an endpoint, a
/// hand-made transaction or a carried scope, not a query's span.
pub(crate) fn with_owner<R>(mut f: impl FnMut(&CallScope) -> R) -> Option<R> {
    find_current(|scope| (scope.kind != ScopeKind::Query).then(|| f(scope)))
}

/// Calls `f` with each scope from the innermost current one outwards, until it returns `Some`.
pub(crate) fn find_current<R>(mut f: impl FnMut(&CallScope) -> Option<R>) -> Option<R> {
    let mut ptr = CURRENT.with(Cell::get);
    // SAFETY: `CURRENT` and each `outer` link point at scopes entered by a poll or run that is
    // still on this thread's stack (they are restored when it returns or unwinds), so each one
    // is alive and pinned in place while we walk.
    while let Some(scope) = unsafe { ptr.as_ref() } {
        if let Some(found) = f(scope) {
            return Some(found);
        }
        ptr = scope.outer.load(Relaxed);
    }
    None
}

impl Trace {
    /// A call's own span, boxed; out of line so that the big span value never sits in the
    /// frame of an unsampled call.
    #[cold]
    #[inline(never)]
    pub(crate) fn owning(span: TraceSpan) -> Box<Trace> {
        Box::new(Trace {
            span: Some(span),
            parent: None,
        })
    }

    #[cold]
    #[inline(never)]
    fn root(
        name: Cow<'static, str>,
        op: Cow<'static, str>,
        incoming: Option<&Incoming>,
    ) -> Box<Trace> {
        Trace::owning(TraceSpan::root(name, op, incoming))
    }

    #[cold]
    #[inline(never)]
    fn child(parent: &SpanHandle, op: &str, description: Cow<'static, str>) -> Box<Trace> {
        Trace::owning(parent.child(op, Some(description)))
    }

    /// The span a new endpoint or hand-made transaction opens, with the backend it reports to:
    /// inside an enclosing endpoint or transaction, a child following that one's sampling
    /// decision and backend; else, when sampled, the root of a new trace. `None` when no
    /// telemetry here has a Sentry backend.
    #[inline]
    pub(crate) fn open(
        name: Cow<'static, str>,
        op: Cow<'static, str>,
    ) -> Option<(Option<Box<Trace>>, BackendRef)> {
        match with_owner(|owner| (owner.span_handle(), owner.backend.clone())) {
            Some((Some(parent), outer)) => Some((Some(Trace::child(&parent, &op, name)), outer)),
            Some((None, outer)) => Some((None, outer)),
            None => {
                let backend = BackendRef::current()?;
                let trace = if backend.sample(&name, &op) {
                    Some(Trace::root(name, op, None))
                } else {
                    None
                };
                Some((trace, backend))
            }
        }
    }

    /// Whether [`Trace::open`] or [`Trace::open_continuing`] can find a backend (an owning scope
    /// on this thread, or a current one): a caller can skip preparing their arguments when not.
    #[cfg_attr(not(feature = "axum"), allow(dead_code))]
    pub(crate) fn reachable() -> bool {
        with_owner(|_| ()).is_some() || BackendRef::is_current()
    }

    /// As [`Trace::open`] for a transaction that continues a caller's trace: its root joins
    /// `incoming`'s trace under the caller's span, and the caller's sampling decision stands
    /// when it made one (else this side samples as usual).
    pub(crate) fn open_continuing(
        name: Cow<'static, str>,
        op: Cow<'static, str>,
        incoming: &Incoming,
    ) -> Option<(Option<Box<Trace>>, BackendRef)> {
        let backend = BackendRef::current()?;
        let sampled = incoming
            .sampled
            .unwrap_or_else(|| backend.sample(&name, &op));
        let trace = sampled.then(|| Trace::root(name, op, Some(incoming)));
        Some((trace, backend))
    }

    /// Only the span to parent under (a carried scope).
    pub(crate) fn carrying(parent: Option<SpanHandle>) -> Option<Box<Trace>> {
        parent.map(|parent| {
            Box::new(Trace {
                span: None,
                parent: Some(parent),
            })
        })
    }
}

impl CallScope {
    #[inline]
    pub(crate) fn new(
        backend: BackendRef,
        kind: ScopeKind,
        name: &'static str,
        function: Option<&'static FnInfo>,
        trace: Option<Box<Trace>>,
    ) -> CallScope {
        CallScope {
            backend,
            kind,
            name,
            function,
            outer: AtomicPtr::new(ptr::null_mut()),
            trace,
            scope: OnceLock::new(),
        }
    }

    /// The Sentry part of a call of `site`, if it has one: endpoints always (for error
    /// capture), queries only under a sampled span, request counters never.
    #[inline(always)]
    pub(crate) fn start(
        site: &'static Site,
        type_name: Option<fn() -> &'static str>,
    ) -> Option<CallScope> {
        match site.kind() {
            // never: `#[monitor_api_endpoint]` stacked on `#[track_api_request]` expands to one
            // `async fn` that binds only the endpoint's call (macros, `body::guarded_twice`)
            SiteKind::TrackApiRequest => None,
            SiteKind::MonitorApiEndpoint => Self::start_endpoint(site, type_name),
            // the common case, no call being polled here, is one thread-local read
            SiteKind::TrackDatabaseQuery if CURRENT.with(Cell::get).is_null() => None,
            SiteKind::TrackDatabaseQuery => Self::start_query(site),
        }
    }

    #[inline]
    fn start_endpoint(
        site: &'static Site,
        type_name: Option<fn() -> &'static str>,
    ) -> Option<CallScope> {
        let served = if site.takes_request_labels() {
            crate::serving::with_current(|served| served.name)
        } else {
            None
        };
        let name = served.unwrap_or_else(|| site.resolved_name(type_name));
        let op = match site.attribute {
            Attribute::MonitorApiEndpoint { op: Some(op), .. } => op,
            _ => "http.server",
        };
        let (trace, backend) = Trace::open(name.into(), op.into())?;
        Some(CallScope::new(
            backend,
            ScopeKind::Monitored,
            name,
            Some(&site.info),
            trace,
        ))
    }

    #[cold]
    #[inline(never)]
    fn start_query(site: &'static Site) -> Option<CallScope> {
        let (parent, backend) = find_current(|scope| {
            scope
                .span_handle()
                .map(|span| (span, scope.backend.clone()))
        })?;
        let Attribute::TrackDatabaseQuery { operation, table } = site.attribute else {
            return None;
        };
        let mut span = parent.child(
            "db.query",
            Some(format!("{} {table}", operation.to_ascii_uppercase()).into()),
        );
        span.set_data("db.operation", operation.into());
        span.set_data("db.sql.table", table.into());
        Some(CallScope::new(
            backend,
            ScopeKind::Query,
            site.name(),
            None,
            Some(Trace::owning(span)),
        ))
    }

    /// The span to parent new spans under: this call's, or the one it carries.
    pub(crate) fn span_handle(&self) -> Option<SpanHandle> {
        let trace = self.trace.as_deref()?;
        trace
            .span
            .as_ref()
            .map(TraceSpan::handle)
            .or_else(|| trace.parent.clone())
    }

    /// Makes this scope current on this thread until the returned guard drops.
    #[inline]
    pub(crate) fn enter(&self) -> Entered {
        let previous = CURRENT.with(|current| current.replace(ptr::from_ref(self)));
        self.outer.store(previous.cast_mut(), Relaxed);
        Entered { previous }
    }

    /// This call's own scope data, made on first use.
    pub(crate) fn shared_scope(&self) -> &SharedScope {
        self.scope.get_or_init(SharedScope::default)
    }

    /// Puts an argument's `Debug` form into this call's context `arguments`.
    pub(crate) fn record_argument(&self, name: &'static str, value: &dyn std::fmt::Debug) {
        let mut data = self
            .shared_scope()
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let context = data
            .contexts
            .entry("arguments".to_owned())
            .or_insert_with(|| Context::Other(BTreeMap::new().into_iter().collect()));
        if let Context::Other(map) = context {
            map.insert(name.to_owned(), Value::String(format!("{value:?}")));
        }
    }

    /// The call ended so: an endpoint captures its error or panic, then the span ends.
    #[inline(always)]
    pub(crate) fn end_call(self, ending: &Ending<'_>) {
        let status = match ending {
            Ending::Ok => SpanStatus::Ok,
            Ending::Cancelled => SpanStatus::Cancelled,
            Ending::Error(_) | Ending::Panic => {
                if self.kind == ScopeKind::Monitored {
                    self.capture(ending);
                }
                SpanStatus::InternalError
            }
        };
        self.end(status);
    }

    /// A monitored call's error or panic, captured with the call's scope.
    #[cold]
    #[inline(never)]
    fn capture(&self, ending: &Ending<'_>) {
        let _entered = self.enter();
        match ending {
            Ending::Error(error) => super::capture::capture_outcome_error(self, error),
            Ending::Panic => super::capture::capture_panic(self),
            Ending::Ok | Ending::Cancelled => {}
        }
    }

    /// Adds a key-value to this call's own span, if it is sampled.
    #[cfg_attr(not(feature = "axum"), allow(dead_code))]
    pub(crate) fn set_span_data(&mut self, key: &str, value: Value) {
        if let Some(span) = self.trace.as_mut().and_then(|trace| trace.span.as_mut()) {
            span.set_data(key, value);
        }
    }

    /// Ends a hand-made transaction.
    pub(crate) fn finish_with(self, status: SpanStatus) {
        self.end(status);
    }

    #[inline]
    fn end(self, status: SpanStatus) {
        if let Some(span) = self.trace.and_then(|trace| trace.span) {
            let scope = self
                .scope
                .get()
                .map(|scope| scope.lock().unwrap_or_else(PoisonError::into_inner).clone());
            span.finish(status, &self.backend, scope.as_ref());
        }
    }
}
