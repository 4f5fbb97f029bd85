//! Events: an endpoint's `Err` or panic, and what the application captures itself. Each gets
//! the scope of the call it happened in, the trace it belongs to, and the function's name.

use std::sync::Once;

use sentry::protocol::{Context, Event, Exception, Level, Mechanism, Value};
use sentry::types::Uuid;

use super::call::{current_hub, find_current, BackendRef, CallScope, ScopeKind};
use crate::site::ErrorRef;

/// The event processor on every call hub's scope: an event captured while a kansoku call runs
/// on this thread — by kansoku, the application, sentry-tracing, sentry-anyhow — gets the
/// call's transaction name, its request, the innermost annotated function and that call's
/// `fields(…)` arguments, where the event does not say already.
pub(crate) fn describe_event(mut event: Event<'static>) -> Option<Event<'static>> {
    // in the trace of the call an unsampled root's pooled hub serves
    super::hub::fix_placeholder(&mut event);
    // `ignore_errors` of the call's telemetry when the client is the application's (kansoku's
    // own applies them in its `before_send`, to every event)
    if let Some(backend) = find_current(|scope| Some(scope.backend.clone())) {
        if !backend.ignored_in_calls().is_empty() {
            event = keep_event(event, backend.ignored_in_calls())?;
        }
    }
    if !event.tags.contains_key("function") {
        if let Some(info) = find_current(|scope| scope.function) {
            let function = format!("{}::{}", info.module_path, info.function);
            event.tags.insert("function".into(), function);
        }
    }
    if event.transaction.is_none() {
        event.transaction = find_current(|scope| {
            matches!(
                scope.kind,
                ScopeKind::Monitored | ScopeKind::Request | ScopeKind::Carried
            )
            .then_some(scope.name)
            .filter(|name| !name.is_empty())
        })
        .map(str::to_owned);
    }
    if event.request.is_none() {
        event.request = find_current(|scope| scope.request().map(|request| request.describe()));
    }
    if !event.contexts.contains_key("arguments") {
        if let Some(arguments) = find_current(CallScope::arguments) {
            event.contexts.insert(
                "arguments".to_owned(),
                Context::Other(arguments.into_iter().collect()),
            );
        }
    }
    Some(event)
}

/// Captures `event` in the call running here (through its hub: its scope, breadcrumbs,
/// trace), or, outside any, through `backend`'s hub.
fn send(backend: &BackendRef, mut event: Event<'static>, extra: &[(&str, Value)]) -> Uuid {
    for (key, value) in extra {
        event.extra.insert((*key).to_owned(), value.clone());
    }
    match current_hub() {
        Some(hub) => hub.capture_event(event),
        None => backend.with_hub(|hub| hub.capture_event(event)),
    }
}

/// An endpoint returned `Err(error)`.
pub(crate) fn capture_outcome_error(call: &CallScope, error: &ErrorRef<'_>) {
    let mut event = match error.error {
        Some(error) => sentry::event_from_error(error),
        None => Event {
            exception: vec![Exception {
                ty: error.short_type_name().to_owned(),
                value: Some(format!("`{}` returned an error", call.name)),
                ..Exception::default()
            }]
            .into(),
            level: Level::Error,
            ..Event::default()
        },
    };
    mark(&mut event, "kansoku.endpoint", true);
    send(&call.backend, event, &[]);
}

fn panic_event(message: &str) -> Event<'static> {
    let mut event = Event {
        exception: vec![Exception {
            ty: "panic".into(),
            value: Some(message.to_owned()),
            ..Exception::default()
        }]
        .into(),
        level: Level::Fatal,
        ..Event::default()
    };
    mark(&mut event, "panic", false);
    event
}

fn mark(event: &mut Event<'static>, mechanism: &str, handled: bool) {
    if let Some(last) = event.exception.values.last_mut() {
        last.mechanism = Some(Mechanism {
            ty: mechanism.into(),
            handled: Some(handled),
            ..Mechanism::default()
        });
    }
}

/// `kansoku::capture_error`.
pub(crate) fn capture_error_event(
    error: &(dyn std::error::Error + 'static),
    extra: &[(&str, Value)],
) -> Option<Uuid> {
    let backend = BackendRef::current()?;
    let mut event = sentry::event_from_error(error);
    mark(&mut event, "kansoku.capture_error", true);
    Some(send(&backend, event, extra))
}

/// `kansoku::capture_message`.
pub(crate) fn capture_message_event(
    message: &str,
    level: Level,
    extra: &[(&str, Value)],
) -> Option<Uuid> {
    let backend = BackendRef::current()?;
    let event = Event {
        message: Some(message.to_owned()),
        level,
        ..Event::default()
    };
    Some(send(&backend, event, extra))
}

/// The `ignore_errors` filter: drops an event whose exception type or value, or message,
/// contains one of the patterns.
pub(crate) fn keep_event(event: Event<'static>, ignored: &[String]) -> Option<Event<'static>> {
    let matches = |text: &str| {
        ignored
            .iter()
            .any(|pattern| text.contains(pattern.as_str()))
    };
    let in_exception = event
        .exception
        .values
        .iter()
        .any(|e| matches(&e.ty) || e.value.as_deref().is_some_and(matches));
    let in_message = event.message.as_deref().is_some_and(matches)
        || event
            .logentry
            .as_ref()
            .is_some_and(|entry| matches(&entry.message));
    (!(in_exception || in_message)).then_some(event)
}

/// Our panic hook, chained before the previous one: a panic is captured where it happens,
/// in the call it happens in (the call's hub is current), once: not when the client in use
/// has sentry's panic integration, which captures it itself, through the same hub.
pub(crate) fn install_panic_hook() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let backend =
                find_current(|scope| Some(scope.backend.clone())).or_else(BackendRef::current);
            if let Some(backend) = backend.filter(|backend| !backend.panics_captured_by_client()) {
                send(&backend, panic_event(&panic_message(info)), &[]);
            }
            previous(info);
        }));
    });
}

fn panic_message(info: &std::panic::PanicHookInfo<'_>) -> String {
    let payload = info.payload();
    let text = payload
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| payload.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("Box<dyn Any>");
    match info.location() {
        Some(location) => format!("{text} (at {}:{})", location.file(), location.line()),
        None => text.to_owned(),
    }
}
