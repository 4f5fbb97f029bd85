//! One hot call site called in a tight loop from 1, 2 and 2×cores threads at once (issue 9):
//! kansoku's `#[track_api_request]` beside the `metrics` crate's handles, the OpenTelemetry
//! SDK and the floor, wall time per call per thread. A plain harness (not criterion: criterion
//! times one thread), run by `bash bench/contention` (and as the last part of `bash bench/run`).
//!
//! Method: for each round, each thread count and each contender in turn (interleaved, so a
//! burst of load from elsewhere hits every contender alike), `T` threads wait on a barrier,
//! then each makes `iters` calls and reads its own elapsed time; the measurement is the slowest
//! thread's time / `iters`. `iters` is calibrated once per contender (one thread) so that one
//! measurement lasts about `KANSOKU_CONTENTION_MS` (default 40) ms. The figure printed is the
//! median over `KANSOKU_CONTENTION_ROUNDS` (default 15) rounds, with the min and max.
//!
//! With more threads than cores a thread is descheduled part of the time, so its wall time per
//! call grows with `T / cores` even with no contention at all; the table also gives the time
//! per call per busy core (`wall × min(T, cores) / (T × iters)`), the figure comparable with the
//! one-thread row.

#[path = "../common.rs"]
mod common;

use std::fmt::Write as _;
use std::hint::black_box;
use std::num::NonZero;
use std::sync::{Barrier, OnceLock};
use std::time::{Duration, Instant};

use opentelemetry::metrics::{Counter, Histogram, MeterProvider as _};
use opentelemetry::KeyValue;
use opentelemetry_sdk::metrics::{ManualReader, SdkMeterProvider};

// ---- the contenders: each one call of `black_box(x) + 1`, recorded ---------------------------

/// kansoku: the attribute's production path (installed telemetry, the site's static counters).
#[kansoku::track_api_request(method = "GET", endpoint = "/contention")]
#[inline(never)]
fn kansoku_api(x: u64) -> u64 {
    black_box(x) + 1
}

struct MetricsHandles {
    requests: metrics::Counter,
    duration: metrics::Histogram,
}

static METRICS: OnceLock<MetricsHandles> = OnceLock::new();
static METRICS_RENDER: OnceLock<metrics_exporter_prometheus::PrometheusHandle> = OnceLock::new();

/// The `metrics` crate as its docs recommend for a hot path: handles registered once (labels
/// resolved then), a counter increment and a histogram record per call, timed with `Instant`.
#[inline(never)]
fn metrics_handles(x: u64) -> u64 {
    let handles = METRICS.get().expect("metrics_init ran");
    let start = Instant::now();
    let out = black_box(x) + 1;
    handles.duration.record(start.elapsed().as_secs_f64());
    handles.requests.increment(1);
    out
}

fn metrics_init() {
    let handle = metrics_exporter_prometheus::PrometheusBuilder::new()
        .install_recorder()
        .expect("metrics recorder");
    let labels = [("endpoint", "/contention"), ("method", "GET")];
    let requests = metrics::counter!("api_requests_total", &labels);
    let duration = metrics::histogram!("api_request_duration_seconds", &labels);
    let _ = METRICS.set(MetricsHandles { requests, duration });
    let _ = METRICS_RENDER.set(handle);
}

struct Otel {
    _provider: SdkMeterProvider,
    requests: Counter<u64>,
    duration: Histogram<f64>,
}

static OTEL: OnceLock<Otel> = OnceLock::new();

/// The OpenTelemetry SDK as a hand-instrumented handler uses it (as in `overhead.rs`).
#[inline(never)]
fn otel_sdk(x: u64) -> u64 {
    let otel = OTEL.get().expect("otel_init ran");
    let start = Instant::now();
    let out = black_box(x) + 1;
    let attrs = [
        KeyValue::new("endpoint", "/contention"),
        KeyValue::new("method", "GET"),
        KeyValue::new("status", "ok"),
    ];
    otel.duration.record(start.elapsed().as_secs_f64(), &attrs);
    otel.requests.add(1, &attrs);
    out
}

fn otel_init() {
    let provider = SdkMeterProvider::builder()
        .with_reader(ManualReader::builder().build())
        .build();
    let meter = provider.meter("bench");
    let requests = meter.u64_counter("api_requests").build();
    let duration = meter
        .f64_histogram("api_request_duration")
        .with_unit("s")
        .build();
    let _ = OTEL.set(Otel {
        _provider: provider,
        requests,
        duration,
    });
}

const CONTENDERS: [common::Case; 4] = [
    ("kansoku track_api_request", kansoku_api),
    ("metrics 0.24 counter+histogram", metrics_handles),
    ("opentelemetry_sdk counter+histogram", otel_sdk),
    // one shared atomic add + two `Instant::now()`: the issue's (and DESIGN's) floor
    ("floor (shared atomic + 2 clock reads)", common::floor),
];

// ---- the harness --------------------------------------------------------------------------

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(default)
}

/// `threads` threads call `f` `iters` times each, started together; the slowest one's time.
fn run(threads: usize, iters: u64, f: fn(u64) -> u64) -> Duration {
    let barrier = Barrier::new(threads);
    std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
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
        handles
            .into_iter()
            .map(|h| h.join().expect("bench thread"))
            .max()
            .unwrap_or_default()
    })
}

/// Calls per measurement so that one thread takes about `target`.
fn calibrate(f: fn(u64) -> u64, target: Duration) -> u64 {
    let mut iters = 1_000u64;
    loop {
        let took = run(1, iters, f);
        if took >= target / 4 {
            let per_call = took.as_secs_f64() / iters as f64;
            return ((target.as_secs_f64() / per_call) as u64).max(1_000);
        }
        iters *= 4;
    }
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() {
    // `cargo bench` passes `--bench`; a name filter (any other argument) picks contenders.
    let filter: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    let cores = std::thread::available_parallelism().map_or(1, NonZero::get);
    let target = Duration::from_millis(env_or("KANSOKU_CONTENTION_MS", 40));
    let rounds: usize = env_or("KANSOKU_CONTENTION_ROUNDS", 15).max(1);
    let thread_counts = [1, 2, 2 * cores];

    let telemetry = kansoku::Telemetry::builder()
        .namespace("bench")
        .install()
        .expect("kansoku install");
    metrics_init();
    otel_init();

    let contenders: Vec<_> = CONTENDERS
        .iter()
        .filter(|(name, _)| filter.is_empty() || filter.iter().any(|f| name.contains(f.as_str())))
        .collect();
    let iters: Vec<u64> = contenders
        .iter()
        .map(|(_, f)| calibrate(*f, target))
        .collect();
    eprintln!(
        "contention: {cores} cores, threads {thread_counts:?}, {rounds} rounds of ≈{} ms per \
         measurement",
        target.as_millis()
    );

    // samples[contender][thread count] = ns per call per thread, one per round
    let mut samples = vec![vec![Vec::new(); thread_counts.len()]; contenders.len()];
    for round in 0..rounds {
        for (ti, &threads) in thread_counts.iter().enumerate() {
            for (ci, (_, f)) in contenders.iter().enumerate() {
                let took = run(threads, iters[ci], *f);
                samples[ci][ti].push(took.as_nanos() as f64 / iters[ci] as f64);
                // the exporter keeps histogram samples until upkeep; drain them off the clock
                METRICS_RENDER.get().expect("metrics_init ran").run_upkeep();
            }
        }
        eprint!("\rround {}/{rounds}", round + 1);
    }
    eprintln!();

    let mut table = String::new();
    let _ = writeln!(
        table,
        "| contender | threads | ns/call/thread (median) | min–max | ns/call per busy core | × 1 thread |"
    );
    let _ = writeln!(table, "|---|---:|---:|---|---:|---:|");
    for (ci, (name, _)) in contenders.iter().enumerate() {
        let mut one = None;
        for (ti, &threads) in thread_counts.iter().enumerate() {
            let v = &mut samples[ci][ti];
            let med = median(v);
            let (lo, hi) = (v[0], v[v.len() - 1]);
            let per_core = med * threads.min(cores) as f64 / threads as f64;
            let one = *one.get_or_insert(per_core);
            let _ = writeln!(
                table,
                "| {name} | {threads} | {med:.1} | {lo:.1}–{hi:.1} | {per_core:.1} | {:.2}× |",
                per_core / one
            );
        }
    }
    println!("\n{table}");
    let out = std::env::var("KANSOKU_CONTENTION_OUT").unwrap_or_default();
    if !out.is_empty() {
        std::fs::write(&out, &table).expect("write the table");
        eprintln!("(written to {out})");
    }
    check_recorded(&telemetry);
}

/// Every contender really recorded: a benchmark of something that did nothing would be a lie.
fn check_recorded(telemetry: &kansoku::Telemetry) {
    let text = telemetry.prometheus_text();
    let needle = r#"bench_api_requests_total{endpoint="/contention",method="GET",status="ok"}"#;
    assert!(text.contains(needle), "kansoku did not record:\n{text}");
    let rendered = METRICS_RENDER.get().expect("metrics_init ran").render();
    assert!(
        rendered.contains("api_requests_total"),
        "metrics recorded nothing:\n{rendered}"
    );
    eprintln!("recorded: kansoku ok, metrics ok");
}
