//! One small axum app, served in the variant named on the command line, on `--addr`
//! (default `127.0.0.1:0`; the bound address is printed on the first line of stdout):
//!
//! - `plain`: no instrumentation (the baseline);
//! - `kansoku-nodsn`: `KansokuLayer` + `#[monitor_api_endpoint]`, `#[track_api_request]` (no
//!   arguments: labelled by route) and `#[track_database_query]` on the handler, no Sentry;
//! - `kansoku-metrics`: `HttpMetricsLayer` alone on the plain handler (the `ns_http_*`
//!   series, no attribute, no Sentry): the peer of axum-prometheus and axum-otel-metrics;
//! - `kansoku-0pct`, `kansoku-10pct`, `kansoku-100pct`: the same with a Sentry DSN, at that
//!   trace sample rate (kansoku builds the client);
//! - `kansoku`: the same at `KANSOKU_BENCH_SAMPLE_RATE`;
//! - `kansoku-joined`: the application's own `sentry::init` and sentry-tracing's layer as the
//!   global `tracing` subscriber; kansoku installed without a DSN joins that client (what an
//!   application that already has Sentry runs);
//! - `axum-prometheus`: its `PrometheusMetricLayer`;
//! - `sentry-tower`: `NewSentryLayer` + `SentryHttpLayer` with transactions;
//! - `sentry-tower-tracing`: the same, with sentry-tracing's layer as the global `tracing`
//!   subscriber and the handler and its query `#[tracing::instrument]`ed: the work kansoku's
//!   attributes do (a transaction, a span for the handler, one for the query with its data);
//! - `axum-otel-metrics`: its `HttpMetricsLayer` on an OpenTelemetry SDK meter provider.
//!
//! Every Sentry client sends into a counting transport (nothing leaves the process), whose
//! counts are printed on stderr as `sentry envelopes: N (transactions T, their spans S)` when
//! the server stops. The clients the
//! application makes (`sentry-tower*`, `kansoku-joined`) and the `kansoku` variant sample
//! `KANSOKU_BENCH_SAMPLE_RATE` of the transactions (default 0.1, the guide's rate). The
//! server runs on one thread (`current_thread`): the script pins it to one core.

use std::any::Any;
use std::convert::Infallible;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::time::Duration;

use axum::extract::Path;
use axum::routing::get;
use axum::Router;
use tracing_subscriber::layer::SubscriberExt as _;

/// The body every variant answers `GET /shops/{id}` with.
fn shop_json(id: u32) -> String {
    format!(r#"{{"id":{id},"name":"shop {id}","area":"namba","open":true}}"#)
}

async fn show_shop(Path(id): Path<u32>) -> String {
    shop_json(id)
}

#[kansoku::monitor_api_endpoint]
#[kansoku::track_api_request]
async fn show_shop_instrumented(Path(id): Path<u32>) -> Result<String, Infallible> {
    fetch_shop(id).await
}

#[kansoku::track_database_query("select", "shops")]
async fn fetch_shop(id: u32) -> Result<String, Infallible> {
    Ok(shop_json(id))
}

/// The peer's handler: what kansoku's attributes record, through `tracing` and sentry-tracing
/// (a span for the handler, one for the query with the data kansoku's query span carries).
#[tracing::instrument(skip_all)]
async fn show_shop_traced(Path(id): Path<u32>) -> Result<String, Infallible> {
    fetch_shop_traced(id).await
}

#[tracing::instrument(skip_all, fields(db.operation = "select", db.sql.table = "shops"))]
async fn fetch_shop_traced(id: u32) -> Result<String, Infallible> {
    Ok(shop_json(id))
}

/// A Sentry transport that counts envelopes, and the transactions and spans in them, and drops
/// them: no network in the measurement, and the run can tell that spans nested as they should.
#[derive(Debug, Default)]
struct Counting {
    envelopes: AtomicU64,
    transactions: AtomicU64,
    spans: AtomicU64,
}

impl sentry::Transport for Counting {
    fn send_envelope(&self, envelope: sentry::Envelope) {
        self.envelopes.fetch_add(1, Relaxed);
        for item in envelope.items() {
            if let sentry::protocol::EnvelopeItem::Transaction(transaction) = item {
                self.transactions.fetch_add(1, Relaxed);
                self.spans.fetch_add(transaction.spans.len() as u64, Relaxed);
            }
        }
    }
}

fn sample_rate() -> f32 {
    std::env::var("KANSOKU_BENCH_SAMPLE_RATE")
        .ok()
        .and_then(|rate| rate.parse().ok())
        .unwrap_or(0.1)
}

const DSN: &str = "http://public@127.0.0.1:9/1";

/// What a variant keeps alive while it serves, and reports when it stops.
#[derive(Default)]
struct Kept {
    telemetry: Option<kansoku::Telemetry>,
    sentry: Option<sentry::ClientInitGuard>,
    sink: Option<Arc<Counting>>,
    other: Option<Box<dyn Any>>,
}

impl Kept {
    /// Sends what is queued, then prints what the counting transport got.
    async fn report(self) {
        if let Some(telemetry) = &self.telemetry {
            telemetry.flush(Duration::from_secs(5)).await;
        }
        // closes the application's client, which hands the transport what it holds
        drop(self.sentry);
        if let Some(sink) = &self.sink {
            eprintln!(
                "sentry envelopes: {} (transactions {}, their spans {})",
                sink.envelopes.load(Relaxed),
                sink.transactions.load(Relaxed),
                sink.spans.load(Relaxed)
            );
        }
        drop(self.other);
    }
}

/// The application's own Sentry set-up: `sentry::init` into a counting transport, and
/// sentry-tracing's layer as the global `tracing` subscriber.
fn application_sentry(kept: &mut Kept) {
    let sink = Arc::new(Counting::default());
    kept.sentry = Some(sentry::init(
        sentry::ClientOptions::new()
            .dsn(DSN)
            .traces_sample_rate(sample_rate())
            .transport(sink.clone()),
    ));
    kept.sink = Some(sink);
}

/// sentry-tracing's combined layer, as the applications of issue 19 install it (sentry 0.49
/// prefers `SpanLayer` + `LogLayer`; for handlers that log nothing the span work is the same).
#[allow(deprecated)]
fn sentry_tracing_subscriber() {
    tracing::subscriber::set_global_default(
        tracing_subscriber::registry().with(sentry::integrations::tracing::layer()),
    )
    .expect("the only global subscriber");
}

/// kansoku installed with a DSN at `rate` (its own client, into a counting transport), or
/// without one (`None`: no Sentry, or the application's client when it bound one).
fn install_kansoku(rate: Option<f32>, kept: &mut Kept) -> kansoku::Telemetry {
    let mut builder = kansoku::Telemetry::builder().namespace("bench");
    if let Some(rate) = rate {
        let sink = Arc::new(Counting::default());
        kept.sink = Some(sink.clone());
        builder = builder
            .sentry_dsn(DSN)
            .traces_sample_rate(rate)
            .sentry_options(move |options| options.transport(sink.clone()));
    }
    builder.install().expect("kansoku installs")
}

/// kansoku's whole stack: its layers and the attributes on the handler.
fn kansoku_stack(rate: Option<f32>, kept: &mut Kept) -> Router {
    let telemetry = install_kansoku(rate, kept);
    let router = Router::new()
        .route("/shops/{id}", get(show_shop_instrumented))
        .layer(kansoku::http::KansokuLayer::new(&telemetry));
    kept.telemetry = Some(telemetry);
    router
}

/// sentry-tower's two layers, with transactions, around `router`.
fn sentry_tower(router: Router) -> Router {
    router
        .layer(sentry::integrations::tower::SentryHttpLayer::new().enable_transaction())
        .layer(sentry::integrations::tower::NewSentryLayer::<axum::extract::Request>::new_from_top())
}

/// `kansoku-<n>pct`'s rate.
fn percent_rate(variant: &str) -> Option<f32> {
    let percent: f32 = variant.strip_prefix("kansoku-")?.strip_suffix("pct")?.parse().ok()?;
    Some(percent / 100.0)
}

fn app(variant: &str) -> (Router, Kept) {
    let base = || Router::new().route("/shops/{id}", get(show_shop));
    let mut kept = Kept::default();
    let router = match variant {
        "plain" => base(),
        "kansoku-nodsn" => kansoku_stack(None, &mut kept),
        "kansoku-metrics" => {
            let telemetry = install_kansoku(None, &mut kept);
            let router = base().layer(kansoku::http::HttpMetricsLayer::new(&telemetry));
            kept.telemetry = Some(telemetry);
            router
        }
        "kansoku" => kansoku_stack(Some(sample_rate()), &mut kept),
        _ if percent_rate(variant).is_some() => kansoku_stack(percent_rate(variant), &mut kept),
        "kansoku-joined" => {
            application_sentry(&mut kept);
            sentry_tracing_subscriber();
            kansoku_stack(None, &mut kept)
        }
        "axum-prometheus" => {
            let (layer, handle) = axum_prometheus::PrometheusMetricLayer::pair();
            kept.other = Some(Box::new(handle));
            base().layer(layer)
        }
        "sentry-tower" => {
            application_sentry(&mut kept);
            sentry_tower(base())
        }
        "sentry-tower-tracing" => {
            application_sentry(&mut kept);
            sentry_tracing_subscriber();
            sentry_tower(Router::new().route("/shops/{id}", get(show_shop_traced)))
        }
        "axum-otel-metrics" => {
            let reader = opentelemetry_sdk::metrics::ManualReader::builder().build();
            let provider = opentelemetry_sdk::metrics::SdkMeterProvider::builder()
                .with_reader(reader)
                .build();
            let layer = axum_otel_metrics::HttpMetricsLayerBuilder::new()
                .with_provider(provider.clone())
                .build();
            kept.other = Some(Box::new(provider));
            base().layer(layer)
        }
        other => {
            eprintln!(
                "unknown variant {other:?}: plain, kansoku-nodsn, kansoku-metrics, kansoku-<n>pct, kansoku, \
                 kansoku-joined, axum-prometheus, sentry-tower, sentry-tower-tracing, \
                 axum-otel-metrics"
            );
            std::process::exit(2);
        }
    };
    (router, kept)
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let mut args = std::env::args().skip(1);
    let variant = args.next().unwrap_or_else(|| "plain".to_owned());
    let mut addr = "127.0.0.1:0".to_owned();
    while let Some(arg) = args.next() {
        if arg == "--addr" {
            addr = args.next().expect("--addr ADDR");
        }
    }
    let (router, kept) = app(&variant);
    let listener = tokio::net::TcpListener::bind(&addr)
        .await
        .expect("bind the address");
    println!("{}", listener.local_addr().expect("a bound address"));
    axum::serve(listener, router)
        .with_graceful_shutdown(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await
        .expect("serve");
    kept.report().await;
}
