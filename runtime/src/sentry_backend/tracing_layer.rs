//! `kansoku::tracing::layer()`: `tracing` inside kansoku's calls, the way Sentry shows it.
//!
//! sentry-tracing's layers work beside kansoku (spans nest in kansoku's transactions, events are
//! in their call's trace), but they switch to a throw-away hub for each entered span: a
//! breadcrumb, tag or user set while a `#[tracing::instrument]` span is entered is lost when it
//! exits (at every `.await`). This layer writes to the call's own hub instead:
//!
//! - events at INFO and WARN become breadcrumbs of the current call only, ERROR events become
//!   Sentry events in the call's trace (see [`Layer::event_filter`]); outside any call, both go
//!   to the current hub, as sentry-tracing's would;
//! - spans opened inside a *sampled* call become child spans of its transaction (the innermost
//!   entered span or call is the parent), with their fields as data; inside an unsampled call or
//!   outside any call a span costs one thread-local read and makes nothing.
//!
//! Use it instead of sentry-tracing's layers (both would report each event twice).

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use sentry::protocol::{Breadcrumb, Event, Level, Value};
use sentry::{Hub, TransactionOrSpan};
use tracing::field::{Field, Visit};
use tracing::{span, Metadata, Subscriber};
use tracing_subscriber::layer::Context;
use tracing_subscriber::registry::LookupSpan;

use super::call::{self, CallScope};
use super::limits::bounded;

/// What a `tracing` event becomes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum EventFilter {
    /// Nothing.
    Ignore,
    /// A breadcrumb of the current call.
    Breadcrumb,
    /// A Sentry event in the current call's trace.
    Event,
}

/// The default: ERROR → event, WARN and INFO → breadcrumb, DEBUG and TRACE → nothing (as
/// sentry-tracing's defaults).
#[must_use]
pub fn default_event_filter(metadata: &Metadata<'_>) -> EventFilter {
    match *metadata.level() {
        tracing::Level::ERROR => EventFilter::Event,
        tracing::Level::WARN | tracing::Level::INFO => EventFilter::Breadcrumb,
        _ => EventFilter::Ignore,
    }
}

/// The `tracing-subscriber` layer; made by [`layer`].
pub struct Layer {
    event_filter: Box<dyn Fn(&Metadata<'_>) -> EventFilter + Send + Sync>,
    spans: bool,
}

impl fmt::Debug for Layer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Layer")
            .field("spans", &self.spans)
            .finish_non_exhaustive()
    }
}

/// The layer, with the default event filter and spans on.
///
/// ```
/// use tracing_subscriber::layer::SubscriberExt as _;
///
/// let subscriber = tracing_subscriber::registry().with(kansoku::tracing::layer());
/// let _default = tracing::subscriber::set_default(subscriber);
/// tracing::info!("a breadcrumb of the call running here, if any");
/// ```
#[must_use]
pub fn layer() -> Layer {
    Layer {
        event_filter: Box::new(default_event_filter),
        spans: true,
    }
}

impl Layer {
    /// What each event becomes, as sentry-tracing's `event_filter`.
    #[must_use]
    pub fn event_filter(
        mut self,
        filter: impl Fn(&Metadata<'_>) -> EventFilter + Send + Sync + 'static,
    ) -> Layer {
        self.event_filter = Box::new(filter);
        self
    }

    /// Whether spans inside sampled calls become Sentry child spans (on by default).
    #[must_use]
    pub fn spans(mut self, spans: bool) -> Layer {
        self.spans = spans;
        self
    }
}

/// The Sentry span a `tracing` span made, kept in its extensions.
struct Made(TransactionOrSpan);

/// One entered span of this layer's: what it replaced on the call's hub.
struct Entered {
    id: span::Id,
    /// The kansoku call current when it was entered: a call entered after it is more inner.
    call: *const CallScope,
    span: TransactionOrSpan,
    hub: Arc<Hub>,
    previous: Option<TransactionOrSpan>,
}

thread_local! {
    static ENTERED: RefCell<Vec<Entered>> = const { RefCell::new(Vec::new()) };
}

/// The span of the innermost entered `tracing` span of this layer's, if nothing of kansoku's was
/// entered since: the parent of a span or call starting here.
pub(crate) fn innermost() -> Option<TransactionOrSpan> {
    ENTERED
        .try_with(|entered| {
            let entered = entered.borrow();
            let top = entered.last()?;
            std::ptr::eq(top.call, call::current_ptr()).then(|| top.span.clone())
        })
        .ok()
        .flatten()
}

impl<S> tracing_subscriber::Layer<S> for Layer
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    fn on_new_span(&self, attrs: &span::Attributes<'_>, id: &span::Id, ctx: Context<'_, S>) {
        if !self.spans {
            return;
        }
        let Some(parent) = call::sampled_parent_for_tracing() else {
            return;
        };
        let metadata = attrs.metadata();
        let op = format!("{}::{}", metadata.target(), metadata.name());
        let child = parent.start_child(&op, metadata.name());
        let mut fields = Fields::default();
        attrs.record(&mut fields);
        for (key, value) in fields.0 {
            if key != "message" {
                child.set_data(&key, value);
            }
        }
        if let Some(span) = ctx.span(id) {
            span.extensions_mut().insert(Made(child.into()));
        }
    }

    fn on_record(&self, id: &span::Id, values: &span::Record<'_>, ctx: Context<'_, S>) {
        let Some(span) = ctx.span(id) else { return };
        let extensions = span.extensions();
        let Some(Made(made)) = extensions.get::<Made>() else {
            return;
        };
        let mut fields = Fields::default();
        values.record(&mut fields);
        for (key, value) in fields.0 {
            made.set_data(&key, value);
        }
    }

    fn on_enter(&self, id: &span::Id, ctx: Context<'_, S>) {
        let Some(span) = ctx.span(id) else { return };
        let extensions = span.extensions();
        let Some(Made(made)) = extensions.get::<Made>() else {
            return;
        };
        let Some(hub) = call::current_hub() else {
            return;
        };
        let previous = hub.configure_scope(|scope| {
            let previous = scope.get_span();
            scope.set_span(Some(made.clone()));
            previous
        });
        let entry = Entered {
            id: id.clone(),
            call: call::current_ptr(),
            span: made.clone(),
            hub,
            previous,
        };
        let _ = ENTERED.try_with(|entered| entered.borrow_mut().push(entry));
    }

    fn on_exit(&self, id: &span::Id, _ctx: Context<'_, S>) {
        let popped = ENTERED
            .try_with(|entered| {
                let mut entered = entered.borrow_mut();
                let position = entered.iter().rposition(|entry| entry.id == *id)?;
                Some(entered.remove(position))
            })
            .ok()
            .flatten();
        if let Some(entry) = popped {
            entry
                .hub
                .configure_scope(|scope| scope.set_span(entry.previous));
        }
    }

    fn on_close(&self, id: span::Id, ctx: Context<'_, S>) {
        let Some(span) = ctx.span(&id) else { return };
        let made = span.extensions_mut().remove::<Made>();
        if let Some(Made(made)) = made {
            made.finish();
        }
    }

    fn on_event(&self, event: &tracing::Event<'_>, _ctx: Context<'_, S>) {
        let metadata = event.metadata();
        let what = (self.event_filter)(metadata);
        if what == EventFilter::Ignore {
            return;
        }
        let mut fields = Fields::default();
        event.record(&mut fields);
        let message = match fields.0.remove("message") {
            Some(Value::String(message)) => Some(message),
            Some(other) => Some(other.to_string()),
            None => None,
        };
        let level = level(metadata);
        let hub = call::current_hub().unwrap_or_else(Hub::current);
        match what {
            EventFilter::Breadcrumb => hub.add_breadcrumb(Breadcrumb {
                category: Some(metadata.target().to_owned()),
                level,
                message,
                data: fields.0.into_iter().collect(),
                ..Breadcrumb::default()
            }),
            EventFilter::Event => {
                let mut tags = BTreeMap::new();
                let mut data = BTreeMap::new();
                for (key, value) in fields.0 {
                    match key.strip_prefix("tags.") {
                        Some(tag) => {
                            let text = match value {
                                Value::String(text) => text,
                                other => other.to_string(),
                            };
                            tags.insert(tag.to_owned(), text);
                        }
                        None => {
                            data.insert(key, value);
                        }
                    }
                }
                let mut event = Event {
                    level,
                    message,
                    logger: Some(metadata.target().to_owned()),
                    tags,
                    ..Event::default()
                };
                if !data.is_empty() {
                    event.contexts.insert(
                        "Rust Tracing Fields".to_owned(),
                        sentry::protocol::Context::Other(data),
                    );
                }
                hub.capture_event(event);
            }
            EventFilter::Ignore => {}
        }
    }
}

fn level(metadata: &Metadata<'_>) -> Level {
    match *metadata.level() {
        tracing::Level::ERROR => Level::Error,
        tracing::Level::WARN => Level::Warning,
        tracing::Level::INFO => Level::Info,
        _ => Level::Debug,
    }
}

/// A span's or event's fields, as JSON values; strings cut to [`super::limits::MAX_VALUE`].
#[derive(Default)]
struct Fields(BTreeMap<String, Value>);

impl Visit for Fields {
    fn record_f64(&mut self, field: &Field, value: f64) {
        self.0.insert(field.name().to_owned(), value.into());
    }
    fn record_i64(&mut self, field: &Field, value: i64) {
        self.0.insert(field.name().to_owned(), value.into());
    }
    fn record_u64(&mut self, field: &Field, value: u64) {
        self.0.insert(field.name().to_owned(), value.into());
    }
    fn record_bool(&mut self, field: &Field, value: bool) {
        self.0.insert(field.name().to_owned(), value.into());
    }
    fn record_str(&mut self, field: &Field, value: &str) {
        self.0
            .insert(field.name().to_owned(), bounded(value).into());
    }
    fn record_error(&mut self, field: &Field, value: &(dyn std::error::Error + 'static)) {
        self.0
            .insert(field.name().to_owned(), bounded(&value.to_string()).into());
    }
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.0.insert(
            field.name().to_owned(),
            bounded(&format!("{value:?}")).into(),
        );
    }
}

/// A `tracing-subscriber` fmt event formatter that starts each line with the current call's
/// `trace_id=… span_id=…` (nothing outside a call), then formats the event with `inner`: a
/// log line, the Sentry event and the next service's request then share the trace id.
///
/// ```
/// let format = kansoku::tracing::TraceIdFormat::new(tracing_subscriber::fmt::format());
/// let subscriber = tracing_subscriber::fmt().event_format(format).finish();
/// # drop(subscriber);
/// ```
#[derive(Debug, Clone)]
pub struct TraceIdFormat<F> {
    inner: F,
}

impl<F> TraceIdFormat<F> {
    /// Prefixes what `inner` writes.
    pub fn new(inner: F) -> TraceIdFormat<F> {
        TraceIdFormat { inner }
    }
}

impl<S, N, F> tracing_subscriber::fmt::FormatEvent<S, N> for TraceIdFormat<F>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> tracing_subscriber::fmt::FormatFields<'a> + 'static,
    F: tracing_subscriber::fmt::FormatEvent<S, N>,
{
    fn format_event(
        &self,
        ctx: &tracing_subscriber::fmt::FmtContext<'_, S, N>,
        mut writer: tracing_subscriber::fmt::format::Writer<'_>,
        event: &tracing::Event<'_>,
    ) -> fmt::Result {
        if let Some(context) = crate::trace_context() {
            write!(
                writer,
                "trace_id={} span_id={} ",
                context.trace_id_hex(),
                context.span_id_hex()
            )?;
        }
        self.inner.format_event(ctx, writer, event)
    }
}
