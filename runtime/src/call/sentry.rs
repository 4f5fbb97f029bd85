//! The Sentry part of a call (feature `sentry`): its scope, made current at each poll. Its twin
//! `no_sentry.rs` has the same items holding nothing, so that `call` names no feature.

use crate::sentry_backend::call::Entered as ScopeEntered;
use crate::sentry_backend::CallScope;
use crate::site::{Ending, Site};

/// A call's Sentry scope. Boxed: a call with none (a request counter, a query outside a
/// sampled call, any call without a DSN) then carries 8 bytes here, not the scope's 80. Every
/// annotated `async fn` holds its call in its future, and those nest (an axum handler's future,
/// with the calls of the queries it awaits, is boxed for each request).
#[derive(Debug)]
pub(crate) struct Scope(Option<Box<CallScope>>);

/// The scope made current, restored when dropped.
pub(crate) type Entered = Option<ScopeEntered>;

/// What a [`super::Bound`] future holds of its call: the call, entered at each poll.
pub(crate) type CallRef<'a> = &'a super::Call;

impl Scope {
    #[inline(always)]
    pub(super) fn start(site: &'static Site, type_name: Option<fn() -> &'static str>) -> Scope {
        Scope(CallScope::start(site, type_name).map(Box::new))
    }

    #[inline(always)]
    pub(super) fn enter(&self) -> Entered {
        self.0.as_deref().map(CallScope::enter)
    }

    #[inline]
    pub(super) fn field(&self, name: &'static str, value: &dyn core::fmt::Debug) {
        if let Some(scope) = self.0.as_deref() {
            scope.record_argument(name, value);
        }
    }

    #[inline(always)]
    pub(super) fn end(self, ending: &Ending<'_>) {
        if let Some(scope) = self.0 {
            (*scope).end_call(ending);
        }
    }
}

#[inline(always)]
pub(super) fn call_ref(call: &super::Call) -> CallRef<'_> {
    call
}

/// Makes the call's scope current for one poll.
#[inline(always)]
pub(super) fn enter_for_poll(call: &CallRef<'_>) -> impl Sized {
    call.enter()
}
