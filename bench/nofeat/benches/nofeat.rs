//! kansoku with no feature on: the annotated functions must cost what the plain one costs.
//! Criterion ids are prefixed `nofeat_` so both halves can share `bench/target/criterion`.

#[path = "../../common.rs"]
mod common;

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion};

use common::{
    api, api_async, baseline, baseline_async, bench_sync, endpoint, endpoint_async, floor,
    floor_tsc, floor_tsc_3add, poll_once, query, query_async,
};

fn benches(c: &mut Criterion) {
    // With no backend this records nothing; it is what a service would run all the same.
    let _telemetry = kansoku::Telemetry::builder()
        .namespace("bench")
        .install()
        .expect("kansoku install");

    bench_sync(
        c,
        "nofeat_sync",
        &[
            ("baseline", baseline),
            ("floor", floor),
            ("floor_tsc", floor_tsc),
            ("floor_tsc_3add", floor_tsc_3add),
            ("track_api_request", api),
            ("track_database_query", query),
            ("monitor_api_endpoint", endpoint),
        ],
    );

    let mut g = c.benchmark_group("nofeat_async");
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
}

criterion_group! {
    name = group;
    config = common::criterion();
    targets = benches
}
criterion_main!(group);
