//! The cost of one `/metrics` render with 1000 routes × 4 status codes, histograms included:
//! kansoku's `Telemetry::prometheus_text` (its series made by real requests through the HTTP
//! layer) beside the `prometheus` crate's own `TextEncoder` on the same series (counters by
//! method, route and status code; a duration histogram, an in-flight gauge and a slow counter
//! by method and route), in the same run.
//!
//!   cargo bench --manifest-path bench/Cargo.toml --bench render

use std::time::Duration;

use axum::body::Body;
use axum::http::{HeaderMap, Request, StatusCode};
use axum::routing::get;
use axum::Router;
use criterion::{criterion_group, criterion_main, Criterion};
use prometheus::{HistogramOpts, HistogramVec, IntCounterVec, IntGaugeVec, Opts, Registry};
use tower::ServiceExt as _;

const ROUTES: usize = 1000;
const CODES: [u16; 4] = [200, 404, 500, 503];
/// kansoku's default request buckets, so both sides print as many bucket lines.
const BUCKETS: [f64; 11] = [
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

async fn answer(headers: HeaderMap) -> StatusCode {
    let code = headers["x-status"].to_str().unwrap().parse().unwrap();
    StatusCode::from_u16(code).unwrap()
}

/// A telemetry whose `ns_http_*` hold 1000 routes × 4 codes, from requests through the layer.
fn kansoku_series() -> kansoku::Telemetry {
    let telemetry = kansoku::Telemetry::builder()
        .namespace("render")
        .build()
        .expect("a telemetry");
    let mut router = Router::new();
    for route in 0..ROUTES {
        router = router.route(&format!("/r{route}/{{id}}"), get(answer));
    }
    let router = router.layer(kansoku::http::HttpMetricsLayer::new(&telemetry));
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("a runtime");
    runtime.block_on(async {
        for route in 0..ROUTES {
            for code in CODES {
                let request = Request::get(format!("/r{route}/7"))
                    .header("x-status", code)
                    .body(Body::empty())
                    .unwrap();
                let response = router.clone().oneshot(request).await.unwrap();
                assert_eq!(response.status().as_u16(), code);
            }
        }
    });
    telemetry
}

/// The same series in a `prometheus` registry.
fn prometheus_series() -> Registry {
    let registry = Registry::new();
    let requests = IntCounterVec::new(
        Opts::new("render_http_requests_total", "HTTP requests."),
        &["method", "route", "status_code"],
    )
    .unwrap();
    let duration = HistogramVec::new(
        HistogramOpts::new("render_http_request_duration_seconds", "Duration.")
            .buckets(BUCKETS.to_vec()),
        &["method", "route"],
    )
    .unwrap();
    let in_flight = IntGaugeVec::new(
        Opts::new("render_http_requests_in_flight", "In flight."),
        &["method", "route"],
    )
    .unwrap();
    let slow = IntCounterVec::new(
        Opts::new("render_http_slow_requests_total", "Slow."),
        &["method", "route"],
    )
    .unwrap();
    for route in 0..ROUTES {
        let route = format!("/r{route}/{{id}}");
        for code in CODES {
            requests
                .with_label_values(&["GET", &route, &code.to_string()])
                .inc();
            duration
                .with_label_values(&["GET", &route])
                .observe(0.000_2);
        }
        in_flight.with_label_values(&["GET", &route]).set(0);
        slow.with_label_values(&["GET", &route]).inc_by(0);
    }
    for collector in [
        Box::new(requests) as Box<dyn prometheus::core::Collector>,
        Box::new(duration),
        Box::new(in_flight),
        Box::new(slow),
    ] {
        registry.register(collector).unwrap();
    }
    registry
}

fn render(c: &mut Criterion) {
    let telemetry = kansoku_series();
    let registry = prometheus_series();
    let ours = telemetry.prometheus_text();
    let theirs = prometheus::TextEncoder::new()
        .encode_to_string(&registry.gather())
        .unwrap();
    let count = |text: &str, prefix: &str| text.lines().filter(|l| l.starts_with(prefix)).count();
    for prefix in [
        "render_http_requests_total{",
        "render_http_request_duration_seconds_bucket{",
        "render_http_requests_in_flight{",
    ] {
        assert_eq!(
            count(&ours, prefix),
            count(&theirs, prefix),
            "{prefix}: not the same series"
        );
    }
    assert_eq!(
        count(&ours, "render_http_requests_total{"),
        ROUTES * CODES.len()
    );

    let mut group = c.benchmark_group("metrics_render_1000_routes_x_4_codes");
    group.measurement_time(Duration::from_secs(5));
    group.bench_function("kansoku_prometheus_text", |b| {
        b.iter(|| telemetry.prometheus_text().len());
    });
    group.bench_function("prometheus_text_encoder", |b| {
        b.iter(|| {
            prometheus::TextEncoder::new()
                .encode_to_string(&registry.gather())
                .unwrap()
                .len()
        });
    });
    group.finish();
}

criterion_group!(benches, render);
criterion_main!(benches);
