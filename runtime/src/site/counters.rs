//! The counters every call site carries in its `static` (the process-wide record), and the
//! list of the sites called so far. Written on the hot path with relaxed atomics only.

use std::sync::atomic::{
    AtomicPtr, AtomicU64, AtomicU8,
    Ordering::{AcqRel, Acquire, Relaxed, Release},
};

use super::bounds::{Bounds, MAX_BOUNDS};
use super::{Site, Status};

const BUCKETS: usize = MAX_BOUNDS + 1;

/// Counters of one timed series (a call site, or one run-time label set).
///
/// Each status has its own bucket row, so one `fetch_add` on a bucket counts the call, its
/// status and its histogram bucket at once.
#[derive(Debug)]
pub(crate) struct TimedState {
    started: AtomicU64,
    buckets: [[AtomicU64; BUCKETS]; 4],
    sum_nanos: [AtomicU64; 4],
}

/// What the exporter reads of a [`TimedState`].
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct TimedSnapshot {
    /// Calls that ended, by [`Status::index`].
    pub(crate) by_status: [u64; 4],
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
            started: AtomicU64::new(0),
            buckets: [const { [const { AtomicU64::new(0) }; BUCKETS] }; 4],
            sum_nanos: [const { AtomicU64::new(0) }; 4],
        }
    }

    #[inline(always)]
    pub(crate) fn begin(&self) {
        self.started.fetch_add(1, Relaxed);
    }

    #[inline(always)]
    pub(crate) fn end(&self, status: Status, bucket: usize, nanos: u64) {
        self.buckets[status.index()][bucket].fetch_add(1, Relaxed);
        self.sum_nanos[status.index()].fetch_add(nanos, Relaxed);
    }

    /// A whole call recorded at once (the run-time API, which is given a duration).
    pub(crate) fn record(&self, status: Status, bucket: usize, nanos: u64) {
        self.begin();
        self.end(status, bucket, nanos);
    }

    /// Reads every counter. Ends are read before starts, so `in_flight` is never negative.
    pub(crate) fn snapshot(&self, bounds: &Bounds) -> TimedSnapshot {
        let used = bounds.nanos.len() + 1;
        let mut snap = TimedSnapshot {
            buckets: vec![0; used],
            ..TimedSnapshot::default()
        };
        for status in Status::ALL {
            let row = &self.buckets[status.index()];
            for (i, cell) in row.iter().enumerate() {
                let n = cell.load(Relaxed);
                snap.by_status[status.index()] += n;
                // Counts recorded under longer bounds than now configured land in `+Inf`.
                snap.buckets[i.min(used - 1)] += n;
            }
            snap.sum_nanos += self.sum_nanos[status.index()].load(Relaxed);
        }
        let ended = snap.count();
        snap.in_flight = self.started.load(Relaxed).saturating_sub(ended);
        snap
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
