//! Which telemetry a call made here and now belongs to: the one entered on this thread (a
//! test-local instance, see `Telemetry::enter`/`scope`), else the installed one.

use std::cell::Cell;
use std::sync::{Arc, OnceLock};

/// The backends of one `Telemetry`.
#[derive(Debug)]
pub(crate) struct Backends {
    #[cfg(any(feature = "otel", feature = "redis"))]
    pub(crate) recorder: Arc<crate::record::Recorder>,
    /// `None` when no DSN is configured.
    #[cfg(feature = "sentry")]
    pub(crate) sentry: Option<Arc<crate::sentry::SentryBackend>>,
    /// `None` when no Redis URL is configured.
    #[cfg(feature = "redis")]
    pub(crate) redis: Option<Arc<crate::redis::RedisBackend>>,
}

static GLOBAL: OnceLock<Arc<Backends>> = OnceLock::new();

thread_local! {
    /// The backends of the innermost `Telemetry::enter`/`scope` on this thread, or null.
    static LOCAL: Cell<*const Backends> = const { Cell::new(std::ptr::null()) };
}

/// The installed instance's backends.
#[inline(always)]
pub(crate) fn global() -> Option<&'static Arc<Backends>> {
    GLOBAL.get()
}

pub(crate) fn set_global(backends: Arc<Backends>) -> Result<(), Arc<Backends>> {
    GLOBAL.set(backends)
}

/// Runs `f` with the backends entered on this thread, if any. Costs one thread-local read when
/// there are none (the production case).
#[inline(always)]
pub(crate) fn with_local<R>(f: impl FnOnce(&Backends) -> R) -> Option<R> {
    let ptr = LOCAL.with(Cell::get);
    // SAFETY: a non-null pointer was set by `LocalGuard::enter` from `Arc::as_ptr`, and that
    // guard holds the `Arc` until it restores the previous pointer; guards are not `Send` and
    // are dropped in reverse order on this thread, so the pointee outlives this call.
    unsafe { ptr.as_ref() }.map(f)
}

/// The backends entered on this thread, as an owned handle.
pub(crate) fn local_arc() -> Option<Arc<Backends>> {
    with_local(|backends| {
        // SAFETY: see `with_local`; the pointer came from `Arc::as_ptr` of a live `Arc`.
        unsafe {
            let ptr = std::ptr::from_ref(backends);
            Arc::increment_strong_count(ptr);
            Arc::from_raw(ptr)
        }
    })
}

/// Makes `backends` current on this thread until dropped.
pub(crate) struct LocalGuard {
    previous: *const Backends,
    _backends: Arc<Backends>,
}

impl LocalGuard {
    pub(crate) fn enter(backends: Arc<Backends>) -> LocalGuard {
        let previous = LOCAL.with(|cell| cell.replace(Arc::as_ptr(&backends)));
        LocalGuard {
            previous,
            _backends: backends,
        }
    }
}

impl Drop for LocalGuard {
    fn drop(&mut self) {
        LOCAL.with(|cell| cell.set(self.previous));
    }
}
