//! Events: an endpoint's `Err` or panic, and what the application captures itself. Each gets
//! the scope of the call it happened in, the trace it belongs to, and the function's name.

use std::sync::Once;

use sentry::protocol::{Event, Exception, Level, Mechanism, Value};
use sentry::types::Uuid;

use super::call::{find_current, BackendRef, CallScope, ScopeKind};
use crate::site::ErrorRef;

/// The innermost call's function, the nearest owner of a scope, and the nearest span, as an
/// event needs them.
fn decorate(event: &mut Event<'static>) -> Option<super::call::SharedScope> {
    if let Some(info) = find_current(|scope| scope.function) {
        let function = format!("{}::{}", info.module_path, info.function);
        event.tags.insert("function".into(), function);
    }
    if let Some(name) = find_current(|scope| {
        matches!(scope.kind, ScopeKind::Monitored | ScopeKind::Request).then_some(scope.name)
    }) {
        event.transaction.get_or_insert_with(|| name.to_owned());
    }
    if let Some(span) = find_current(CallScope::span_handle) {
        event
            .contexts
            .insert("trace".into(), span.trace_context().into());
    }
    let request = find_current(|scope| {
        let data = scope.scope.get()?;
        data.lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .request
            .clone()
    });
    if let Some(describe) = request {
        event.request = Some((describe.0)());
    }
    find_current(|scope| scope.scope.get().cloned())
}

/// Captures `event` through `backend` with the current call's scope layered over the hub's.
fn send(backend: &BackendRef, mut event: Event<'static>, extra: &[(&str, Value)]) -> Uuid {
    let call_scope = decorate(&mut event);
    for (key, value) in extra {
        event.extra.insert((*key).to_owned(), value.clone());
    }
    backend.with_hub(|hub| {
        // A copy of the hub's scope with the call's data layered over it: the hub's own scope
        // stack is not touched, so calls on other threads sharing the hub are unaffected.
        let mut scope = hub.configure_scope(|scope| scope.clone());
        if let Some(data) = &call_scope {
            let data = data
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            for (key, value) in &data.tags {
                scope.set_tag(key, value);
            }
            for (key, value) in &data.contexts {
                scope.set_context(key, value.clone());
            }
            for (key, value) in &data.extra {
                scope.set_extra(key, value.clone());
            }
            if data.user.is_some() {
                scope.set_user(data.user.clone());
            }
        }
        match hub.client() {
            Some(client) => client.capture_event(event, Some(&scope)),
            None => Uuid::nil(),
        }
    })
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

/// An endpoint is unwinding from a panic; the panic hook left its message on the call.
pub(crate) fn capture_panic(call: &CallScope) {
    let message = call.scope.get().and_then(|scope| {
        scope
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .panic
            .take()
    });
    send(
        &call.backend,
        panic_event(message.as_deref().unwrap_or("panic")),
        &[],
    );
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

/// Our panic hook, chained before the previous one: inside an endpoint, the message waits on
/// the call for its guard to capture it with the call's scope as the stack unwinds; outside
/// any endpoint, the panic is captured at once through the current telemetry.
pub(crate) fn install_panic_hook() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let message = panic_message(info);
            let in_endpoint = find_current(|scope| {
                matches!(scope.kind, ScopeKind::Monitored).then(|| {
                    let mut data = scope
                        .shared_scope()
                        .lock()
                        .unwrap_or_else(std::sync::PoisonError::into_inner);
                    data.panic.get_or_insert_with(|| message.clone());
                })
            });
            if in_endpoint.is_none() {
                if let Some(backend) = BackendRef::current() {
                    send(&backend, panic_event(&message), &[]);
                }
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
