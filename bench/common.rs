//! Shared by `benches/overhead.rs` (kansoku with `otel`) and `nofeat/benches/nofeat.rs` (kansoku
//! with no feature): the functions under test, the floor, and the criterion settings. Every
//! function is `#[inline(never)]`, so each benchmark measures one real call of it.

#![allow(dead_code)]

use std::future::Future;
use std::hint::black_box;
use std::pin::pin;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use criterion::Criterion;

/// Short runs: the machine is shared. `KANSOKU_BENCH_SECS` overrides the measurement time.
pub fn criterion() -> Criterion {
    let secs = std::env::var("KANSOKU_BENCH_SECS")
        .ok()
        .and_then(|s| s.parse::<f64>().ok())
        .unwrap_or(2.5);
    Criterion::default()
        .sample_size(50)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs_f64(secs))
        .without_plots()
        .configure_from_args()
}

/// Polls a future once with a no-op waker; every future here is ready on its first poll.
#[inline(always)]
pub fn poll_once<F: Future>(fut: F) -> F::Output {
    let mut fut = pin!(fut);
    match fut.as_mut().poll(&mut Context::from_waker(Waker::noop())) {
        Poll::Ready(out) => out,
        Poll::Pending => unreachable!("the benchmarked futures never wait"),
    }
}

// ---- the unannotated function ------------------------------------------------------------

#[inline(never)]
pub fn baseline(x: u64) -> u64 {
    black_box(x) + 1
}

#[inline(never)]
pub async fn baseline_async(x: u64) -> u64 {
    black_box(x) + 1
}

// ---- the floor: one relaxed atomic add and two clock reads -------------------------------

pub static FLOOR_CALLS: AtomicU64 = AtomicU64::new(0);

#[inline(never)]
pub fn floor(x: u64) -> u64 {
    FLOOR_CALLS.fetch_add(1, Relaxed);
    let start = Instant::now();
    let out = black_box(x) + 1;
    black_box(start.elapsed());
    out
}

/// The same floor on the TSC (what kansoku's hot path reads, through quanta) instead of
/// `Instant::now()`, which is `clock_gettime` through the vDSO.
#[inline(never)]
pub fn floor_tsc(x: u64) -> u64 {
    FLOOR_CALLS.fetch_add(1, Relaxed);
    let clock = tsc();
    let start = clock.raw();
    let out = black_box(x) + 1;
    black_box(clock.delta_as_nanos(start, clock.raw()));
    out
}

/// What kansoku's `track_*` hot path must do at least: three relaxed adds (started, the
/// status×bucket cell, the duration sum) and two TSC reads.
#[inline(never)]
pub fn floor_tsc_3add(x: u64) -> u64 {
    static CELLS: [AtomicU64; 3] = [const { AtomicU64::new(0) }; 3];
    CELLS[0].fetch_add(1, Relaxed);
    let clock = tsc();
    let start = clock.raw();
    let out = black_box(x) + 1;
    let nanos = clock.delta_as_nanos(start, clock.raw());
    CELLS[1].fetch_add(1, Relaxed);
    CELLS[2].fetch_add(nanos, Relaxed);
    out
}

/// The TSC clock (calibrated once), for timing a batch of calls at little cost.
pub fn tsc() -> &'static quanta::Clock {
    static CLOCK: std::sync::OnceLock<quanta::Clock> = std::sync::OnceLock::new();
    CLOCK.get_or_init(quanta::Clock::new)
}

// ---- kansoku's three attributes (with whatever features this build has) ------------------

#[kansoku::track_api_request(method = "GET", endpoint = "/bench")]
#[inline(never)]
pub fn api(x: u64) -> u64 {
    black_box(x) + 1
}

#[kansoku::track_database_query("select", "bench")]
#[inline(never)]
pub fn query(x: u64) -> u64 {
    black_box(x) + 1
}

#[kansoku::monitor_api_endpoint(name = "bench", op = "http.server")]
#[inline(never)]
pub fn endpoint(x: u64) -> u64 {
    black_box(x) + 1
}

/// The README's recommended pair: `#[monitor_api_endpoint]` stacked on `#[track_api_request]`
/// (the endpoint takes the stacked request's endpoint as its name).
#[kansoku::monitor_api_endpoint]
#[kansoku::track_api_request(method = "GET", endpoint = "/bench_stacked")]
#[inline(never)]
pub fn endpoint_api(x: u64) -> u64 {
    black_box(x) + 1
}

/// The same pair on an `async fn`, as on an axum handler.
#[kansoku::monitor_api_endpoint]
#[kansoku::track_api_request(method = "GET", endpoint = "/bench_stacked_async")]
#[inline(never)]
pub async fn endpoint_api_async(x: u64) -> u64 {
    black_box(x) + 1
}

#[kansoku::track_api_request(method = "GET", endpoint = "/bench_async")]
#[inline(never)]
pub async fn api_async(x: u64) -> u64 {
    black_box(x) + 1
}

#[kansoku::track_database_query("select", "bench_async")]
#[inline(never)]
pub async fn query_async(x: u64) -> u64 {
    black_box(x) + 1
}

#[kansoku::monitor_api_endpoint(name = "bench_async", op = "http.server")]
#[inline(never)]
pub async fn endpoint_async(x: u64) -> u64 {
    black_box(x) + 1
}

/// A named function under test.
pub type Case = (&'static str, fn(u64) -> u64);

/// One call of `f` per iteration.
pub fn bench_sync(c: &mut Criterion, group: &str, cases: &[Case]) {
    let mut g = c.benchmark_group(group);
    for (name, f) in cases {
        let f = *f;
        g.bench_function(*name, |b| b.iter(|| f(black_box(7))));
    }
    g.finish();
}

/// `contended/<name>`: two threads call `f` at once, each `iters` times; the time of the slower
/// thread divided by `iters` is the cost of one call while the other core does the same.
pub fn run_on_two_threads(iters: u64, f: fn(u64) -> u64) -> Duration {
    let barrier = std::sync::Barrier::new(2);
    std::thread::scope(|s| {
        let threads: Vec<_> = (0..2)
            .map(|_| {
                s.spawn(|| {
                    barrier.wait();
                    let start = Instant::now();
                    for i in 0..iters {
                        black_box(f(black_box(i)));
                    }
                    start.elapsed()
                })
            })
            .collect();
        threads
            .into_iter()
            .map(|t| t.join().expect("bench thread"))
            .max()
            .unwrap_or_default()
    })
}
