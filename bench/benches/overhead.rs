//! kansoku with `otel` on, against the floor and its peers, in one process.
//! The no-feature half is `nofeat/benches/nofeat.rs`; `bash bench/run` runs both.

#[path = "../common.rs"]
mod common;

use std::hint::black_box;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::OnceLock;
use std::time::Instant;

use criterion::{criterion_group, criterion_main, Criterion};
use opentelemetry::metrics::{Counter, Histogram, MeterProvider as _};
use opentelemetry::KeyValue;
use opentelemetry_sdk::metrics::{ManualReader, SdkMeterProvider};
use tracing::span;
use tracing_subscriber::layer::{Context, SubscriberExt as _};
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::Layer;

use common::{
    api, api_async, baseline, baseline_async, bench_sync, endpoint, endpoint_async, floor,
    floor_tsc, floor_tsc_3add, poll_once, query, query_async, run_on_two_threads,
};

// ---- peer 1: `#[tracing::instrument]` under a registry + a span-timing layer ---------------

static TRACING_CALLS: AtomicU64 = AtomicU64::new(0);
static TRACING_NANOS: AtomicU64 = AtomicU64::new(0);

/// What a metrics-from-spans layer does: note the start when the span opens, add the elapsed
/// time to a counter and a sum when it closes.
struct SpanTiming;

impl<S> Layer<S> for SpanTiming
where
    S: tracing::Subscriber + for<'a> LookupSpan<'a>,
{
    fn on_new_span(&self, _: &span::Attributes<'_>, id: &span::Id, ctx: Context<'_, S>) {
        if let Some(span) = ctx.span(id) {
            span.extensions_mut().insert(Instant::now());
        }
    }

    fn on_close(&self, id: span::Id, ctx: Context<'_, S>) {
        if let Some(span) = ctx.span(&id) {
            if let Some(start) = span.extensions().get::<Instant>() {
                let nanos = u64::try_from(start.elapsed().as_nanos()).unwrap_or(u64::MAX);
                TRACING_CALLS.fetch_add(1, Relaxed);
                TRACING_NANOS.fetch_add(nanos, Relaxed);
            }
        }
    }
}

#[tracing::instrument(skip_all, fields(endpoint = "/bench", method = "GET"))]
#[inline(never)]
fn traced(x: u64) -> u64 {
    black_box(x) + 1
}

#[tracing::instrument(skip_all, fields(endpoint = "/bench_async", method = "GET"))]
#[inline(never)]
async fn traced_async(x: u64) -> u64 {
    black_box(x) + 1
}

// ---- peer 2: `#[autometrics]` with its Prometheus exporter (prometheus-client backend) ------

#[autometrics::autometrics]
#[inline(never)]
fn auto(x: u64) -> u64 {
    black_box(x) + 1
}

#[autometrics::autometrics]
#[inline(never)]
async fn auto_async(x: u64) -> u64 {
    black_box(x) + 1
}

// ---- peer 3: the OpenTelemetry SDK directly: counter + histogram, 3 attributes -------------

struct Otel {
    _provider: SdkMeterProvider,
    requests: Counter<u64>,
    duration: Histogram<f64>,
}

static OTEL: OnceLock<Otel> = OnceLock::new();

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

/// What a hand-instrumented handler does with the OpenTelemetry API: time the call, then one
/// `Counter::add` and one `Histogram::record` with `endpoint`, `method`, `status`.
#[inline(never)]
fn otel_sdk(x: u64) -> u64 {
    let otel = OTEL.get().expect("otel_init ran");
    let start = Instant::now();
    let out = black_box(x) + 1;
    let attrs = [
        KeyValue::new("endpoint", "/bench"),
        KeyValue::new("method", "GET"),
        KeyValue::new("status", "ok"),
    ];
    otel.duration.record(start.elapsed().as_secs_f64(), &attrs);
    otel.requests.add(1, &attrs);
    out
}

// ---- the benchmarks -----------------------------------------------------------------------

fn setup() -> kansoku::Telemetry {
    let telemetry = kansoku::Telemetry::builder()
        .namespace("bench")
        .install()
        .expect("kansoku install");
    tracing::subscriber::set_global_default(tracing_subscriber::registry().with(SpanTiming))
        .expect("tracing subscriber");
    autometrics::prometheus_exporter::init();
    otel_init();
    telemetry
}

fn benches(c: &mut Criterion) {
    let telemetry = setup();

    bench_sync(
        c,
        "sync",
        &[
            ("baseline", baseline),
            ("floor", floor),
            ("floor_tsc", floor_tsc),
            ("floor_tsc_3add", floor_tsc_3add),
            ("track_api_request", api),
            ("track_database_query", query),
            ("monitor_api_endpoint", endpoint),
            ("tracing_instrument", traced),
            ("autometrics", auto),
            ("otel_sdk_counter_histogram", otel_sdk),
        ],
    );

    let mut g = c.benchmark_group("async");
    g.bench_function("baseline", |b| {
        b.iter(|| poll_once(baseline_async(black_box(7))))
    });
    g.bench_function("track_api_request", |b| {
        b.iter(|| poll_once(api_async(black_box(7))))
    });
    g.bench_function("track_database_query", |b| {
        b.iter(|| poll_once(query_async(black_box(7))))
    });
    g.bench_function("monitor_api_endpoint", |b| {
        b.iter(|| poll_once(endpoint_async(black_box(7))))
    });
    g.bench_function("tracing_instrument", |b| {
        b.iter(|| poll_once(traced_async(black_box(7))))
    });
    g.bench_function("autometrics", |b| {
        b.iter(|| poll_once(auto_async(black_box(7))))
    });
    g.finish();

    let mut g = c.benchmark_group("contended");
    for (name, f) in [
        ("baseline", baseline as fn(u64) -> u64),
        ("floor", floor),
        ("track_api_request", api),
    ] {
        g.bench_function(name, |b| {
            b.iter_custom(|iters| run_on_two_threads(iters, f))
        });
    }
    g.finish();

    check_recorded(&telemetry);
}

/// Every contender really recorded: a benchmark of something that did nothing would be a lie.
fn check_recorded(telemetry: &kansoku::Telemetry) {
    let text = telemetry.prometheus_text();
    for needle in [
        r#"bench_api_requests_total{endpoint="/bench",method="GET",status="ok"}"#,
        r#"bench_database_queries_total{operation="select",status="ok",table="bench"}"#,
        r#"bench_api_requests_total{endpoint="/bench_async",method="GET",status="ok"}"#,
    ] {
        assert!(
            text.contains(needle),
            "kansoku did not record {needle}:\n{text}"
        );
    }
    assert!(
        TRACING_CALLS.load(Relaxed) > 0,
        "the tracing layer saw no span close"
    );
    let auto_text = autometrics::prometheus_exporter::encode_to_string().expect("autometrics");
    assert!(
        auto_text.contains(r#"function="auto""#),
        "autometrics recorded nothing:\n{auto_text}"
    );
    eprintln!(
        "recorded: kansoku ok, tracing {} span closes, autometrics ok",
        TRACING_CALLS.load(Relaxed)
    );
}

criterion_group! {
    name = group;
    config = common::criterion();
    targets = benches
}
criterion_main!(group);
