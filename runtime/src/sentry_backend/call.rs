//! The Sentry side of one annotated call: its hub (a root call's), its span (a sampled call's),
//! and the thread-local chain that tells code running inside it which call it is in.
//!
//! - A **root** — a request served by the HTTP layer, an endpoint called outside any, a
//!   hand-made transaction — owns a `sentry::Hub` ([`super::hub`]) and makes it current at every
//!   poll, so that every crate's `sentry::` calls reach it. Its span, sampled or not, is set on
//!   that hub's scope once, when the hub is made.
//! - A **nested** call (an endpoint or query inside a root) makes no hub. Unsampled, it is only a
//!   link in the chain; sampled, it opens a child span and, while it is polled, makes that span
//!   the scope's, so that spans opened inside it (sentry-tracing's included) are its children.
//! - A **carried** scope (`kansoku::bind`) takes a root's hub and the current span into a task.

use std::cell::Cell;
use std::collections::BTreeMap;
use std::ptr;
use std::sync::atomic::{AtomicPtr, Ordering::Relaxed};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::time::SystemTime;

use sentry::protocol::{SpanId, SpanStatus, Value};
use sentry::{Hub, HubSwitchGuard, TransactionOrSpan};

use super::export::{Exporter, OutSpan, Role};
use super::hub::{self, TraceIds};
use super::trace::RequestInfo;
use super::trace::{Finished, Incoming};
use super::{Decision, SentryBackend};
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
    #[cfg(feature = "axum")]
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
    /// `#[monitor_api_endpoint]`: captures its error; a transaction or a child span.
    Monitored,
    /// `#[track_database_query]` inside a sampled call: a child span only.
    Query,
    /// `kansoku::start_transaction`: a transaction or a child span.
    Transaction,
    /// `kansoku::bind`: carries a root's hub and the current span into another task.
    Carried,
    /// A request served by the HTTP layer: a root with the request's data.
    #[cfg_attr(not(feature = "axum"), allow(dead_code))]
    Request,
}

/// What only some calls have: a hub (roots), a span (sampled calls), the request (requests).
#[derive(Debug)]
struct Own {
    /// Made current at each poll: a root's own, or the one a carried scope carries.
    hub: Option<Arc<Hub>>,
    /// The span spans opened inside parent under: this call's own, or the one it carries.
    span: Option<TransactionOrSpan>,
    /// Whether this call finishes `span` when it ends.
    finishes: bool,
    /// Where this call is in its trace: always for roots, for nested calls when sampled.
    ids: TraceIds,
    request: Option<Arc<RequestInfo>>,
    /// The hub on whose scope `span` is the span (while this call is polled).
    on_hub: AtomicPtr<Hub>,
    /// An unsampled root's hub comes from a pool and goes back to it.
    pooled: Option<hub::Pooled>,
    /// A sampled call's span as it goes out over OTLP, when it does.
    out: Option<Box<OutSpan>>,
    /// Whether `ids.parent` is another process's span (a continued trace).
    remote: bool,
}

/// The Sentry state of one call. Kept small (it is boxed with the call's guard on every
/// endpoint call): what only roots and sampled calls need is boxed again.
#[derive(Debug)]
pub(crate) struct CallScope {
    pub(crate) backend: BackendRef,
    pub(crate) kind: ScopeKind,
    /// The endpoint or request name, for the event's `transaction`.
    pub(crate) name: &'static str,
    /// The annotated function, for the event's `function` tag.
    pub(crate) function: Option<&'static FnInfo>,
    /// Set at every poll: the scope that was current when the poll began. Only followed while
    /// this scope is itself current, when that outer scope is on the same thread's stack.
    outer: AtomicPtr<CallScope>,
    own: Option<Box<Own>>,
    /// `#[monitor_api_endpoint(fields(…))]`: the arguments' `Debug` forms, for this call's events.
    arguments: OnceLock<Box<Mutex<BTreeMap<String, Value>>>>,
}

/// Restores what a poll or run changed when it ends (also when it unwinds).
pub(crate) struct Entered {
    previous: *const CallScope,
    /// The span the scope had before a sampled nested call made its own the scope's.
    restore: Option<(Arc<Hub>, Option<TransactionOrSpan>)>,
    switched: Option<HubSwitchGuard>,
}

impl std::fmt::Debug for Entered {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Entered")
            .field("switched_hub", &self.switched.is_some())
            .finish_non_exhaustive()
    }
}

impl Drop for Entered {
    #[inline]
    fn drop(&mut self) {
        if let Some((hub, previous)) = self.restore.take() {
            hub.configure_scope(|scope| scope.set_span(previous));
        }
        CURRENT.with(|current| current.set(self.previous));
    }
}

/// Whether a Sentry backend is in reach here (a call running, or a current backend): a caller
/// can skip preparing what a root needs when not.
#[cfg(feature = "axum")]
pub(crate) fn reachable() -> bool {
    in_transaction() || BackendRef::is_current()
}

/// Whether a call or transaction is current here (a new one then joins it).
pub(crate) fn in_transaction() -> bool {
    find_current(|_| Some(())).is_some()
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

/// The hub of the call running here: the nearest root's (or the one a carried scope carries).
pub(crate) fn current_hub() -> Option<Arc<Hub>> {
    find_current(|scope| scope.own.as_ref()?.hub.clone())
}

/// The innermost call that knows its place in a trace, with that place.
fn current_ids() -> Option<(&'static str, TraceIds)> {
    find_current(|scope| scope.own.as_ref().map(|own| (scope.name, own.ids)))
}

/// Where the call running here is in its trace: the innermost sampled span, or the unsampled
/// root's ids.
pub(crate) fn current_trace() -> Option<TraceIds> {
    current_ids().map(|(_, ids)| ids)
}

/// A parent span, with its trace and span ids when kansoku knows them.
type Parent = (TransactionOrSpan, Option<([u8; 16], [u8; 8])>);

/// The span a new child opens under, if the call running here is sampled: the innermost
/// sampled call's span, or the span of a hub entered inside it (a sentry-tracing span's); with
/// its trace and span ids when they are kansoku's own (known without reading them back from
/// sentry's types, which costs thousands of instructions).
fn sampled_parent_with_ids() -> Option<Parent> {
    // a `tracing` span entered inside the innermost call (kansoku's layer's)
    #[cfg(feature = "tracing")]
    if let Some(span) = super::tracing_layer::innermost() {
        return Some((span, None));
    }
    let (span, ids, on_hub) = find_current(|scope| {
        let own = scope.own.as_deref()?;
        Some(
            own.ids
                .sampled
                .then(|| (own.span.clone(), own.ids, own.on_hub.load(Relaxed))),
        )
    })??;
    let current = Hub::current();
    if ptr::eq(Arc::as_ptr(&current), on_hub) {
        return span.map(|span| (span, Some((ids.trace_id, ids.span_id))));
    }
    // entered inside this call: a hub of sentry-tracing's span (or the application's own)
    match current.configure_scope(|scope| scope.get_span()) {
        Some(foreign) => Some((foreign, None)),
        None => span.map(|span| (span, Some((ids.trace_id, ids.span_id)))),
    }
}

/// The span a `tracing` span opened here nests in: the innermost sampled span of the call
/// running here (none outside a call or in an unsampled one).
#[cfg(feature = "tracing")]
pub(crate) fn sampled_parent_for_tracing() -> Option<TransactionOrSpan> {
    if CURRENT.with(Cell::get).is_null() {
        return None;
    }
    sampled_parent_with_ids().map(|(span, _)| span)
}

/// The innermost call entered on this thread (null outside any): tells whether one was entered
/// since.
#[cfg(feature = "tracing")]
pub(crate) fn current_ptr() -> *const CallScope {
    CURRENT.with(Cell::get)
}

/// A child span of `parent`, with kansoku's own span id (known without reading it back).
#[cold]
#[inline(never)]
fn child(
    (parent, ids): &Parent,
    op: &str,
    description: &str,
    exporter: &Exporter,
    role: Role,
) -> Own {
    let span_id = TraceIds::new_span();
    let (trace_id, parent_id) = ids.unwrap_or_else(|| hub::ids_of(parent));
    let span =
        parent.start_child_with_details(op, description, SpanId::from(span_id), SystemTime::now());
    Own {
        hub: None,
        span: Some(span.into()),
        finishes: true,
        ids: TraceIds {
            trace_id,
            span_id,
            parent: Some(parent_id),
            sampled: true,
        },
        request: None,
        on_hub: AtomicPtr::new(ptr::null_mut()),
        pooled: None,
        out: exporter.open(description, role),
        remote: false,
    }
}

/// What a root asks for.
pub(crate) struct RootSpec<'a> {
    pub(crate) name: &'a str,
    pub(crate) op: &'a str,
    pub(crate) incoming: Option<&'a Incoming>,
    pub(crate) request: Option<Arc<RequestInfo>>,
}

/// A root's hub and span: it joins the span of the hub it starts under if that has one (a
/// sentry-tracing span, a sentry-tower transaction), continues `incoming` if the backend
/// accepts it, or starts a trace; sampled as the backend decides.
#[inline(never)]
fn root(backend: &SentryBackend, spec: RootSpec<'_>) -> Own {
    let base = hub::base();
    let incoming = spec.incoming.filter(|incoming| backend.continues(incoming));
    let span_id = TraceIds::new_span();
    let (ids, span, finishes) = match (incoming, base.enclosing.clone()) {
        (None, Some(enclosing)) => {
            let ids = TraceIds {
                trace_id: enclosing.ids.trace_id,
                span_id,
                parent: Some(enclosing.ids.span_id),
                sampled: enclosing.ids.sampled,
            };
            if ids.sampled {
                let child = enclosing.span.start_child_with_details(
                    spec.op,
                    spec.name,
                    SpanId::from(span_id),
                    SystemTime::now(),
                );
                (ids, TransactionOrSpan::from(child), true)
            } else {
                return unsampled_root(backend, &base, ids, spec.request);
            }
        }
        (incoming, _) => {
            let mut ids = TraceIds {
                trace_id: incoming.map_or_else(TraceIds::new_trace, |incoming| incoming.trace_id),
                span_id,
                parent: incoming.map(|incoming| incoming.parent_span_id),
                sampled: false,
            };
            let decided = incoming
                .and_then(|incoming| incoming.sampled)
                .filter(|_| backend.trusts_incoming_sampling());
            match backend.decide(spec.name, spec.op, decided) {
                Decision::Unsampled => return unsampled_root(backend, &base, ids, spec.request),
                Decision::Sampled => {
                    ids.sampled = true;
                    let tx =
                        hub::transaction(backend.factory(), spec.name, spec.op, &ids, Some(true));
                    (ids, tx.into(), true)
                }
                Decision::AskClient => {
                    let tx = hub::transaction(backend.factory(), spec.name, spec.op, &ids, decided);
                    #[allow(deprecated)] // whether it records: what its children need to know
                    let sampled = tx.is_sampled();
                    if !sampled {
                        // finished now: the client counts it (as `sample_rate`) as it would later
                        tx.finish();
                        return unsampled_root(backend, &base, ids, spec.request);
                    }
                    ids.sampled = sampled;
                    (ids, tx.into(), true)
                }
            }
        }
    };
    let kept = finishes.then(|| span.clone());
    let hub = hub::call_hub(backend.client(), hub::template_scope(&base), span);
    let role = if spec.request.is_some() {
        Role::Request
    } else {
        Role::Other
    };
    Own {
        on_hub: AtomicPtr::new(Arc::as_ptr(&hub).cast_mut()),
        hub: Some(hub),
        span: kept,
        finishes,
        ids,
        request: spec.request,
        pooled: None,
        out: backend.exporter().open(spec.name, role),
        remote: incoming.is_some(),
    }
}

/// An unsampled root: a hub lent from this thread's pool (no scope, span or hub made for it
/// when one is kept), given back when the call ends untouched.
fn unsampled_root(
    backend: &SentryBackend,
    base: &hub::Base,
    ids: TraceIds,
    request: Option<Arc<RequestInfo>>,
) -> Own {
    let (hub, pooled) = hub::lend(backend.client(), base, &ids);
    Own {
        on_hub: AtomicPtr::new(Arc::as_ptr(&hub).cast_mut()),
        hub: Some(hub),
        span: None,
        finishes: false,
        ids,
        request,
        pooled: Some(pooled),
        out: None,
        remote: false,
    }
}

impl CallScope {
    fn new(
        backend: BackendRef,
        kind: ScopeKind,
        name: &'static str,
        function: Option<&'static FnInfo>,
        own: Option<Box<Own>>,
    ) -> CallScope {
        CallScope {
            backend,
            kind,
            name,
            function,
            outer: AtomicPtr::new(ptr::null_mut()),
            own,
            arguments: OnceLock::new(),
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
        let (backend, mut own) = Self::open(name, op)?;
        if let Some(out) = own.as_mut().and_then(|own| own.out.as_mut()) {
            out.add(
                "code.function.name",
                &format!("{}::{}", site.info.module_path, site.info.function),
            );
        }
        Some(CallScope::new(
            backend,
            ScopeKind::Monitored,
            name,
            Some(&site.info),
            own,
        ))
    }

    /// An endpoint's or hand-made transaction's backend and span: inside a call, a child
    /// following its sampling decision (nothing when unsampled); else a root.
    #[inline]
    fn open(name: &str, op: &str) -> Option<(BackendRef, Option<Box<Own>>)> {
        if let Some(backend) = find_current(|scope| Some(scope.backend.clone())) {
            let own = sampled_parent_with_ids()
                .map(|p| Box::new(child(&p, op, name, backend.exporter(), Role::Other)));
            return Some((backend, own));
        }
        let backend = BackendRef::current()?;
        let own = root(
            &backend,
            RootSpec {
                name,
                op,
                incoming: None,
                request: None,
            },
        );
        Some((backend, Some(Box::new(own))))
    }

    /// A root for `spec` (a request, or a transaction continuing a caller's trace).
    pub(crate) fn open_root(
        backend: BackendRef,
        kind: ScopeKind,
        name: &'static str,
        spec: RootSpec<'_>,
    ) -> CallScope {
        let own = root(&backend, spec);
        CallScope::new(backend, kind, name, None, Some(Box::new(own)))
    }

    /// A hand-made transaction (`kansoku::start_transaction`): a root, or a child inside a
    /// call.
    pub(crate) fn start_transaction(name: &str, op: &str) -> Option<CallScope> {
        let (backend, own) = Self::open(name, op)?;
        // its name lives in its span; `name` on a scope only names endpoints and requests
        Some(CallScope::new(
            backend,
            ScopeKind::Transaction,
            "",
            None,
            own,
        ))
    }

    #[cold]
    #[inline(never)]
    fn start_query(site: &'static Site) -> Option<CallScope> {
        let backend = find_current(|scope| Some(scope.backend.clone()))?;
        let parent = sampled_parent_with_ids()?;
        let Attribute::TrackDatabaseQuery { operation, table } = site.attribute else {
            return None;
        };
        let description =
            site.description(|| format!("{} {table}", operation.to_ascii_uppercase()));
        let mut own = child(
            &parent,
            "db.query",
            description,
            backend.exporter(),
            Role::Query,
        );
        if let Some(span) = &own.span {
            span.set_data("db.operation", operation.into());
            span.set_data("db.sql.table", table.into());
        }
        if let Some(out) = own.out.as_mut() {
            out.add("db.operation.name", operation);
            out.add("db.collection.name", table);
        }
        Some(CallScope::new(
            backend,
            ScopeKind::Query,
            site.name(),
            None,
            Some(Box::new(own)),
        ))
    }

    /// A hand-made child span of this scope (`Transaction::start_child`), if it is sampled:
    /// a scope that is never entered, finished with `finish_with`.
    pub(crate) fn child_span(&self, op: &str, description: &str) -> Option<CallScope> {
        let own = self.own.as_deref()?;
        let span = own.span.clone().filter(|_| own.ids.sampled)?;
        let parent = (span, Some((own.ids.trace_id, own.ids.span_id)));
        let child = child(
            &parent,
            op,
            description,
            self.backend.exporter(),
            Role::Other,
        );
        Some(CallScope::new(
            self.backend.clone(),
            ScopeKind::Transaction,
            "",
            None,
            Some(Box::new(child)),
        ))
    }

    /// What `kansoku::bind` carries of the call running here into a task: its root's hub,
    /// request and name, the innermost span and the innermost function.
    pub(crate) fn carried() -> Option<CallScope> {
        let backend = find_current(|scope| Some(scope.backend.clone()))?;
        let (hub, request) = find_current(|scope| {
            let own = scope.own.as_deref()?;
            Some((own.hub.clone()?, own.request.clone()))
        })?;
        let name = find_current(|scope| {
            matches!(scope.kind, ScopeKind::Monitored | ScopeKind::Request).then_some(scope.name)
        })
        .unwrap_or("");
        let function = find_current(|scope| scope.function);
        let (ids, span) = find_current(|scope| {
            let own = scope.own.as_deref()?;
            Some((own.ids, own.span.clone()))
        })?;
        let own = Own {
            on_hub: AtomicPtr::new(Arc::as_ptr(&hub).cast_mut()),
            hub: Some(hub),
            span: span.filter(|_| ids.sampled),
            finishes: false,
            ids,
            request,
            pooled: None,
            out: None,
            remote: false,
        };
        Some(CallScope::new(
            backend,
            ScopeKind::Carried,
            name,
            function,
            Some(Box::new(own)),
        ))
    }

    /// Makes this scope current on this thread until the returned guard drops: its hub (a
    /// root's) becomes the thread's, and a sampled nested call's span the scope's.
    #[inline]
    pub(crate) fn enter(&self) -> Entered {
        let previous = CURRENT.with(|current| current.replace(ptr::from_ref(self)));
        self.outer.store(previous.cast_mut(), Relaxed);
        match self.own.as_deref() {
            None => Entered {
                previous,
                restore: None,
                switched: None,
            },
            Some(own) => own.enter(previous),
        }
    }

    /// Puts an argument's `Debug` form into this call's events' `arguments` context.
    pub(crate) fn record_argument(&self, name: &'static str, value: &dyn std::fmt::Debug) {
        self.arguments
            .get_or_init(Box::default)
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(
                name.to_owned(),
                Value::String(super::limits::bounded(&format!("{value:?}"))),
            );
    }

    /// The arguments recorded with [`CallScope::record_argument`], if any.
    pub(crate) fn arguments(&self) -> Option<BTreeMap<String, Value>> {
        let arguments = self.arguments.get()?;
        Some(
            arguments
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .clone(),
        )
    }

    /// The request this scope serves, for its events.
    pub(crate) fn request(&self) -> Option<&Arc<RequestInfo>> {
        self.own.as_ref()?.request.as_ref()
    }

    /// The span children of this scope open under, if it is sampled.
    pub(crate) fn sampled_span(&self) -> Option<&TransactionOrSpan> {
        let own = self.own.as_deref()?;
        own.span.as_ref().filter(|_| own.ids.sampled)
    }

    /// The call ended so: an endpoint captures its error (a panic was captured where it
    /// happened), then the span ends.
    #[inline(always)]
    pub(crate) fn end_call(self, ending: &Ending<'_>) {
        let status = match ending {
            Ending::Ok => SpanStatus::Ok,
            Ending::Cancelled => SpanStatus::Cancelled,
            Ending::Panic => SpanStatus::InternalError,
            Ending::Error(error) => {
                if self.kind == ScopeKind::Monitored {
                    self.capture_error(error);
                }
                SpanStatus::InternalError
            }
        };
        self.end(status);
    }

    #[cold]
    #[inline(never)]
    fn capture_error(&self, error: &crate::site::ErrorRef<'_>) {
        let _entered = self.enter();
        super::capture::capture_outcome_error(self, error);
    }

    /// The status code a request was answered with, on its span if it is sampled.
    #[cfg(feature = "axum")]
    pub(crate) fn set_response_code(&self, code: u16) {
        if let Some(span) = self.sampled_span() {
            span.set_data("http.response.status_code", Value::from(code));
        }
        if let Some(out) = self.own.as_ref().and_then(|own| own.out.as_ref()) {
            out.set_status_code(code);
        }
    }

    /// A gRPC call's status (`grpc-status`) on this request's span, if it is sampled (and on
    /// its OTLP span).
    #[cfg(feature = "axum")]
    pub(crate) fn set_grpc_status(&self, code: u8) {
        if let Some(span) = self.sampled_span() {
            span.set_data("rpc.grpc.status_code", Value::from(code));
        }
        if let Some(out) = self.own.as_ref().and_then(|own| own.out.as_ref()) {
            out.set_grpc_status(code);
        }
    }

    /// A text on this call's own span, if it is sampled (and on its OTLP span).
    #[cfg(feature = "axum")]
    pub(crate) fn set_span_text(&self, key: &'static str, value: &'static str) {
        if let Some(span) = self.sampled_span() {
            span.set_data(key, value.into());
        }
        if let Some(out) = self.own.as_ref().and_then(|own| own.out.as_ref()) {
            out.set_text(key, value);
        }
    }

    /// Ends a hand-made transaction or a request.
    pub(crate) fn finish_with(self, status: SpanStatus) {
        self.end(status);
    }

    #[inline]
    fn end(self, status: SpanStatus) {
        let Some(own) = self.own else { return };
        let Own {
            hub,
            span,
            finishes,
            request,
            pooled,
            out,
            ids,
            remote,
            ..
        } = *own;
        if let Some(out) = out {
            self.backend.exporter().close(*out, &ids, remote, status);
        }
        if let Some(pooled) = pooled {
            // an unsampled root: nothing to finish
            if let Some(hub) = hub {
                hub::give_back(hub, pooled, self.backend.client());
            }
            return;
        }
        let Some(span) = span.filter(|_| finishes) else {
            return;
        };
        span.set_status(status);
        match (span, hub) {
            (TransactionOrSpan::Transaction(transaction), Some(hub)) => {
                self.backend.send_transaction(Finished {
                    transaction,
                    hub,
                    end: SystemTime::now(),
                    request,
                });
            }
            (span, _) => span.finish(),
        }
    }
}

impl Own {
    #[inline]
    fn enter(&self, previous: *const CallScope) -> Entered {
        if let Some(hub) = &self.hub {
            return Entered {
                previous,
                restore: None,
                switched: Some(HubSwitchGuard::new(hub.clone())),
            };
        }
        let restore = self.span.as_ref().filter(|_| self.finishes).map(|span| {
            let current = Hub::current();
            self.on_hub.store(Arc::as_ptr(&current).cast_mut(), Relaxed);
            let outer = current.configure_scope(|scope| {
                let outer = scope.get_span();
                scope.set_span(Some(span.clone()));
                outer
            });
            (current, outer)
        });
        Entered {
            previous,
            restore,
            switched: None,
        }
    }
}
