//! The cost of the HTTP layers per request, without the network: one `GET /shops/{id}` through
//! an axum router driven in process (tower's `oneshot`), plain, with `HttpMetricsLayer` alone and
//! with `KansokuLayer` (kansoku
//! installed with `prometheus` and `sentry` at 0% and 100% trace sampling, a no-op transport), with
//! and without the attributes on the handler. `bench/http` measures the same over loopback.
//!
//!   cargo bench --manifest-path bench/Cargo.toml --bench layer

use std::convert::Infallible;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::Path;
use axum::http::Request;
use axum::routing::get;
use axum::Router;
use criterion::{criterion_group, criterion_main, Criterion};
use tower::ServiceExt as _;

async fn show_shop(Path(id): Path<u32>) -> String {
    format!("shop {id}")
}

#[kansoku::monitor_api_endpoint]
#[kansoku::track_api_request]
async fn show_shop_instrumented(Path(id): Path<u32>) -> Result<String, Infallible> {
    fetch_shop(id).await
}

#[kansoku::track_database_query("select", "shops")]
async fn fetch_shop(id: u32) -> Result<String, Infallible> {
    Ok(format!("shop {id}"))
}

struct Noop;
impl sentry::Transport for Noop {
    fn send_envelope(&self, _: sentry::Envelope) {}
}

fn layers(c: &mut Criterion) {
    let rate: f32 = std::env::var("KANSOKU_BENCH_SENTRY_RATE")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(0.0);
    let telemetry = kansoku::Telemetry::builder()
        .namespace("layer")
        .sentry_dsn("http://public@127.0.0.1:9/1")
        .traces_sample_rate(rate)
        .sentry_options(|options| options.transport(Arc::new(Noop)))
        .install()
        .expect("kansoku installs");
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("a runtime");
    // `with_state` turns the handlers into services once, as `axum::serve` does
    let plain = Router::new()
        .route("/shops/{id}", get(show_shop))
        .with_state(());
    let metrics_only = Router::new()
        .route("/shops/{id}", get(show_shop))
        .layer(kansoku::http::HttpMetricsLayer::new(&telemetry))
        .with_state(());
    let layered = Router::new()
        .route("/shops/{id}", get(show_shop))
        .layer(kansoku::http::KansokuLayer::new(&telemetry))
        .with_state(());
    let full = Router::new()
        .route("/shops/{id}", get(show_shop_instrumented))
        .layer(kansoku::http::KansokuLayer::new(&telemetry))
        .with_state(());
    let mut group = c.benchmark_group(format!("http_layer_sentry_{}pct", rate * 100.0));
    for (name, router) in [
        ("plain", plain),
        ("http_metrics_layer", metrics_only),
        ("kansoku_layer", layered),
        ("kansoku_layer_and_attributes", full),
    ] {
        group.bench_function(name, |b| {
            b.iter(|| {
                runtime.block_on(async {
                    let request = Request::get("/shops/42").body(Body::empty()).unwrap();
                    router.clone().oneshot(request).await.unwrap().status()
                })
            });
        });
    }
    group.finish();
}

criterion_group!(benches, layers);
criterion_main!(benches);
