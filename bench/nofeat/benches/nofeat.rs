//! kansoku with no feature on: the annotated functions must cost what the plain one costs.
//! Criterion ids are prefixed `nofeat_` so both halves can share `bench/target/criterion`.
//! Built with `--features prometheus` (part 3 of `bash bench/run`) it is kansoku with `prometheus` alone
//! (no `sentry`), and its ids are prefixed `otel_redis_`.

#[path = "../../common.rs"]
mod common;

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion};

use common::{
    api, api_async, baseline, baseline_async, bench_sync, endpoint, endpoint_api, endpoint_async,
    floor, floor_tsc, floor_tsc_3add, poll_once, query, query_async,
};

/// The prefix of this build's criterion groups.
const PREFIX: &str = if cfg!(feature = "prometheus") {
    "otel_redis"
} else {
    "nofeat"
};

fn benches(c: &mut Criterion) {
    // With no backend this records nothing; it is what a service would run all the same.
    let builder = kansoku::Telemetry::builder().namespace("bench");
    // Part 3 runs with `redis` too, its flusher writing to the machine's Redis (or to nothing,
    // if none answers there: the flusher then holds the counts, which changes nothing per call).
    #[cfg(feature = "redis")]
    let builder = builder.redis_url(
        std::env::var("KANSOKU_BENCH_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379/".into()),
    );
    let _telemetry = builder.install().expect("kansoku install");

    bench_sync(
        c,
        &format!("{PREFIX}_sync"),
        &[
            ("baseline", baseline),
            ("floor", floor),
            ("floor_tsc", floor_tsc),
            ("floor_tsc_3add", floor_tsc_3add),
            ("track_api_request", api),
            ("track_database_query", query),
            ("monitor_api_endpoint", endpoint),
            ("monitor_api_endpoint+track_api_request", endpoint_api),
        ],
    );

    let mut g = c.benchmark_group(format!("{PREFIX}_async"));
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
    g.finish();

    #[cfg(feature = "prometheus")]
    {
        let text = _telemetry.prometheus_text();
        assert!(
            text.contains(
                r#"bench_api_requests_total{endpoint="/bench",method="GET",status="ok"}"#
            ),
            "kansoku (prometheus, no sentry) did not record:\n{text}"
        );
    }
}

criterion_group! {
    name = group;
    config = common::criterion();
    targets = benches
}
criterion_main!(group);
