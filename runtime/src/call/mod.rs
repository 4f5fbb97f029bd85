//! The guard of one call: started by the site's `start`, it hands the call to every backend
//! on the way in and the call's [`Ending`] on the way out.

use std::future::Future;
#[cfg(not(feature = "sentry"))]
use std::marker::PhantomData;
use std::mem::ManuallyDrop;
use std::pin::Pin;
use std::task::{Context, Poll};

use pin_project_lite::pin_project;

#[cfg(store)]
mod metrics;

#[cfg(any_backend)]
use crate::site::Ending;
use crate::site::{Outcome, Site};

impl Site {
    /// A call of a free function (or of a method whose name was given explicitly) begins.
    #[inline(always)]
    pub fn start(&'static self) -> Call {
        self.begin(None)
    }

    /// A call of a method begins; `type_name` names `Self` for the default `Type::method` name.
    #[inline(always)]
    pub fn start_method(&'static self, type_name: fn() -> &'static str) -> Call {
        self.begin(Some(type_name))
    }

    #[inline(always)]
    #[cfg_attr(not(any_backend), allow(unused_variables, clippy::unused_self))]
    fn begin(&'static self, type_name: Option<fn() -> &'static str>) -> Call {
        Call {
            #[cfg(store)]
            active: ManuallyDrop::new(metrics::Active::start(self, type_name)),
            #[cfg(feature = "sentry")]
            sentry: ManuallyDrop::new(
                crate::sentry_backend::CallScope::start(self, type_name).map(Box::new),
            ),
        }
    }
}

/// One call in progress. [`Call::finish`] records how it ended; dropped without it, the call
/// panicked (when the thread is panicking) or was cancelled (its future was dropped).
#[must_use = "a call is recorded when it is finished or dropped"]
#[derive(Debug)]
pub struct Call {
    // `ManuallyDrop` so that `finish` and `drop` each move them out exactly once, without the
    // cost of an `Option::take` on the hot path.
    #[cfg(store)]
    active: ManuallyDrop<metrics::Active>,
    // Boxed: a call with no Sentry scope (a request counter, a query outside a sampled call,
    // any call without a DSN) then carries 8 bytes here, not the scope's 80. Every annotated
    // `async fn` holds its call in its future, and those nest (an axum handler's future, with
    // the calls of the queries it awaits, is boxed for each request).
    #[cfg(feature = "sentry")]
    sentry: ManuallyDrop<Option<Box<crate::sentry_backend::CallScope>>>,
}

impl Call {
    /// Runs the body of an `async fn` (or the future an `#[async_trait]` method returns). The
    /// wrapper lets a backend make the call's context current at every poll, on whichever
    /// thread polls it; with none that needs it, it only polls `future`.
    #[inline(always)]
    pub fn bind<F: Future>(&self, future: F) -> Bound<'_, F> {
        Bound {
            #[cfg(feature = "sentry")]
            call: self,
            #[cfg(not(feature = "sentry"))]
            call: PhantomData,
            future,
        }
    }

    /// Runs the body of a plain `fn`, as a closure so that `return` and `?` in it keep their
    /// meaning.
    #[inline(always)]
    pub fn in_scope<R>(&self, body: impl FnOnce() -> R) -> R {
        let _entered = self.enter();
        body()
    }

    /// Makes the call's context current until the guard is dropped.
    #[inline(always)]
    pub fn enter(&self) -> Entered {
        Entered {
            #[cfg(feature = "sentry")]
            _sentry: self
                .sentry
                .as_deref()
                .map(crate::sentry_backend::CallScope::enter),
        }
    }

    /// For a body that runs inline (a `#[track_caller]` fn): a `?` that leaves the function
    /// drops the guard without [`Inline::finish`], and the call then ends with `early_exit`,
    /// the outcome its declared return type implies.
    #[inline(always)]
    pub fn inline(self, early_exit: Outcome<'static>) -> Inline {
        Inline {
            call: ManuallyDrop::new(self),
            early_exit,
        }
    }

    /// `#[monitor_api_endpoint(fields(name))]`: records an argument's `Debug` form in the
    /// call's Sentry context `arguments`. The `Debug` bound holds with every feature set, so
    /// turning `sentry` on never breaks a build.
    #[inline]
    #[cfg_attr(not(feature = "sentry"), allow(unused_variables, clippy::unused_self))]
    pub fn field(&self, name: &'static str, value: &dyn core::fmt::Debug) {
        #[cfg(feature = "sentry")]
        if let Some(scope) = self.sentry.as_deref() {
            scope.record_argument(name, value);
        }
    }

    /// The call returned `outcome`.
    #[inline(always)]
    #[cfg_attr(not(any_backend), allow(unused_variables))]
    pub fn finish(self, outcome: Outcome<'_>) {
        #[cfg(any_backend)]
        ManuallyDrop::new(self).end(&Ending::returned(outcome));
    }

    /// Hands the ending to every backend. Called once: by `finish` (whose `self` is then
    /// never dropped) or by `drop`.
    #[cfg(any_backend)]
    #[inline(always)]
    fn end(&mut self, ending: &Ending<'_>) {
        // SAFETY: `end` runs once per call (see above), so each field is taken exactly once.
        #[cfg(feature = "sentry")]
        if let Some(scope) = unsafe { ManuallyDrop::take(&mut self.sentry) } {
            (*scope).end_call(ending);
        }
        // SAFETY: as above.
        #[cfg(store)]
        unsafe { ManuallyDrop::take(&mut self.active) }.end(ending);
    }
}

#[cfg(any_backend)]
impl Drop for Call {
    #[inline]
    fn drop(&mut self) {
        self.end(&Ending::abandoned());
    }
}

/// The call's context made current, by [`Call::enter`]; restored when dropped.
#[derive(Debug)]
#[must_use = "the context is current only while the guard lives"]
pub struct Entered {
    #[cfg(feature = "sentry")]
    _sentry: Option<crate::sentry_backend::call::Entered>,
}

/// A call whose body runs inline, made by [`Call::inline`].
#[must_use = "a call is recorded when it is finished or dropped"]
#[derive(Debug)]
pub struct Inline {
    call: ManuallyDrop<Call>,
    early_exit: Outcome<'static>,
}

impl Inline {
    /// Makes the call's context current until the guard is dropped.
    #[inline(always)]
    pub fn enter(&self) -> Entered {
        self.call.enter()
    }

    /// The body returned `outcome`.
    #[inline(always)]
    pub fn finish(self, outcome: Outcome<'_>) {
        let mut this = ManuallyDrop::new(self);
        // SAFETY: `this` is never dropped, so the call is taken exactly once, here.
        unsafe { ManuallyDrop::take(&mut this.call) }.finish(outcome);
    }
}

impl Drop for Inline {
    #[inline]
    fn drop(&mut self) {
        // SAFETY: `drop` runs at most once and `finish` never lets it run after taking it.
        let call = unsafe { ManuallyDrop::take(&mut self.call) };
        if std::thread::panicking() {
            drop(call);
        } else {
            call.finish(self.early_exit);
        }
    }
}

/// What a [`Bound`] future holds of its call: the call itself where a backend enters it at
/// each poll (Sentry), nothing otherwise.
#[cfg(feature = "sentry")]
type CallRef<'a> = &'a Call;
#[cfg(not(feature = "sentry"))]
type CallRef<'a> = PhantomData<&'a Call>;

pin_project! {
    /// The body of an annotated `async fn`, made by [`Call::bind`].
    #[must_use = "futures do nothing unless polled"]
    #[derive(Debug)]
    pub struct Bound<'a, F> {
        call: CallRef<'a>,
        #[pin]
        future: F,
    }
}

impl<F: Future> Future for Bound<'_, F> {
    type Output = F::Output;

    #[inline(always)]
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let this = self.project();
        #[cfg(feature = "sentry")]
        let _entered = this.call.enter();
        this.future.poll(cx)
    }
}

#[cfg(all(test, feature = "sentry", store))]
mod tests {
    /// Every annotated `async fn` holds its call in its future, and those nest (a handler's
    /// future holds the calls of the queries it awaits, and axum boxes it for each request):
    /// a call without a Sentry scope must not carry the scope's room.
    #[test]
    fn a_call_carries_a_sentry_scope_only_by_pointer() {
        assert_eq!(
            size_of::<super::Call>(),
            size_of::<super::metrics::Active>() + size_of::<usize>()
        );
        assert!(size_of::<super::Call>() <= 64);
    }
}
