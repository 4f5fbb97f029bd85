//! Which telemetry a call made here and now belongs to: the one entered on this thread (a
//! test-local instance, see `Telemetry::enter`/`scope`), else the installed one.
//!
//! A [`Context`] is what one telemetry instance is to the layers below the handle: its store
//! and its running backends. The store is named here (it is below); the backends only through
//! the [`Backend`] trait, so that this module never imports one.

// With no backend on, nothing looks the current telemetry up.
#![cfg_attr(not(any_backend), allow(dead_code))]

use std::cell::Cell;
use std::sync::{Arc, OnceLock};

use crate::backend::Backend;
#[cfg(store)]
use crate::record::Recorder;

/// The store and the backends of one telemetry instance.
#[derive(Debug)]
pub(crate) struct Context {
    #[cfg(store)]
    pub(crate) recorder: Arc<Recorder>,
    /// In the order they started.
    pub(crate) backends: Vec<Arc<dyn Backend>>,
}

// Each backend looks itself up one way or the other; with fewer on, one may be unused.
#[cfg_attr(not(all(feature = "sentry", feature = "redis")), allow(dead_code))]
impl Context {
    /// This instance's backend of type `B`, if it runs.
    pub(crate) fn backend<B: Backend>(&self) -> Option<&B> {
        self.backends
            .iter()
            .find_map(|backend| (&**backend as &dyn std::any::Any).downcast_ref::<B>())
    }

    /// As [`Context::backend`], as an owned handle.
    pub(crate) fn backend_arc<B: Backend>(&self) -> Option<Arc<B>> {
        self.backends.iter().find_map(|backend| {
            let any: Arc<dyn std::any::Any + Send + Sync> = backend.clone();
            any.downcast::<B>().ok()
        })
    }
}

static GLOBAL: OnceLock<Arc<Context>> = OnceLock::new();

thread_local! {
    /// The context of the innermost `Telemetry::enter`/`scope` on this thread, or null.
    static LOCAL: Cell<*const Context> = const { Cell::new(std::ptr::null()) };
}

/// The installed instance's context.
#[inline(always)]
pub(crate) fn global() -> Option<&'static Arc<Context>> {
    GLOBAL.get()
}

pub(crate) fn set_global(context: Arc<Context>) -> Result<(), Arc<Context>> {
    GLOBAL.set(context)
}

/// Runs `f` with the context entered on this thread, if any. Costs one thread-local read when
/// there is none (the production case).
#[inline(always)]
pub(crate) fn with_local<R>(f: impl FnOnce(&Context) -> R) -> Option<R> {
    let ptr = LOCAL.with(Cell::get);
    // SAFETY: a non-null pointer was set by `LocalGuard::enter` from `Arc::as_ptr`, and that
    // guard holds the `Arc` until it restores the previous pointer; guards are not `Send` and
    // are dropped in reverse order on this thread, so the pointee outlives this call.
    unsafe { ptr.as_ref() }.map(f)
}

/// The context entered on this thread, as an owned handle.
pub(crate) fn local_arc() -> Option<Arc<Context>> {
    with_local(|context| {
        // SAFETY: see `with_local`; the pointer came from `Arc::as_ptr` of a live `Arc`.
        unsafe {
            let ptr = std::ptr::from_ref(context);
            Arc::increment_strong_count(ptr);
            Arc::from_raw(ptr)
        }
    })
}

/// The installed instance's recorder.
#[cfg(store)]
#[inline(always)]
pub(crate) fn global_recorder() -> Option<&'static Arc<Recorder>> {
    global().map(|context| &context.recorder)
}

/// The recorder entered on this thread (a test-local instance), if any.
#[cfg(store)]
#[inline(always)]
pub(crate) fn local_recorder() -> Option<Arc<Recorder>> {
    with_local(|context| context.recorder.clone())
}

/// Runs `f` with the recorder a call made here and now records into, without touching its
/// reference count (which every thread would otherwise share).
#[cfg(store)]
#[inline]
pub(crate) fn with_recorder<R>(f: impl FnOnce(&Recorder) -> R) -> Option<R> {
    match with_local(|context| std::ptr::from_ref(&*context.recorder)) {
        // SAFETY: `with_local`'s pointee lives while this thread's `LocalGuard` does, which
        // outlives this call (guards are dropped on this thread, in order, after it returns).
        Some(local) => Some(f(unsafe { &*local })),
        None => global_recorder().map(|recorder| f(recorder)),
    }
}

/// Makes a context current on this thread until dropped.
pub(crate) struct LocalGuard {
    previous: *const Context,
    _context: Arc<Context>,
}

impl LocalGuard {
    pub(crate) fn enter(context: Arc<Context>) -> LocalGuard {
        let previous = LOCAL.with(|cell| cell.replace(Arc::as_ptr(&context)));
        LocalGuard {
            previous,
            _context: context,
        }
    }
}

impl Drop for LocalGuard {
    fn drop(&mut self) {
        LOCAL.with(|cell| cell.set(self.previous));
    }
}
