//! This instance's own recent windows, without Redis: a ring of the deltas between periodic
//! snapshots of the store.
//!
//! Nothing happens on the hot path, and nothing at all until someone reads: the first read
//! starts a sampler thread that takes a snapshot every [`SAMPLE_EVERY`] and keeps what changed
//! since the previous one, for [`KEEP`]. A read adds up the deltas of the samples its window
//! reaches plus what changed since the newest sample, so it is exact at the time of the read
//! and its window starts on a sample. Only changed series are kept, so the memory follows
//! what the service does, bounded by its series times the samples kept.

use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Mutex, Once, PoisonError, Weak};
use std::time::{Duration, Instant};

use super::{CallStats, Harvester, RealtimeSnapshot, SeriesKey, Values};
use crate::record::{Bounds, Recorder, Snapshot};
use crate::site::Status;

/// How often the sampler reads the store: the granularity of a window's start.
pub(crate) const SAMPLE_EVERY: Duration = Duration::from_secs(5);
/// How far back samples are kept: the longest window answered in full.
pub(crate) const KEEP: Duration = Duration::from_secs(5 * 60);

/// The windowed view of one `Telemetry`'s recorder.
pub(crate) struct LocalStats {
    recorder: Arc<Recorder>,
    ring: Mutex<Ring>,
    sampler: Once,
}

impl std::fmt::Debug for LocalStats {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LocalStats").finish_non_exhaustive()
    }
}

impl LocalStats {
    /// Takes the first sample now (one snapshot, at start-up), so the first read already has
    /// a baseline; the sampler waits for a read.
    pub(crate) fn new(recorder: Arc<Recorder>) -> Arc<LocalStats> {
        let ring = Ring::new(Instant::now(), &recorder.snapshot(), KEEP);
        Arc::new(LocalStats {
            recorder,
            ring: Mutex::new(ring),
            sampler: Once::new(),
        })
    }

    /// What this instance recorded over about the last `window` (see [`Ring::window`]).
    pub(crate) fn window(self: &Arc<Self>, window: Duration) -> RealtimeSnapshot {
        self.start_sampler();
        let snapshot = self.recorder.snapshot();
        let ring = self.ring.lock().unwrap_or_else(PoisonError::into_inner);
        ring.window(Instant::now(), &snapshot, window)
    }

    /// A thread of its own (it works without any async runtime); it holds the stats weakly
    /// and stops once the `Telemetry` is gone.
    fn start_sampler(self: &Arc<Self>) {
        self.sampler.call_once(|| {
            let stats: Weak<LocalStats> = Arc::downgrade(self);
            let spawned = std::thread::Builder::new()
                .name("kansoku-local-stats".into())
                .spawn(move || loop {
                    std::thread::sleep(SAMPLE_EVERY);
                    let Some(stats) = stats.upgrade() else { return };
                    stats.sample();
                });
            if let Err(error) = spawned {
                tracing::warn!(%error, "kansoku: cannot start the local statistics sampler; windows will start at start-up");
            }
        });
    }

    fn sample(&self) {
        let snapshot = self.recorder.snapshot();
        let mut ring = self.ring.lock().unwrap_or_else(PoisonError::into_inner);
        ring.sample(Instant::now(), &snapshot);
    }
}

/// What changed up to `at`, since the previous slot (or the ring's start).
#[derive(Debug)]
struct Slot {
    at: Instant,
    deltas: Vec<(SeriesKey, Values)>,
}

/// The samples kept, oldest first.
#[derive(Debug)]
struct Ring {
    /// The cumulative values as of the newest sample.
    harvester: Harvester,
    /// Where the oldest slot's deltas start.
    start: Instant,
    slots: VecDeque<Slot>,
    keep: Duration,
}

impl Ring {
    fn new(at: Instant, baseline: &Snapshot, keep: Duration) -> Ring {
        let mut harvester = Harvester::default();
        harvester.harvest(baseline);
        Ring {
            harvester,
            start: at,
            slots: VecDeque::new(),
            keep,
        }
    }

    /// Keeps what changed since the newest sample, and forgets the slots no window of up to
    /// `keep` can reach any more.
    fn sample(&mut self, at: Instant, snapshot: &Snapshot) {
        let deltas = self.harvester.harvest(snapshot);
        self.slots.push_back(Slot { at, deltas });
        let Some(oldest_needed) = at.checked_sub(self.keep) else {
            return;
        };
        while self.slots.front().is_some_and(|s| s.at <= oldest_needed) {
            if let Some(slot) = self.slots.pop_front() {
                self.start = slot.at;
            }
        }
    }

    /// What was recorded from the latest sample at or before `now - window` until `now`
    /// (`current` being the store read at `now`). With a shorter history, from the oldest
    /// sample kept. The answer's `window` is the span really covered.
    fn window(&self, now: Instant, current: &Snapshot, window: Duration) -> RealtimeSnapshot {
        let target = now.checked_sub(window);
        // The slots after the chosen boundary; the boundaries are `start` and each slot's `at`.
        let mut from = self.start;
        let mut first = 0;
        for (i, slot) in self.slots.iter().enumerate() {
            if target.is_some_and(|t| slot.at <= t) {
                from = slot.at;
                first = i + 1;
            }
        }
        let mut totals: BTreeMap<SeriesKey, Values> = BTreeMap::new();
        let recent = self.slots.iter().skip(first).flat_map(|s| s.deltas.iter());
        for (key, delta) in recent.chain(self.harvester.peek(current).iter()) {
            let total = totals.entry(key.clone()).or_default();
            if total.len() < delta.len() {
                total.resize(delta.len(), 0);
            }
            for (t, d) in total.iter_mut().zip(delta) {
                *t += d;
            }
        }
        assemble(now.saturating_duration_since(from), totals, current)
    }
}

fn assemble(
    covered: Duration,
    totals: BTreeMap<SeriesKey, Values>,
    current: &Snapshot,
) -> RealtimeSnapshot {
    let mut snapshot = RealtimeSnapshot {
        window: covered,
        ..RealtimeSnapshot::default()
    };
    for (key, values) in totals {
        match key {
            SeriesKey::Api(endpoint, method) => {
                let stats = call_stats(&values, current.api_bounds, covered);
                snapshot.endpoints.insert((endpoint, method), stats);
            }
            SeriesKey::Db(operation, table) => {
                let stats = call_stats(&values, current.db_bounds, covered);
                snapshot.queries.insert((operation, table), stats);
            }
            SeriesKey::Error(endpoint, kind) => {
                snapshot.errors.insert((endpoint, kind), values[0]);
            }
            SeriesKey::Counter(series) => {
                snapshot.counters.insert(series, values[0]);
            }
            // (a route's `Http` key sorts before its `HttpClass` one)
            SeriesKey::Http(route, method) => {
                let stats = call_stats(&values, current.api_bounds, covered);
                snapshot.routes.insert((route, method), stats);
            }
            SeriesKey::HttpClass(route, method) => {
                let stats = snapshot.routes.entry((route, method)).or_default();
                for (class, n) in stats.by_class.iter_mut().zip(&values) {
                    *class = *n;
                }
            }
        }
    }
    snapshot
}

/// A timed series' delta (`[ok, error, panic, cancelled, bucket 0 … +Inf, sum_nanos]`) as
/// statistics; every bucket is listed, empty ones too.
fn call_stats(values: &[u64], bounds: &Bounds, window: Duration) -> CallStats {
    let mut stats = CallStats::default();
    let (by_status, rest) = values.split_at(Status::COUNT.min(values.len()));
    stats.by_status.copy_from_slice(by_status);
    if let Some((sum, buckets)) = rest.split_last() {
        stats.sum_nanos = *sum;
        let upper = bounds.seconds.iter().copied().chain([f64::INFINITY]);
        stats.buckets = upper.zip(buckets.iter().copied()).collect();
    }
    stats.finish(window);
    stats
}

#[cfg(test)]
// Each expected ratio is the same one division the code makes, so equal bit for bit.
#[allow(clippy::float_cmp)]
mod tests {
    use super::*;
    use crate::record::{FamilyValues, Snapshot, TimedSnapshot};

    fn bounds() -> &'static Bounds {
        static BOUNDS: std::sync::OnceLock<&'static Bounds> = std::sync::OnceLock::new();
        BOUNDS.get_or_init(|| Bounds::new(&[0.01, 0.1]).unwrap().leak())
    }

    /// The store with one request series (buckets: 10 ms, 100 ms, +Inf) and one counter.
    fn store(by_status: [u64; 4], buckets: [u64; 3], sum_ms: u64, counter: u64) -> Snapshot {
        let timed = TimedSnapshot {
            by_status,
            buckets: buckets.to_vec(),
            sum_nanos: sum_ms * 1_000_000,
            in_flight: 0,
        };
        Snapshot {
            api: [(("/shops".to_owned(), "GET".to_owned()), timed)].into(),
            db: BTreeMap::new(),
            http: Vec::new(),
            api_bounds: bounds(),
            db_bounds: bounds(),
            errors: vec![(("/shops".to_owned(), "panic".to_owned()), by_status[2])],
            families: vec![crate::record::FamilySnapshot {
                name: "sold_total",
                help: "Sold.",
                label_names: &["by"],
                values: FamilyValues::Counter(vec![(vec!["web".into()], counter)]),
                overflowed: 0,
            }],
            pool: None,
            overflow: crate::record::Overflow::default(),
        }
    }

    fn shops(snapshot: &RealtimeSnapshot) -> &CallStats {
        &snapshot.endpoints[&("/shops".to_owned(), "GET".to_owned())]
    }

    const S: fn(u64) -> Duration = Duration::from_secs;

    /// Samples at t0 (start-up), t0+5 s and t0+10 s; the store is read at t0+12 s.
    fn history(t0: Instant) -> (Ring, Snapshot) {
        let mut ring = Ring::new(t0, &store([1, 0, 0, 0], [1, 0, 0], 5, 1), KEEP);
        ring.sample(t0 + S(5), &store([3, 1, 0, 0], [3, 1, 0], 65, 2));
        ring.sample(t0 + S(10), &store([5, 1, 0, 0], [5, 1, 0], 75, 2));
        (ring, store([5, 1, 1, 0], [5, 1, 1], 1075, 4))
    }

    #[test]
    fn a_window_adds_the_samples_it_reaches_and_what_changed_since() {
        let t0 = Instant::now();
        let (ring, now) = history(t0);
        // t0+12 s - 5 s = t0+7 s: the window starts on the sample of t0+5 s
        let window = ring.window(t0 + S(12), &now, S(5));
        assert_eq!(window.window, S(7));
        let stats = shops(&window);
        assert_eq!(stats.by_status, [2, 0, 1, 0]);
        assert_eq!(stats.requests, 3);
        assert_eq!(stats.errors, 1);
        assert_eq!(stats.error_ratio, 1.0 / 3.0);
        assert_eq!(stats.rate, 3.0 / 7.0);
        assert_eq!(stats.mean, Some(Duration::from_nanos(1_010_000_000 / 3)));
        assert_eq!(
            stats.buckets,
            [(0.01, 2), (0.1, 0), (f64::INFINITY, 1)],
            "every bucket, empty ones too"
        );
        // rank 1.5 of 3: three quarters into the first bucket
        assert_eq!(stats.p50, Some(Duration::from_secs_f64(0.0075)));
        // in the +Inf bucket: the largest finite bound
        assert_eq!(stats.p99, Some(Duration::from_millis(100)));
        assert_eq!(window.errors[&("/shops".to_owned(), "panic".to_owned())], 1);
        assert_eq!(window.counters[r#"sold_total{by="web"}"#], 2);
    }

    #[test]
    fn a_window_longer_than_the_history_starts_at_the_oldest_sample() {
        let t0 = Instant::now();
        let (ring, now) = history(t0);
        let window = ring.window(t0 + S(12), &now, S(60));
        assert_eq!(window.window, S(12));
        let stats = shops(&window);
        assert_eq!(stats.by_status, [4, 1, 1, 0]);
        assert_eq!(stats.rate, 0.5);
        assert_eq!(stats.buckets, [(0.01, 4), (0.1, 1), (f64::INFINITY, 1)]);
        assert_eq!(stats.mean, Some(Duration::from_nanos(1_070_000_000 / 6)));
        assert_eq!(window.counters[r#"sold_total{by="web"}"#], 3);
    }

    #[test]
    fn a_quiet_window_is_empty() {
        let t0 = Instant::now();
        let mut ring = Ring::new(t0, &store([5, 1, 0, 0], [5, 1, 0], 75, 2), KEEP);
        ring.sample(t0 + S(5), &store([5, 1, 0, 0], [5, 1, 0], 75, 2));
        let window = ring.window(t0 + S(7), &store([5, 1, 0, 0], [5, 1, 0], 75, 2), S(60));
        assert_eq!(
            window,
            RealtimeSnapshot {
                window: S(7),
                ..RealtimeSnapshot::default()
            }
        );
    }

    #[test]
    fn samples_older_than_the_longest_window_are_forgotten() {
        let t0 = Instant::now();
        let mut ring = Ring::new(t0, &store([0; 4], [0; 3], 0, 0), S(10));
        for (i, ok) in [1, 3, 6, 10].into_iter().enumerate() {
            let at = t0 + S(5 * (i as u64 + 1));
            ring.sample(at, &store([ok, 0, 0, 0], [ok, 0, 0], ok, 0));
        }
        // at t0+20 s only what a 10 s window needs is kept: the slots of t0+15 s and t0+20 s
        assert_eq!(ring.slots.len(), 2);
        assert_eq!(ring.start, t0 + S(10));
        let window = ring.window(t0 + S(20), &store([10, 0, 0, 0], [10, 0, 0], 10, 0), S(60));
        assert_eq!(window.window, S(10));
        assert_eq!(shops(&window).by_status, [7, 0, 0, 0]);
        let window = ring.window(t0 + S(20), &store([10, 0, 0, 0], [10, 0, 0], 10, 0), S(10));
        assert_eq!(window.window, S(10));
        assert_eq!(shops(&window).by_status, [7, 0, 0, 0]);
    }
}
