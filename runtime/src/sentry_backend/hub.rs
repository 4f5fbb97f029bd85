//! A `sentry::Hub` per root call and per request, so that the whole `sentry` API — kansoku's,
//! the application's, sentry-tracing's, sentry-anyhow's — reaches the call it runs in and no
//! other.
//!
//! A call's hub is made the way sentry-tower's `NewSentryLayer` makes one (from the top of the
//! hub current where the call starts), with three differences:
//!
//! - **its own breadcrumbs only**: the scope starts without the breadcrumbs the thread's hub
//!   gathered outside any call (other requests' work on this worker thread);
//! - **its span is always set**: the sampled transaction, or an unsampled one that carries the
//!   call's trace and span ids, so that every event is in the call's trace, sentry-tracing opens
//!   child spans (recorded only when sampled) instead of transactions of its own, and
//!   `Scope::iter_trace_propagation_headers` names the call's trace;
//! - **cheap**: the scope is cloned from a per-thread template (derived once from the hub it
//!   comes from, refreshed every [`REFRESH`] uses), so a call's hub costs one scope clone and
//!   three small allocations, not sentry's double clone in `configure_scope`.
//!
//! Every call hub's scope carries one event processor ([`super::capture::describe_event`]) that
//! fills an event's transaction name, request and `function` tag from the kansoku call being
//! run on the capturing thread.

use std::cell::RefCell;
use std::sync::{Arc, Weak};

use sentry::protocol::{SpanId, TraceId};
use sentry::{Hub, Scope, TransactionContext, TransactionOrSpan};

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
}

struct Template {
    source: Weak<Hub>,
    uses: u32,
    scope: Scope,
    enclosing: Option<Enclosing>,
}

thread_local! {
    static TEMPLATE: RefCell<Option<Template>> = const { RefCell::new(None) };
    /// A hub without a client: the transactions it starts record nothing and send nothing,
    /// and carry the trace ids of an unsampled call.
    static NOOP: Hub = Hub::new(None, Arc::new(Scope::default()));
}

/// What a new root call starts from: its scope (without a span yet) and the span of the hub
/// it starts under, if that hub has one.
pub(crate) fn base() -> (Scope, Option<Enclosing>) {
    let current = Hub::current();
    TEMPLATE.with_borrow_mut(|slot| {
        let fresh = slot.as_mut().filter(|template| {
            template.uses < REFRESH && std::ptr::eq(template.source.as_ptr(), Arc::as_ptr(&current))
        });
        if let Some(template) = fresh {
            template.uses += 1;
            return (template.scope.clone(), template.enclosing.clone());
        }
        let (scope, enclosing) = derive(&current);
        *slot = Some(Template {
            source: Arc::downgrade(&current),
            uses: 0,
            scope: scope.clone(),
            enclosing: enclosing.clone(),
        });
        (scope, enclosing)
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
        Enclosing {
            ids: TraceIds {
                trace_id,
                span_id,
                parent: None,
                sampled,
            },
            span,
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
    client: &Arc<sentry::Client>,
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
