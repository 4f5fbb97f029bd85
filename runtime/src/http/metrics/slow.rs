//! The Sentry warning for slow requests: one per route and minute at most.

use std::sync::atomic::Ordering::Relaxed;

use super::routes::{Entry, Shared};

/// At most one warning per route and method in this many seconds.
const INTERVAL_SECONDS: u64 = 60;

/// Reports a request of `entry` that took `nanos`, unless this route reported one less than
/// a minute ago.
#[cold]
#[inline(never)]
pub(super) fn report(entry: &Entry, shared: &Shared, nanos: u64) {
    let now = shared.began.elapsed().as_secs() + 1;
    let last = entry.slow_reported.load(Relaxed);
    if last != 0 && now < last + INTERVAL_SECONDS {
        return;
    }
    if entry
        .slow_reported
        .compare_exchange(last, now, Relaxed, Relaxed)
        .is_err()
    {
        return; // another request of this route reports it
    }
    let _local =
        (!shared.global).then(|| crate::context::LocalGuard::enter(shared.context.clone()));
    #[allow(clippy::cast_precision_loss)] // milliseconds of a request fit
    let millis = nanos as f64 / 1e6;
    let threshold = shared.slow_nanos / 1_000_000;
    let served = &entry.served;
    crate::sentry_backend::capture_message_event(
        &format!(
            "slow request: {} took {millis:.0} ms (threshold {threshold} ms)",
            served.name
        ),
        sentry::Level::Warning,
        &[
            ("route", served.route.into()),
            ("method", served.method.into()),
            ("duration_ms", millis.into()),
            ("threshold_ms", threshold.into()),
        ],
    );
}
