//! The counters every call site carries in its `static` (the process-wide record), and the
//! list of the sites called so far. Written on the hot path with relaxed atomics only.

use std::sync::atomic::{
    AtomicPtr, AtomicU8,
    Ordering::{AcqRel, Acquire, Relaxed, Release},
};

use super::bounds::Bounds;
use super::stripes::Stripes;
use super::{Site, Status};

/// Counters of one timed series (a call site, or one run-time label set), striped over cache
/// lines once two threads write them at the same time (see `stripes.rs`), so a hot series
/// costs per call about the same from many cores as from one.
#[derive(Debug)]
pub(crate) struct TimedState {
    stripes: Stripes,
}

/// What the exporter reads of a [`TimedState`].
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct TimedSnapshot {
    /// Calls that ended, by [`Status::index`].
    pub(crate) by_status: [u64; Status::COUNT],
    /// Non-cumulative bucket counts over every status; the last is `+Inf`.
    pub(crate) buckets: Vec<u64>,
    pub(crate) sum_nanos: u64,
    /// Calls started and not yet ended.
    pub(crate) in_flight: u64,
}

impl TimedSnapshot {
    pub(crate) fn count(&self) -> u64 {
        self.by_status.iter().sum()
    }

    pub(crate) fn merge(&mut self, other: &TimedSnapshot) {
        for (a, b) in self.by_status.iter_mut().zip(other.by_status) {
            *a += b;
        }
        if self.buckets.len() < other.buckets.len() {
            self.buckets.resize(other.buckets.len(), 0);
        }
        for (a, b) in self.buckets.iter_mut().zip(&other.buckets) {
            *a += b;
        }
        self.sum_nanos += other.sum_nanos;
        self.in_flight += other.in_flight;
    }
}

impl TimedState {
    pub(crate) const fn new() -> TimedState {
        TimedState {
            stripes: Stripes::new(),
        }
    }

    #[inline(always)]
    pub(crate) fn begin(&self) {
        self.stripes.begin();
    }

    /// Counts the end in the stripe of the thread ending the call, which need not be the one
    /// that began it (a future moves between threads): only the totals over stripes matter.
    #[inline(always)]
    pub(crate) fn end(&self, status: Status, bucket: usize, nanos: u64) {
        let cells = self.stripes.mine();
        cells.buckets[status.index()][bucket].fetch_add(1, Relaxed);
        cells.sum_nanos[status.index()].fetch_add(nanos, Relaxed);
    }

    /// A whole call recorded at once (the run-time API, which is given a duration).
    pub(crate) fn record(&self, status: Status, bucket: usize, nanos: u64) {
        self.begin();
        self.end(status, bucket, nanos);
    }

    /// Reads every counter of every stripe. Every stripe's ends are read before any start, so
    /// `in_flight` is never negative.
    pub(crate) fn snapshot(&self, bounds: &Bounds) -> TimedSnapshot {
        let used = bounds.nanos.len() + 1;
        let mut snap = TimedSnapshot {
            buckets: vec![0; used],
            ..TimedSnapshot::default()
        };
        self.stripes.for_each(|cells| {
            for status in Status::ALL {
                for (i, cell) in cells.buckets[status.index()].iter().enumerate() {
                    let n = cell.load(Relaxed);
                    snap.by_status[status.index()] += n;
                    // Counts recorded under longer bounds than now configured land in `+Inf`.
                    snap.buckets[i.min(used - 1)] += n;
                }
                snap.sum_nanos += cells.sum_nanos[status.index()].load(Relaxed);
            }
        });
        let mut started = 0;
        self.stripes
            .for_each(|cells| started += cells.started.load(Relaxed));
        snap.in_flight = started.saturating_sub(snap.count());
        snap
    }

    #[cfg(test)]
    pub(crate) fn stripes(&self) -> &Stripes {
        &self.stripes
    }
}

const UNREGISTERED: u8 = 0;
const REGISTERING: u8 = 1;
const REGISTERED: u8 = 2;

/// The recording part of a [`Site`] static.
#[derive(Debug)]
pub(crate) struct SiteCounters {
    pub(crate) state: TimedState,
    registration: AtomicU8,
    next: AtomicPtr<Site>,
}

/// Every site that has been called at least once, newest first.
static SITES: AtomicPtr<Site> = AtomicPtr::new(std::ptr::null_mut());

impl SiteCounters {
    pub(crate) const fn new() -> SiteCounters {
        SiteCounters {
            state: TimedState::new(),
            registration: AtomicU8::new(UNREGISTERED),
            next: AtomicPtr::new(std::ptr::null_mut()),
        }
    }
}

impl Site {
    /// Links the site into the global list on its first call; cheap (one load) afterwards.
    #[inline(always)]
    pub(crate) fn ensure_registered(&'static self, type_name: Option<fn() -> &'static str>) {
        if self.counters.registration.load(Acquire) != REGISTERED {
            self.register(type_name);
        }
    }

    #[cold]
    #[inline(never)]
    fn register(&'static self, type_name: Option<fn() -> &'static str>) {
        self.resolved_name(type_name);
        if self
            .counters
            .registration
            .compare_exchange(UNREGISTERED, REGISTERING, AcqRel, Acquire)
            .is_err()
        {
            return; // another thread is linking it
        }
        let me = std::ptr::from_ref(self).cast_mut();
        let mut head = SITES.load(Acquire);
        loop {
            self.counters.next.store(head, Relaxed);
            match SITES.compare_exchange_weak(head, me, AcqRel, Acquire) {
                Ok(_) => break,
                Err(actual) => head = actual,
            }
        }
        self.counters.registration.store(REGISTERED, Release);
    }
}

/// Calls `f` with every site called at least once in this process.
pub(crate) fn for_each_global_site(mut f: impl FnMut(&'static Site)) {
    let mut ptr = SITES.load(Acquire);
    // SAFETY: only `&'static Site`s are ever linked, and links are never removed.
    while let Some(site) = unsafe { ptr.as_ref() } {
        f(site);
        ptr = site.counters.next.load(Acquire);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::site::bounds::DEFAULT_API_BOUNDS;

    fn bounds() -> Bounds {
        Bounds::new(&DEFAULT_API_BOUNDS).unwrap()
    }

    /// Many more threads than cores on one series, striped from the start: every count, bucket
    /// and sum adds up exactly, and nothing stays in flight.
    #[test]
    fn striped_series_read_out_exact_totals() {
        const THREADS: u64 = 16;
        const CALLS: u64 = 20_000;
        let bounds = bounds();
        let state = TimedState::new();
        state.stripes().force_striped();
        std::thread::scope(|s| {
            for t in 0..THREADS {
                let (state, bounds) = (&state, &bounds);
                s.spawn(move || {
                    for i in 0..CALLS {
                        let status = if (t + i) % 3 == 0 {
                            Status::Error
                        } else {
                            Status::Ok
                        };
                        let nanos = (i % 7) * 1_000_000;
                        state.begin();
                        state.end(status, bounds.index(nanos), nanos);
                    }
                });
            }
        });
        let snap = state.snapshot(&bounds);
        let total = THREADS * CALLS;
        assert_eq!(snap.count(), total);
        assert_eq!(snap.buckets.iter().sum::<u64>(), total);
        assert_eq!(snap.in_flight, 0);
        let errors = (0..THREADS)
            .map(|t| (0..CALLS).filter(|i| (t + i) % 3 == 0).count() as u64)
            .sum::<u64>();
        assert_eq!(snap.by_status[Status::Error.index()], errors);
        assert_eq!(snap.by_status[Status::Ok.index()], total - errors);
        let sum_per_thread = (0..CALLS).map(|i| (i % 7) * 1_000_000).sum::<u64>();
        assert_eq!(snap.sum_nanos, THREADS * sum_per_thread);
        let mut stripes = 0;
        state.stripes().for_each(|_| stripes += 1);
        assert!(stripes > 1, "16 threads wrote {stripes} stripe(s)");
    }

    #[test]
    fn one_thread_never_makes_a_stripe_table() {
        let bounds = bounds();
        let state = TimedState::new();
        for _ in 0..10_000 {
            state.record(Status::Ok, 0, 1);
        }
        assert!(!state.stripes().is_striped());
        assert_eq!(state.snapshot(&bounds).count(), 10_000);
    }

    /// A call begun on one thread and ended on another still leaves nothing in flight.
    #[test]
    fn a_call_may_end_on_another_stripe() {
        let bounds = bounds();
        let state = TimedState::new();
        state.stripes().force_striped();
        for _ in 0..8 {
            std::thread::scope(|s| {
                s.spawn(|| state.begin());
            });
            assert_eq!(state.snapshot(&bounds).in_flight, 1);
            state.end(Status::Ok, 0, 5);
            assert_eq!(state.snapshot(&bounds).in_flight, 0);
        }
        assert_eq!(state.snapshot(&bounds).sum_nanos, 40);
    }
}
