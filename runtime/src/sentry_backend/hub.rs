//! A `sentry::Hub` per root call and per request, so that the whole `sentry` API — kansoku's,
//! the application's, sentry-tracing's, sentry-anyhow's — reaches the call it runs in and no
//! other.
//!
//! A call's hub is made the way sentry-tower's `NewSentryLayer` makes one (from the top of the
//! hub current where the call starts), with three differences:
//!
//! - **its own breadcrumbs only**: the scope starts without the breadcrumbs the thread's hub
//!   gathered outside any call (other requests' work on this worker thread);
//! - **its span is always set**, so that every event is in the call's trace and sentry-tracing
//!   opens child spans (recorded only when sampled) instead of transactions of its own: a
//!   sampled call's transaction, or, for an unsampled one, a placeholder (below);
//! - **cheap**: the scope is cloned from a per-thread template (derived once from the hub it
//!   comes from, refreshed every [`REFRESH`] uses), so a sampled call's hub costs one scope clone
//!   and three small allocations, not sentry's double clone in `configure_scope`; and an
//!   unsampled call usually costs no hub at all, but borrows one.
//!
//! **Pooled hubs (unsampled roots).** Each thread keeps the hubs of unsampled calls that ended
//! untouched: nothing else holds the hub, its scope is still the one it was made with (every
//! change through the `sentry` API copies the scope first, which the pool sees as a second owner
//! gone), its client is the same, and no event was captured through it (its `last_event_id`
//! would be another call's). The next unsampled root on the thread takes one, so a request that
//! does not touch Sentry makes no hub, scope, span or transaction. Such a hub's span is a
//! placeholder made with the hub — an unsampled transaction with a trace id of its own — and the
//! hub's [`Slot`] holds the ids of the call it serves now; the event processor puts any event in
//! the placeholder's trace (captured on that hub, from a task bound to it with sentry's
//! `bind_hub`, or in an unsampled span someone opened under it) into that call's trace, and a
//! root started under such a hub joins that call. What still shows the placeholder's id: the
//! application reading `Scope::iter_trace_propagation_headers` or the span's trace context
//! itself (kansoku's `inject_trace_headers` and `trace_context()` give the call's).
//!
//! Every call hub's scope carries one event processor ([`super::capture::describe_event`]) that
//! fills an event's transaction name, request and `function` tag from the kansoku call being
//! run on the capturing thread.

use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex, OnceLock, PoisonError, Weak};

use sentry::protocol::{Context, Event};
use sentry::protocol::{SpanId, TraceId};
use sentry::{Client, Hub, Scope, TransactionContext, TransactionOrSpan};

/// A template is re-derived after this many calls, so that what the application sets on its
/// hubs later (tags, user, contexts) reaches new calls within a bounded number of them.
const REFRESH: u32 = 256;

/// The ids of a call's place in a trace, sampled or not.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct TraceIds {
    pub(crate) trace_id: [u8; 16],
    pub(crate) span_id: [u8; 8],
    /// The caller's span, when the trace was continued (root) or the parent span (child).
    pub(crate) parent: Option<[u8; 8]>,
    /// Whether the trace is sampled here.
    pub(crate) sampled: bool,
}

impl TraceIds {
    pub(crate) fn new_trace() -> [u8; 16] {
        let mut id = [0; 16];
        id[..8].copy_from_slice(&super::call::random_u64().to_be_bytes());
        id[8..].copy_from_slice(&super::call::random_u64().to_be_bytes());
        id
    }

    pub(crate) fn new_span() -> [u8; 8] {
        super::call::random_u64().max(1).to_be_bytes()
    }

    /// `TRACE-SPAN-1` or `-0`, as the `sentry-trace` header carries it.
    #[cfg(any(feature = "axum", test))]
    pub(crate) fn sentry_trace(&self) -> String {
        format!(
            "{}-{}-{}",
            TraceId::from(self.trace_id),
            SpanId::from(self.span_id),
            u8::from(self.sampled)
        )
    }
}

/// The span a new root finds on the hub it starts under (a sentry-tracing span, a transaction of
/// sentry-tower's), which it joins.
#[derive(Debug, Clone)]
pub(crate) struct Enclosing {
    pub(crate) span: TransactionOrSpan,
    pub(crate) ids: TraceIds,
    /// When `span` is a pooled hub's placeholder: the ids of the call that hub serves now.
    placeholder: Option<Arc<Slot>>,
}

struct Template {
    source: Weak<Hub>,
    uses: u32,
    generation: u64,
    scope: Scope,
    enclosing: Option<Enclosing>,
}

thread_local! {
    static TEMPLATE: RefCell<Option<Template>> = const { RefCell::new(None) };
    /// A hub without a client: the transactions it starts record nothing and send nothing,
    /// and carry the trace ids of an unsampled call.
    static NOOP: Hub = Hub::new(None, Arc::new(Scope::default()));
    /// Hubs of unsampled calls that ended untouched, for the next unsampled calls here.
    static POOL: RefCell<Vec<Pooled>> = const { RefCell::new(Vec::new()) };
}

/// Each template derived gets the next number: a pooled hub made from an older one is not used.
static GENERATION: AtomicU64 = AtomicU64::new(1);

/// What a new root call starts from: the template of the hub it starts under (see
/// [`template_scope`]) and that hub's span, if it has one.
#[derive(Debug)]
pub(crate) struct Base {
    generation: u64,
    pub(crate) enclosing: Option<Enclosing>,
}

pub(crate) fn base() -> Base {
    let current = Hub::current();
    TEMPLATE.with_borrow_mut(|slot| {
        let fresh = slot.as_ref().is_some_and(|template| {
            template.uses < REFRESH && std::ptr::eq(template.source.as_ptr(), Arc::as_ptr(&current))
        });
        if !fresh {
            let (scope, enclosing) = derive(&current);
            *slot = Some(Template {
                source: Arc::downgrade(&current),
                uses: 0,
                generation: GENERATION.fetch_add(1, Relaxed),
                scope,
                enclosing,
            });
        }
        let Some(template) = slot.as_mut() else {
            unreachable!("a template was just made")
        };
        template.uses += u32::from(fresh);
        let mut enclosing = template.enclosing.clone();
        if let Some(enclosing) = &mut enclosing {
            if let Some(slot) = &enclosing.placeholder {
                // the pooled hub's call now, not the one it served when the template was made
                enclosing.ids = slot.ids();
            }
        }
        Base {
            generation: template.generation,
            enclosing,
        }
    })
}

/// The scope a new root's own hub starts with (without a span yet): the template's.
pub(crate) fn template_scope(base: &Base) -> Scope {
    TEMPLATE.with_borrow(|slot| match slot {
        Some(template) if template.generation == base.generation => template.scope.clone(),
        // re-derived in between (a root started by the client's traces sampler)
        _ => derive(&Hub::current()).0,
    })
}

#[cold]
fn derive(current: &Arc<Hub>) -> (Scope, Option<Enclosing>) {
    // a copy of its top, so that reading the scope writes nothing back into `current`
    let copy = Hub::new_from_top(current);
    let (scope, span) = copy.configure_scope(|scope| {
        let span = scope.get_span();
        scope.clear_breadcrumbs();
        scope.set_span(None);
        scope.add_event_processor(super::capture::describe_event);
        (scope.clone(), span)
    });
    let enclosing = span.map(|span| {
        let (trace_id, span_id) = ids_of(&span);
        #[allow(deprecated)] // the decision to record, which is what a child needs
        let sampled = span.is_sampled();
        let placeholder = placeholder_slot(&TraceId::from(trace_id));
        Enclosing {
            ids: placeholder.as_ref().map_or(
                TraceIds {
                    trace_id,
                    span_id,
                    parent: None,
                    sampled,
                },
                |slot| slot.ids(),
            ),
            span,
            placeholder,
        }
    });
    (scope, enclosing)
}

/// The trace and span ids of a span of sentry's, read back (its types keep their bytes
/// private; only the sampled path and the first call of a thread read them).
pub(crate) fn ids_of(span: &TransactionOrSpan) -> ([u8; 16], [u8; 8]) {
    let context = span.get_trace_context();
    let span_id = match span {
        TransactionOrSpan::Span(span) => span.get_span_id(),
        TransactionOrSpan::Transaction(_) => context.span_id,
    };
    (
        id_bytes(&context.trace_id.to_string()),
        id_bytes(&span_id.to_string()),
    )
}

/// The bytes of a hex id as sentry prints it (its types keep their bytes private).
fn id_bytes<const N: usize>(hex: &str) -> [u8; N] {
    let mut out = [0; N];
    for (byte, pair) in out.iter_mut().zip(hex.as_bytes().chunks(2)) {
        *byte = std::str::from_utf8(pair)
            .ok()
            .and_then(|pair| u8::from_str_radix(pair, 16).ok())
            .unwrap_or(0);
    }
    out
}

/// A hub for one call: `scope` (from [`base`]) with `span` as its span, on `client`.
pub(crate) fn call_hub(
    client: &Arc<Client>,
    mut scope: Scope,
    span: TransactionOrSpan,
) -> Arc<Hub> {
    scope.set_span(Some(span));
    Arc::new(Hub::new(Some(client.clone()), Arc::new(scope)))
}

/// An unsampled transaction carrying `ids`: costs one allocation, records nothing.
pub(crate) fn unsampled(ids: &TraceIds) -> TransactionOrSpan {
    let mut context = TransactionContext::new_with_details(
        "",
        "",
        TraceId::from(ids.trace_id),
        Some(SpanId::from(ids.span_id)),
        ids.parent.map(SpanId::from),
    );
    context.set_sampled(Some(false));
    NOOP.with(|hub| hub.start_transaction(context)).into()
}

/// The ids of the call a pooled hub serves now. Its hub's span is a placeholder made once with
/// the hub (an unsampled transaction with an id of its own, known to [`placeholders`]): an event
/// in that placeholder's trace gets these ids instead ([`fix_placeholder`]), so that a hub can
/// serve one unsampled call after another without a new scope, span or hub for each.
#[derive(Debug)]
pub(crate) struct Slot {
    words: [AtomicU64; 4],
    parent: AtomicBool,
    /// An event was captured through the hub: its `last_event_id` is that call's.
    used: AtomicBool,
    placeholder: TraceId,
}

impl Slot {
    fn set(&self, ids: &TraceIds) {
        let [high, low, span, parent] = &self.words;
        high.store(
            u64::from_be_bytes(ids.trace_id[..8].try_into().unwrap_or_default()),
            Relaxed,
        );
        low.store(
            u64::from_be_bytes(ids.trace_id[8..].try_into().unwrap_or_default()),
            Relaxed,
        );
        span.store(u64::from_be_bytes(ids.span_id), Relaxed);
        parent.store(ids.parent.map_or(0, u64::from_be_bytes), Relaxed);
        self.parent.store(ids.parent.is_some(), Relaxed);
        self.used.store(false, Relaxed);
    }

    fn ids(&self) -> TraceIds {
        let [high, low, span, parent] = &self.words;
        let mut trace_id = [0; 16];
        trace_id[..8].copy_from_slice(&high.load(Relaxed).to_be_bytes());
        trace_id[8..].copy_from_slice(&low.load(Relaxed).to_be_bytes());
        TraceIds {
            trace_id,
            span_id: span.load(Relaxed).to_be_bytes(),
            parent: self
                .parent
                .load(Relaxed)
                .then(|| parent.load(Relaxed).to_be_bytes()),
            sampled: false,
        }
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut placeholders = placeholders()
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        placeholders.remove(&self.placeholder);
    }
}

/// Every live pooled hub's placeholder trace id, to its slot. Written when a pooled hub is made
/// or dropped, read when an event is captured.
fn placeholders() -> &'static Mutex<HashMap<TraceId, Weak<Slot>>> {
    static PLACEHOLDERS: OnceLock<Mutex<HashMap<TraceId, Weak<Slot>>>> = OnceLock::new();
    PLACEHOLDERS.get_or_init(Mutex::default)
}

fn placeholder_slot(trace_id: &TraceId) -> Option<Arc<Slot>> {
    let placeholders = placeholders()
        .lock()
        .unwrap_or_else(PoisonError::into_inner);
    placeholders.get(trace_id)?.upgrade()
}

/// An event in a pooled hub's placeholder trace (captured on that hub, or in an unsampled span
/// someone opened under the placeholder) is put in the trace of the call the hub serves.
pub(crate) fn fix_placeholder(event: &mut Event<'static>) {
    let Some(Context::Trace(trace)) = event.contexts.get_mut("trace") else {
        return;
    };
    let Some(slot) = placeholder_slot(&trace.trace_id) else {
        return;
    };
    slot.used.store(true, Relaxed);
    let ids = slot.ids();
    trace.trace_id = TraceId::from(ids.trace_id);
    trace.span_id = SpanId::from(ids.span_id);
    trace.parent_span_id = ids.parent.map(SpanId::from);
}

/// A pooled hub lent to an unsampled call, and what tells, when the call ends, whether anything
/// changed it.
#[derive(Debug)]
pub(crate) struct Pooled {
    hub: Arc<Hub>,
    /// The scope the hub was made with: while the hub still holds it (two owners), nothing
    /// changed the hub's scope (every change to it copies it first).
    scope: Arc<Scope>,
    slot: Arc<Slot>,
    generation: u64,
}

/// The most hubs a thread keeps for its next unsampled calls (as many as run at once on it).
const POOL_SIZE: usize = 64;

/// A hub for an unsampled call with `ids`: one this thread kept, or a new one made from the
/// template of `base`.
pub(crate) fn lend(client: &Arc<Client>, base: &Base, ids: &TraceIds) -> (Arc<Hub>, Pooled) {
    let kept = POOL
        .try_with(|pool| {
            let mut pool = pool.borrow_mut();
            while let Some(pooled) = pool.pop() {
                if pooled.generation == base.generation {
                    return Some(pooled);
                }
            }
            None
        })
        .ok()
        .flatten();
    let pooled = kept.unwrap_or_else(|| make_pooled(client, base));
    pooled.slot.set(ids);
    (pooled.hub.clone(), pooled)
}

#[cold]
#[inline(never)]
fn make_pooled(client: &Arc<Client>, base: &Base) -> Pooled {
    let placeholder = TraceIds {
        trace_id: TraceIds::new_trace(),
        span_id: TraceIds::new_span(),
        parent: None,
        sampled: false,
    };
    let slot = Arc::new(Slot {
        words: Default::default(),
        parent: AtomicBool::new(false),
        used: AtomicBool::new(false),
        placeholder: TraceId::from(placeholder.trace_id),
    });
    placeholders()
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .insert(slot.placeholder, Arc::downgrade(&slot));
    let mut scope = template_scope(base);
    scope.set_span(Some(unsampled(&placeholder)));
    let scope = Arc::new(scope);
    let hub = Arc::new(Hub::new(Some(client.clone()), scope.clone()));
    Pooled {
        hub,
        scope,
        slot,
        generation: base.generation,
    }
}

/// The call of a lent hub ended: the hub is kept for the next unsampled call here if nothing
/// holds it or changed it (its scope, its client, an event captured through it).
pub(crate) fn give_back(hub: Arc<Hub>, pooled: Pooled, client: &Arc<Client>) {
    drop(hub);
    let untouched = Arc::strong_count(&pooled.hub) == 1
        && Arc::weak_count(&pooled.hub) == 0
        && Arc::strong_count(&pooled.scope) == 2
        && !pooled.slot.used.load(Relaxed)
        && pooled
            .hub
            .client()
            .is_some_and(|bound| Arc::ptr_eq(&bound, client));
    if untouched {
        // (a call ending while its thread exits keeps nothing)
        let _ = POOL.try_with(|pool| {
            let mut pool = pool.borrow_mut();
            if pool.len() < POOL_SIZE {
                pool.push(pooled);
            }
        });
    }
}

/// A transaction of `client` for `ids`, sampled as `sampled` says (`None`: as the client's own
/// traces sampler decides). Made through `factory`, a hub of that client.
pub(crate) fn transaction(
    factory: &Hub,
    name: &str,
    op: &str,
    ids: &TraceIds,
    sampled: Option<bool>,
) -> sentry::Transaction {
    let mut context = TransactionContext::new_with_details(
        name,
        op,
        TraceId::from(ids.trace_id),
        Some(SpanId::from(ids.span_id)),
        ids.parent.map(SpanId::from),
    );
    context.set_sampled(sampled);
    let transaction = factory.start_transaction(context);
    transaction.set_origin("auto.kansoku");
    transaction
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_read_back_from_sentrys_hex() {
        let trace = [0x77, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 0xff];
        assert_eq!(id_bytes::<16>(&TraceId::from(trace).to_string()), trace);
        let span = [0xa1, 0, 0, 0, 0, 0, 0, 0x18];
        assert_eq!(id_bytes::<8>(&SpanId::from(span).to_string()), span);
    }

    #[test]
    fn an_unsampled_transaction_carries_the_calls_ids_and_says_so_downstream() {
        let ids = TraceIds {
            trace_id: [7; 16],
            span_id: [9; 8],
            parent: None,
            sampled: false,
        };
        let span = unsampled(&ids);
        let header = span.iter_headers().next().unwrap().1;
        assert_eq!(header, ids.sentry_trace());
        assert!(header.ends_with("-0"));
    }
}
