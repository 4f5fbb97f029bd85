//! One hot call site, and one run-time labelled series, hammered from many more threads than
//! cores: the counters a call writes are striped over cache lines under contention (issue 9),
//! and every count, bucket, sum and the in-flight gauge must still read out exactly.
//!
//! The process-wide instance is installed (the production path: the site's `static` counters,
//! not a test-local copy), so this file is its own test binary with one test.

// Counts are exact integers in the text format: comparing them as floats is exact.
#![allow(clippy::float_cmp, clippy::cast_precision_loss)]

use std::time::{Duration, Instant};

use kansoku::{Status, Telemetry};
use kansoku_tests::{series_of, value};

const THREADS: u64 = 16;
const CALLS: u64 = 50_000;

#[kansoku::track_api_request(method = "PUT", endpoint = "/hammer")]
fn hammer(n: u64) -> Result<u64, std::io::Error> {
    if n.is_multiple_of(7) {
        return Err(std::io::Error::other("every seventh call fails"));
    }
    Ok(n)
}

/// Whether call `i` of thread `t` fails, for both series.
fn fails(t: u64, i: u64) -> bool {
    (t * CALLS + i).is_multiple_of(7)
}

/// The duration thread `t` reports for its call `i` of the labelled series: one per bucket of
/// the default request bounds, and one over the last (the `+Inf` bucket).
const LABELLED_MS: [u64; 5] = [1, 30, 200, 3_000, 20_000];

fn labelled_ms(t: u64, i: u64) -> u64 {
    LABELLED_MS[usize::try_from((t + i) % 5).unwrap()]
}

/// Calls `f(t, i)` `CALLS` times on each of `THREADS` threads started together.
fn on_many_threads(f: impl Fn(u64, u64) + Sync) {
    let barrier = std::sync::Barrier::new(usize::try_from(THREADS).unwrap());
    std::thread::scope(|s| {
        for t in 0..THREADS {
            let (f, barrier) = (&f, &barrier);
            s.spawn(move || {
                barrier.wait();
                for i in 0..CALLS {
                    f(t, i);
                }
            });
        }
    });
}

/// The `le` buckets of one histogram series, in bound order, checked to be cumulative.
fn cumulative_buckets(text: &str, metric: &str, labels: &str) -> Vec<(f64, f64)> {
    let prefix = format!("{metric}_bucket{{{labels},le=\"");
    let mut buckets: Vec<(f64, f64)> = series_of(text, &format!("{metric}_bucket"))
        .into_iter()
        .filter_map(|(series, n)| {
            let le = series.strip_prefix(&prefix)?.strip_suffix("\"}")?;
            let le = if le == "+Inf" {
                f64::INFINITY
            } else {
                le.parse().unwrap()
            };
            Some((le, n))
        })
        .collect();
    buckets.sort_by(|a, b| a.0.total_cmp(&b.0));
    assert!(buckets.len() > 1, "no buckets for {labels}:\n{text}");
    assert!(
        buckets.windows(2).all(|w| w[0].1 <= w[1].1),
        "buckets not cumulative: {buckets:?}"
    );
    buckets
}

#[test]
fn one_site_and_one_labelled_series_add_up_exactly_from_many_threads() {
    let telemetry = Telemetry::builder()
        .namespace("hot")
        .install()
        .expect("first install");
    let total = THREADS * CALLS;
    let errors = (0..THREADS)
        .flat_map(|t| (0..CALLS).map(move |i| (t, i)))
        .filter(|&(t, i)| fails(t, i))
        .count() as u64;

    // ---- one call site ------------------------------------------------------------------
    let began = Instant::now();
    on_many_threads(|t, i| {
        let n = t * CALLS + i;
        assert_eq!(hammer(n).is_err(), fails(t, i));
    });
    let wall = began.elapsed().as_secs_f64();
    let text = telemetry.prometheus_text();
    let series = |status: &str| {
        format!(r#"hot_api_requests_total{{endpoint="/hammer",method="PUT",status="{status}"}}"#)
    };
    assert_eq!(value(&text, &series("ok")), (total - errors) as f64);
    assert_eq!(value(&text, &series("error")), errors as f64);
    assert_eq!(
        series_of(&text, "hot_api_requests_total").len(),
        2,
        "{text}"
    );
    let labels = r#"endpoint="/hammer",method="PUT""#;
    let hist = "hot_api_request_duration_seconds";
    assert_eq!(
        value(&text, &format!("{hist}_count{{{labels}}}")),
        total as f64
    );
    let buckets = cumulative_buckets(&text, hist, labels);
    assert_eq!(buckets.last().unwrap().1, total as f64);
    // Each call's duration is real: positive in sum, and no more than the threads' wall time.
    let sum = value(&text, &format!("{hist}_sum{{{labels}}}"));
    assert!(
        sum > 0.0 && sum <= wall * THREADS as f64,
        "sum {sum} s, wall {wall} s"
    );
    assert_eq!(
        value(&text, r#"hot_api_requests_in_flight{endpoint="/hammer"}"#),
        0.0
    );

    // ---- one run-time labelled series ---------------------------------------------------
    on_many_threads(|t, i| {
        let status = if fails(t, i) {
            Status::Error
        } else {
            Status::Ok
        };
        let elapsed = Duration::from_millis(labelled_ms(t, i));
        kansoku::metrics::record_api_request("/hammer/{id}", "PATCH", status, elapsed);
    });
    let text = telemetry.prometheus_text();
    let series = |status: &str| {
        format!(
            r#"hot_api_requests_total{{endpoint="/hammer/{{id}}",method="PATCH",status="{status}"}}"#
        )
    };
    assert_eq!(value(&text, &series("ok")), (total - errors) as f64);
    assert_eq!(value(&text, &series("error")), errors as f64);
    let labels = r#"endpoint="/hammer/{id}",method="PATCH""#;
    assert_eq!(
        value(&text, &format!("{hist}_count{{{labels}}}")),
        total as f64
    );
    // Every bucket is exact: how many of the reported durations are at most its bound.
    let all = || (0..THREADS).flat_map(|t| (0..CALLS).map(move |i| labelled_ms(t, i)));
    for (le, n) in cumulative_buckets(&text, hist, labels) {
        let expected = all().filter(|&ms| ms as f64 / 1e3 <= le).count();
        assert_eq!(n, expected as f64, "bucket le={le}");
    }
    let expected_ms: u64 = all().sum();
    let sum = value(&text, &format!("{hist}_sum{{{labels}}}"));
    assert!(
        (sum - expected_ms as f64 / 1e3).abs() < 1e-6 * sum,
        "sum {sum} s, expected {expected_ms} ms"
    );
    assert_eq!(
        value(
            &text,
            r#"hot_api_requests_in_flight{endpoint="/hammer/{id}"}"#
        ),
        0.0
    );
}
