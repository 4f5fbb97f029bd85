//! One small axum app, served in the variant named on the command line, on `--addr`
//! (default `127.0.0.1:0`; the bound address is printed on the first line of stdout):
//!
//! - `plain`: no instrumentation (the baseline);
//! - `kansoku`: `KansokuLayer` + `#[monitor_api_endpoint]`, `#[track_api_request]` (no
//!   arguments: labelled by route) and `#[track_database_query]` on the handler;
//! - `axum-prometheus`: its `PrometheusMetricLayer`;
//! - `sentry-tower`: `NewSentryLayer` + `SentryHttpLayer` with transactions;
//! - `axum-otel-metrics`: its `HttpMetricsLayer` on an OpenTelemetry SDK meter provider.
//!
//! Both Sentry clients send into a counting transport (nothing leaves the process) and sample
//! `KANSOKU_BENCH_SAMPLE_RATE` of the transactions (default 0.1, the guide's rate). The
//! server runs on one thread (`current_thread`): the script pins it to one core.

use std::convert::Infallible;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;

use axum::extract::Path;
use axum::routing::get;
use axum::Router;

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

/// A Sentry transport that counts envelopes and drops them: no network in the measurement.
#[derive(Debug, Default)]
struct Counting(AtomicU64);

impl sentry::Transport for Counting {
    fn send_envelope(&self, _envelope: sentry::Envelope) {
        self.0.fetch_add(1, Relaxed);
    }
}

fn sample_rate() -> f32 {
    std::env::var("KANSOKU_BENCH_SAMPLE_RATE")
        .ok()
        .and_then(|rate| rate.parse().ok())
        .unwrap_or(0.1)
}

const DSN: &str = "http://public@127.0.0.1:9/1";

fn app(variant: &str) -> (Router, Box<dyn std::any::Any>) {
    let base = || Router::new().route("/shops/{id}", get(show_shop));
    match variant {
        "plain" => (base(), Box::new(())),
        "kansoku" => {
            let sink = Arc::new(Counting::default());
            let telemetry = kansoku::Telemetry::builder()
                .namespace("bench")
                .sentry_dsn(DSN)
                .traces_sample_rate(sample_rate())
                .sentry_options(move |options| options.transport(sink.clone()))
                .install()
                .expect("kansoku installs");
            let router = Router::new()
                .route("/shops/{id}", get(show_shop_instrumented))
                .layer(kansoku::http::KansokuLayer::new(&telemetry));
            (router, Box::new(telemetry))
        }
        "axum-prometheus" => {
            let (layer, handle) = axum_prometheus::PrometheusMetricLayer::pair();
            (base().layer(layer), Box::new(handle))
        }
        "sentry-tower" => {
            let sink = Arc::new(Counting::default());
            let guard = sentry::init(
                sentry::ClientOptions::new()
                    .dsn(DSN)
                    .traces_sample_rate(sample_rate())
                    .transport(sink),
            );
            let router = base()
                .layer(sentry::integrations::tower::SentryHttpLayer::new().enable_transaction())
                .layer(sentry::integrations::tower::NewSentryLayer::<
                    axum::extract::Request,
                >::new_from_top());
            (router, Box::new(guard))
        }
        "axum-otel-metrics" => {
            let reader = opentelemetry_sdk::metrics::ManualReader::builder().build();
            let provider = opentelemetry_sdk::metrics::SdkMeterProvider::builder()
                .with_reader(reader)
                .build();
            let layer = axum_otel_metrics::HttpMetricsLayerBuilder::new()
                .with_provider(provider.clone())
                .build();
            (base().layer(layer), Box::new(provider))
        }
        other => {
            eprintln!(
                "unknown variant {other:?}: plain, kansoku, axum-prometheus, sentry-tower, axum-otel-metrics"
            );
            std::process::exit(2);
        }
    }
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
    let (router, _keep) = app(&variant);
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
}
