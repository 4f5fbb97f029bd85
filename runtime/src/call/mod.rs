//! The guard of one call: started by the site's `start`, it hands the call to every backend
//! on the way in and the call's [`Ending`] on the way out.

use std::future::Future;
use std::mem::ManuallyDrop;
use std::pin::Pin;
use std::task::{Context, Poll};

use pin_project_lite::pin_project;

// What the store counts for a call, and its Sentry scope; each a twin that holds and does
// nothing without its feature. The only places this module names a feature.
#[cfg_attr(store, path = "metrics.rs")]
#[cfg_attr(not(store), path = "no_metrics.rs")]
mod metrics;
#[cfg_attr(feature = "sentry", path = "sentry.rs")]
#[cfg_attr(not(feature = "sentry"), path = "no_sentry.rs")]
mod sentry;

use crate::site::{Ending, Outcome, Site};

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
    fn begin(&'static self, type_name: Option<fn() -> &'static str>) -> Call {
        Call {
            active: ManuallyDrop::new(metrics::Active::start(self, type_name)),
            sentry: ManuallyDrop::new(sentry::Scope::start(self, type_name)),
        }
    }
}

/// One call in progress. [`Call::finish`] records how it ended; dropped without it, the call
/// panicked (when the thread is panicking) or was cancelled (its future was dropped).
#[must_use = "a call is recorded when it is finished or dropped"]
#[derive(Debug)]
pub struct Call {
    // `ManuallyDrop` so that `finish` and `drop` each move them out exactly once, without the
    // cost of an `Option::take` on the hot path. Each is zero-sized without its feature.
    active: ManuallyDrop<metrics::Active>,
    sentry: ManuallyDrop<sentry::Scope>,
}

impl Call {
    /// Runs the body of an `async fn` (or the future an `#[async_trait]` method returns). The
    /// wrapper lets a backend make the call's context current at every poll, on whichever
    /// thread polls it; with none that needs it, it only polls `future`.
    #[inline(always)]
    pub fn bind<F: Future>(&self, future: F) -> Bound<'_, F> {
        Bound {
            call: sentry::call_ref(self),
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
            _sentry: self.sentry.enter(),
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
    pub fn field(&self, name: &'static str, value: &dyn core::fmt::Debug) {
        self.sentry.field(name, value);
    }

    /// The call returned `outcome`.
    #[inline(always)]
    pub fn finish(self, outcome: Outcome<'_>) {
        ManuallyDrop::new(self).end(&Ending::returned(outcome));
    }

    /// Hands the ending to every backend. Called once: by `finish` (whose `self` is then
    /// never dropped) or by `drop`.
    #[inline(always)]
    fn end(&mut self, ending: &Ending<'_>) {
        // SAFETY: `end` runs once per call (see above), so each field is taken exactly once.
        unsafe { ManuallyDrop::take(&mut self.sentry) }.end(ending);
        // SAFETY: as above.
        unsafe { ManuallyDrop::take(&mut self.active) }.end(ending);
    }
}

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
    _sentry: sentry::Entered,
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
type CallRef<'a> = sentry::CallRef<'a>;

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
        let _entered = sentry::enter_for_poll(this.call);
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
