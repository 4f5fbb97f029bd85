//! kansoku with `prometheus` and `sentry` on, against the floor and its peers, in one process.
//! The no-feature half is `nofeat/benches/nofeat.rs`; `bash bench/run` runs both.
//!
//! `KANSOKU_BENCH_SENTRY_RATE` (default 0.1) is the `traces_sample_rate` kansoku is installed
//! with. At 0.1 every group runs; at any other rate only the `sentry_<pct>pct` group does (a
//! second process of the same binary: the rate is fixed at install, once per process).
//!
//! `KANSOKU_BENCH_PROFILE=in_request|root|peer` (with `KANSOKU_BENCH_PROFILE_CALLS`, default
//! 10⁶) runs one of the `hub_10pct` rows (kansoku at `KANSOKU_BENCH_SENTRY_RATE`) in a plain
//! loop instead of the benchmarks, for a profiler: `valgrind --tool=callgrind` counts its
//! instructions.

#[path = "../common.rs"]
mod common;

use std::hint::black_box;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion};
use opentelemetry::metrics::{Counter, Histogram, MeterProvider as _};
use opentelemetry::KeyValue;
use opentelemetry_sdk::metrics::{ManualReader, SdkMeterProvider};
use tracing::span;
use tracing_subscriber::layer::{Context, SubscriberExt as _};
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::Layer;

use common::{
    api, api_async, baseline, baseline_async, bench_sync, endpoint, endpoint_api,
    endpoint_api_async, endpoint_async, floor, floor_tsc, floor_tsc_3add, poll_once, query,
    query_async, run_on_two_threads,
};

// ---- Sentry: a transport that drops every envelope ---------------------------------------

/// Both Sentry clients here (kansoku's and the peer's) hand their envelopes to one of these: it
/// drops them and counts them (one relaxed add), so nothing touches the network, and the run
/// can check that sampled transactions really reached the transport.
struct DropTransport {
    envelopes: AtomicU64,
}

impl sentry::Transport for DropTransport {
    fn send_envelope(&self, envelope: sentry::Envelope) {
        self.envelopes.fetch_add(1, Relaxed);
        drop(envelope);
    }
}

fn drop_transport() -> Arc<DropTransport> {
    Arc::new(DropTransport {
        envelopes: AtomicU64::new(0),
    })
}

const DSN: &str = "https://public@sentry.invalid/1";

fn sentry_rate() -> f32 {
    std::env::var("KANSOKU_BENCH_SENTRY_RATE")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0.1)
}

// ---- peer 4: a Sentry transaction per call, through the sentry crate's own API -------------

/// What a hand-instrumented handler does with the sentry crate: start a transaction (sampled
/// by the client at its `traces_sample_rate`), finish it. A sampled one is built and handed to
/// the transport on this thread at `finish`.
#[inline(never)]
fn sentry_tx(x: u64) -> u64 {
    let tx = sentry::start_transaction(sentry::TransactionContext::new("bench", "http.server"));
    let out = black_box(x) + 1;
    tx.finish();
    out
}

/// A hub of its own for the peer, with a client at 10% and the dropping transport, made the
/// current hub of the benchmark's thread while the peer runs (`Hub::run`), so kansoku's client
/// on the main hub is left alone.
fn sentry_peer_hub(transport: &Arc<DropTransport>) -> Arc<sentry::Hub> {
    let options = sentry::ClientOptions::new()
        .dsn(DSN)
        .traces_sample_rate(0.1)
        .transport(transport.clone());
    let client = Arc::new(sentry::Client::with_options(sentry::apply_defaults(
        options,
    )));
    Arc::new(sentry::Hub::new(
        Some(client),
        Arc::new(sentry::Scope::default()),
    ))
}

/// The peer of a root call outside any request: what sentry-tower's `NewSentryLayer` and
/// `SentryHttpLayer` do for a request, by hand — a hub made from the top of the current one and
/// current while the call runs, in it a transaction started (sampled by the client) and finished.
#[inline(never)]
fn sentry_hub_tx(x: u64) -> u64 {
    let hub = Arc::new(sentry::Hub::new_from_top(sentry::Hub::current()));
    sentry::Hub::run(hub, || sentry_tx(x))
}

// ---- issue 19: an endpoint inside a request, whose hub is bound; a root outside any ---------

/// Annotated calls per root in the `in_request_*` rows: a request's handler makes a few, each a
/// child span of the request's transaction when that is sampled.
const CALLS_PER_ROOT: u64 = 8;

/// `iters` calls of `f`, each inside a kansoku root already open and current: a request's hub
/// bound, as the HTTP layer binds it around a handler. `kansoku::start_transaction` opens it
/// (the public way; the layer's request scope is the same root with the request's data), a new
/// one every `CALLS_PER_ROOT` calls, sampled at the installed rate, so the calls are sampled as
/// a request's would be. Only the calls are timed (one pair of TSC reads per batch: the
/// `in_request_baseline` row shows what that adds), not opening, entering or finishing roots.
fn in_roots(iters: u64, f: fn(u64) -> u64) -> Duration {
    let clock = common::tsc();
    let mut nanos = 0;
    let mut left = iters;
    while left > 0 {
        let batch = left.min(CALLS_PER_ROOT);
        let root = kansoku::start_transaction("http.server", "GET /bench_request");
        root.in_scope(|| {
            let start = clock.raw();
            for i in 0..batch {
                black_box(f(black_box(i)));
            }
            nanos += clock.delta_as_nanos(start, clock.raw());
        });
        root.finish();
        left -= batch;
    }
    Duration::from_nanos(nanos)
}

#[inline(never)]
fn endpoint_api_polled(x: u64) -> u64 {
    poll_once(endpoint_api_async(x))
}

/// The name of the in-request row of the stacked async pair.
const IN_REQUEST: &str = "in_request_monitor_api_endpoint+track_api_request_async";

/// `hub_10pct/*` (issue 19's rows, kansoku at 10%): the stacked pair inside a request and as a
/// root outside any (making its own hub), beside the sentry crate doing a root's work by hand.
fn hub_rows(c: &mut Criterion, peer_hub: &Arc<sentry::Hub>) {
    let mut g = c.benchmark_group("hub_10pct");
    g.bench_function("in_request_baseline", |b| {
        b.iter_custom(|iters| in_roots(iters, baseline));
    });
    g.bench_function(IN_REQUEST, |b| {
        b.iter_custom(|iters| in_roots(iters, endpoint_api_polled));
    });
    g.bench_function("in_request_monitor_api_endpoint+track_api_request", |b| {
        b.iter_custom(|iters| in_roots(iters, endpoint_api));
    });
    g.bench_function("root_monitor_api_endpoint+track_api_request_async", |b| {
        b.iter(|| endpoint_api_polled(black_box(7)));
    });
    g.bench_function("root_start_transaction", |b| {
        b.iter(|| kansoku::start_transaction("http.server", "bench").finish());
    });
    g.bench_function("sentry_hub_new_from_top+run+start_transaction", |b| {
        sentry::Hub::run(peer_hub.clone(), || b.iter(|| sentry_hub_tx(black_box(7))));
    });
    g.finish();
}

/// The in-request rows measure what they say: inside the root every call is in its trace, and
/// about the installed rate of the roots is sampled.
fn check_roots(rate: f32) {
    const ROOTS: u32 = 20_000;
    let sampled = (0..ROOTS)
        .filter(|_| {
            let root = kansoku::start_transaction("http.server", "GET /bench_request");
            let trace = root.in_scope(kansoku::trace_context);
            trace.expect("a call inside a root is in its trace").sampled
        })
        .count();
    eprintln!("roots: {sampled} of {ROOTS} sampled at {rate}");
    assert!(
        (rate == 0.0) == (sampled == 0),
        "roots sampled at rate {rate}: {sampled}"
    );
}

fn timed(calls: u64, f: fn(u64) -> u64) -> Duration {
    let start = Instant::now();
    for i in 0..calls {
        black_box(f(black_box(i)));
    }
    start.elapsed()
}

/// `KANSOKU_BENCH_PROFILE`: one row in a loop, for a profiler; true if it ran.
fn profile(peer_hub: &Arc<sentry::Hub>) -> bool {
    let Ok(row) = std::env::var("KANSOKU_BENCH_PROFILE") else {
        return false;
    };
    let calls = std::env::var("KANSOKU_BENCH_PROFILE_CALLS")
        .ok()
        .and_then(|calls| calls.parse().ok())
        .unwrap_or(1_000_000);
    let spent = match row.as_str() {
        "in_request" => in_roots(calls, endpoint_api_polled),
        "root" => timed(calls, endpoint_api_polled),
        "peer" => sentry::Hub::run(peer_hub.clone(), || timed(calls, sentry_hub_tx)),
        other => panic!("KANSOKU_BENCH_PROFILE={other}: in_request, root or peer"),
    };
    #[allow(clippy::cast_precision_loss)]
    let per_call = spent.as_nanos() as f64 / calls as f64;
    eprintln!("profile {row}: {calls} calls, {per_call:.1} ns each");
    true
}

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

fn install_kansoku(rate: f32, transport: &Arc<DropTransport>) -> kansoku::Telemetry {
    let transport = transport.clone();
    kansoku::Telemetry::builder()
        .namespace("bench")
        .sentry_dsn(DSN)
        .traces_sample_rate(rate)
        .sentry_options(move |o| o.transport(transport.clone()))
        // the OTLP backend runs (it reads the store at each push, off the calls' path): a
        // loopback port nothing listens on, pushed to every second
        .otlp_endpoint("http://127.0.0.1:9")
        .otlp_export_interval(Duration::from_secs(1))
        .install()
        .expect("kansoku install")
}

fn setup(transport: &Arc<DropTransport>) -> kansoku::Telemetry {
    let telemetry = install_kansoku(0.1, transport);
    tracing::subscriber::set_global_default(tracing_subscriber::registry().with(SpanTiming))
        .expect("tracing subscriber");
    autometrics::prometheus_exporter::init();
    otel_init();
    telemetry
}

fn benches(c: &mut Criterion) {
    let transport = drop_transport();
    let rate = sentry_rate();
    if rate != 0.1 {
        return sentry_rate_only(c, rate, &transport);
    }
    let telemetry = setup(&transport);
    let peer_transport = drop_transport();
    let peer_hub = sentry_peer_hub(&peer_transport);
    if profile(&peer_hub) {
        return;
    }

    let cases: [common::Case; 11] = [
        ("baseline", baseline),
        ("floor", floor),
        ("floor_tsc", floor_tsc),
        ("floor_tsc_3add", floor_tsc_3add),
        ("track_api_request", api),
        ("track_database_query", query),
        ("monitor_api_endpoint", endpoint),
        ("monitor_api_endpoint+track_api_request", endpoint_api),
        ("tracing_instrument", traced),
        ("autometrics", auto),
        ("otel_sdk_counter_histogram", otel_sdk),
    ];
    let mut g = c.benchmark_group("sync");
    for (name, f) in cases {
        g.bench_function(name, |b| b.iter(|| f(black_box(7))));
    }
    g.bench_function("sentry_start_transaction", |b| {
        sentry::Hub::run(peer_hub.clone(), || b.iter(|| sentry_tx(black_box(7))))
    });
    g.finish();

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

    hub_rows(c, &peer_hub);

    check_roots(0.1);
    check_sentry(0.1, &transport, Some(&peer_transport));
    check_recorded(&telemetry);
}

/// `sentry_<pct>pct/*`: kansoku installed at another sample rate, in a process of its own.
fn sentry_rate_only(c: &mut Criterion, rate: f32, transport: &Arc<DropTransport>) {
    let _telemetry = install_kansoku(rate, transport);
    if profile(&sentry_peer_hub(&drop_transport())) {
        return;
    }
    let group = format!("sentry_{:.0}pct", rate * 100.0);
    bench_sync(
        c,
        &group,
        &[
            ("baseline", baseline),
            ("floor", floor),
            ("floor_tsc", floor_tsc),
            ("monitor_api_endpoint", endpoint),
            ("monitor_api_endpoint+track_api_request", endpoint_api),
        ],
    );
    // the in-request row's two halves: at 0% every request unsampled, at 100% every one sampled
    c.benchmark_group(&group).bench_function(IN_REQUEST, |b| {
        b.iter_custom(|iters| in_roots(iters, endpoint_api_polled));
    });
    check_roots(rate);
    check_sentry(rate, transport, None);
}

/// Sampled calls really reach the transport, at about the configured rate, and none were
/// dropped on the way when the calls come as fast as the benchmark makes them. Prints what it
/// saw; fails only if nothing at all arrived when something should have.
fn check_sentry(rate: f32, kansoku: &Arc<DropTransport>, peer: Option<&Arc<DropTransport>>) {
    let settle = |t: &DropTransport| {
        // the background thread may still be building envelopes: wait until the count stops
        let mut last = t.envelopes.load(Relaxed);
        for _ in 0..50 {
            std::thread::sleep(Duration::from_millis(50));
            let now = t.envelopes.load(Relaxed);
            if now == last {
                break;
            }
            last = now;
        }
        last
    };
    let during = settle(kansoku);
    const CALLS: u64 = 1_000_000;
    for i in 0..CALLS {
        black_box(endpoint(black_box(i)));
    }
    let after = settle(kansoku);
    #[allow(clippy::cast_precision_loss)]
    let expected = f64::from(rate) * CALLS as f64;
    eprintln!(
        "sentry at {rate}: kansoku's transport got {during} envelopes during the benchmarks; \
         {CALLS} calls in a tight loop then sent {} (expected ≈ {expected:.0}, the rest dropped \
         by the full queue, if any)",
        after - during
    );
    assert!(
        rate == 0.0 || after > during,
        "kansoku sent no transaction at rate {rate}"
    );
    assert!(
        rate > 0.0 || after == 0,
        "kansoku sent transactions at rate 0"
    );
    if let Some(peer) = peer {
        let sent = peer.envelopes.load(Relaxed);
        eprintln!("sentry peer: its transport got {sent} envelopes");
        assert!(sent > 0, "the sentry peer sent nothing");
    }
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
