//! The Prometheus text a user reads after calling annotated functions: exact values for every
//! outcome, for concurrent calls on a multi-threaded runtime, and for the cardinality bound.
//! Each test records into its own `Telemetry` (built, not installed), so they run in parallel.
// Handlers here stand in for real ones with trivial bodies; clippy sees them as written.
#![allow(clippy::unused_async, clippy::unnecessary_wraps)]
// Counts are exact integers in the text format: comparing them as floats is exact.
#![allow(clippy::float_cmp, clippy::cast_precision_loss)]

use std::sync::Arc;
use std::time::Duration;

use kansoku::metrics::{Counter, Gauge};
use kansoku::{Status, Telemetry};
use kansoku_tests::{series_of, value};

#[derive(Debug)]
struct CheckoutError;
impl std::fmt::Display for CheckoutError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("card declined")
    }
}
impl std::error::Error for CheckoutError {}

#[kansoku::track_api_request(method = "POST", endpoint = "/checkout")]
async fn checkout(total: u64) -> Result<u64, CheckoutError> {
    tokio::task::yield_now().await;
    match total {
        0 => Err(CheckoutError),
        13 => panic!("unlucky cart"),
        _ => Ok(total),
    }
}

#[kansoku::track_api_request(method = "GET", endpoint = "/slow")]
async fn slow(release: Arc<tokio::sync::Notify>) {
    release.notified().await;
}

#[kansoku::track_database_query("select", "shops")]
async fn fetch_shops(fail: bool) -> Result<Vec<&'static str>, std::io::Error> {
    tokio::task::yield_now().await;
    if fail {
        return Err(std::io::Error::other("connection reset"));
    }
    Ok(vec!["namba", "umeda"])
}

#[kansoku::track_database_query(operation = "insert", table = "reservations")]
fn insert_reservation(id: u64) -> Result<u64, std::io::Error> {
    assert!(id != 0, "id 0 is reserved");
    Ok(id)
}

#[kansoku::monitor_api_endpoint]
#[kansoku::track_api_request(method = "GET", endpoint = "/shops")]
async fn get_shops(fail: bool) -> Result<usize, std::io::Error> {
    Ok(fetch_shops(fail).await?.len())
}

fn telemetry(ns: &str) -> Telemetry {
    Telemetry::builder()
        .namespace(ns)
        .build()
        .expect("valid configuration")
}

#[tokio::test]
async fn every_outcome_is_counted_exactly() {
    let t = telemetry("shop");
    t.instrument(async {
        for total in [1, 2, 3] {
            checkout(total).await.unwrap();
        }
        checkout(0).await.unwrap_err();
        checkout(0).await.unwrap_err();
    })
    .await;
    // a panic, on its own task so the test survives it
    let panicked = tokio::spawn(t.instrument(checkout(13))).await.unwrap_err();
    assert!(panicked.is_panic());
    // a cancelled call: the future is dropped while it waits
    let never = Arc::new(tokio::sync::Notify::new());
    let timed_out = tokio::time::timeout(Duration::from_millis(5), t.instrument(slow(never))).await;
    assert!(timed_out.is_err());

    let text = t.prometheus_text();
    let ok = r#"shop_api_requests_total{endpoint="/checkout",method="POST",status="ok"}"#;
    assert_eq!(value(&text, ok), 3.0);
    assert_eq!(
        value(
            &text,
            r#"shop_api_requests_total{endpoint="/checkout",method="POST",status="error"}"#
        ),
        2.0
    );
    assert_eq!(
        value(
            &text,
            r#"shop_api_requests_total{endpoint="/checkout",method="POST",status="panic"}"#
        ),
        1.0
    );
    assert_eq!(
        value(
            &text,
            r#"shop_api_requests_total{endpoint="/slow",method="GET",status="cancelled"}"#
        ),
        1.0
    );
    assert_eq!(
        series_of(&text, "shop_api_requests_total").len(),
        4,
        "{text}"
    );
    assert_eq!(
        value(
            &text,
            r#"shop_api_request_duration_seconds_count{endpoint="/checkout",method="POST"}"#
        ),
        6.0
    );
    assert_eq!(
        value(
            &text,
            r#"shop_api_request_duration_seconds_bucket{endpoint="/checkout",method="POST",le="+Inf"}"#
        ),
        6.0
    );
    assert_eq!(
        value(
            &text,
            r#"shop_api_request_duration_seconds_count{endpoint="/slow",method="GET"}"#
        ),
        1.0
    );
    // the cancelled call waited at least its 5 ms
    assert!(
        value(
            &text,
            r#"shop_api_request_duration_seconds_sum{endpoint="/slow",method="GET"}"#
        ) >= 0.004
    );
    assert_eq!(
        value(
            &text,
            r#"shop_api_requests_in_flight{endpoint="/checkout"}"#
        ),
        0.0
    );
    assert_eq!(
        value(&text, r#"shop_api_requests_in_flight{endpoint="/slow"}"#),
        0.0
    );
}

#[tokio::test]
async fn in_flight_counts_calls_in_progress() {
    let t = telemetry("flight");
    let release = Arc::new(tokio::sync::Notify::new());
    let calls: Vec<_> = (0..3)
        .map(|_| tokio::spawn(t.instrument(slow(release.clone()))))
        .collect();
    wait_for(
        &t,
        r#"flight_api_requests_in_flight{endpoint="/slow"}"#,
        3.0,
    )
    .await;
    assert_eq!(
        value(
            &t.prometheus_text(),
            r#"flight_api_requests_in_flight{endpoint="/slow"}"#
        ),
        3.0
    );
    release.notify_waiters();
    for call in calls {
        call.await.unwrap();
    }
    let text = t.prometheus_text();
    assert_eq!(
        value(&text, r#"flight_api_requests_in_flight{endpoint="/slow"}"#),
        0.0
    );
    assert_eq!(
        value(
            &text,
            r#"flight_api_requests_total{endpoint="/slow",method="GET",status="ok"}"#
        ),
        3.0
    );
}

/// Waits until `series` reaches `at_least`; fails after 10 s instead of hanging.
async fn wait_for(t: &Telemetry, series: &str, at_least: f64) {
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while value_or_zero(&t.prometheus_text(), series) < at_least {
        assert!(
            std::time::Instant::now() < deadline,
            "{series} never reached {at_least}"
        );
        tokio::task::yield_now().await;
    }
}

fn value_or_zero(text: &str, series: &str) -> f64 {
    kansoku_tests::samples(text)
        .get(series)
        .copied()
        .unwrap_or(0.0)
}

#[tokio::test]
async fn histogram_buckets_are_cumulative_and_configurable() {
    let t = Telemetry::builder()
        .namespace("hist")
        // Wide margins: a loaded 2-core CI machine once took over 1 ms for a call that
        // only yields, so the fast bucket is 20 ms and the slow call is held 350 ms.
        .api_duration_buckets([0.02, 0.3, 60.0])
        .build()
        .unwrap();
    let release = Arc::new(tokio::sync::Notify::new());
    t.instrument(async {
        checkout(1).await.unwrap(); // well under 20 ms
        let held = tokio::spawn(t.instrument(slow(release.clone())));
        tokio::time::sleep(Duration::from_millis(350)).await; // between 0.3 and 60
        release.notify_waiters();
        held.await.unwrap();
    })
    .await;
    let text = t.prometheus_text();
    let bucket = |le: &str| {
        value(
            &text,
            &format!(
                r#"hist_api_request_duration_seconds_bucket{{endpoint="/slow",method="GET",le="{le}"}}"#
            ),
        )
    };
    assert_eq!(
        (bucket("0.02"), bucket("0.3"), bucket("60"), bucket("+Inf")),
        (0.0, 0.0, 1.0, 1.0)
    );
    let fast = value(
        &text,
        r#"hist_api_request_duration_seconds_bucket{endpoint="/checkout",method="POST",le="0.02"}"#,
    );
    assert_eq!(fast, 1.0);
    assert!(Telemetry::builder()
        .api_duration_buckets([0.5, 0.1])
        .build()
        .is_err());
}

#[tokio::test]
async fn database_queries_by_operation_table_and_status() {
    let t = telemetry("db");
    t.instrument(async {
        assert_eq!(get_shops(false).await.unwrap(), 2);
        get_shops(true).await.unwrap_err();
        insert_reservation(7).unwrap();
        std::panic::catch_unwind(|| insert_reservation(0)).unwrap_err();
        kansoku::metrics::set_db_connections(3, 20);
    })
    .await;
    let text = t.prometheus_text();
    assert_eq!(
        value(
            &text,
            r#"db_database_queries_total{operation="select",status="ok",table="shops"}"#
        ),
        1.0
    );
    assert_eq!(
        value(
            &text,
            r#"db_database_queries_total{operation="select",status="error",table="shops"}"#
        ),
        1.0
    );
    assert_eq!(
        value(
            &text,
            r#"db_database_queries_total{operation="insert",status="ok",table="reservations"}"#
        ),
        1.0
    );
    assert_eq!(
        value(
            &text,
            r#"db_database_queries_total{operation="insert",status="panic",table="reservations"}"#
        ),
        1.0
    );
    assert_eq!(
        value(
            &text,
            r#"db_database_query_duration_seconds_count{operation="select",table="shops"}"#
        ),
        2.0
    );
    assert_eq!(
        value(
            &text,
            r#"db_database_query_duration_seconds_count{operation="insert",table="reservations"}"#
        ),
        2.0
    );
    // the endpoint around the query: its error is counted by type (under the endpoint of the
    // stacked `track_api_request`, so the two join), its request by status
    assert_eq!(
        value(&text, r#"db_errors_total{endpoint="/shops",kind="Error"}"#),
        1.0
    );
    assert_eq!(
        value(
            &text,
            r#"db_api_requests_total{endpoint="/shops",method="GET",status="error"}"#
        ),
        1.0
    );
    assert_eq!(value(&text, "db_database_connections_used"), 3.0);
    assert_eq!(value(&text, "db_database_connections_max"), 20.0);
}

#[kansoku::monitor_api_endpoint(name = "reserve")]
fn reserve(seat: u32) -> Result<u32, CheckoutError> {
    match seat {
        0 => Err(CheckoutError),
        99 => panic!("no such seat"),
        s => Ok(s),
    }
}

#[test]
fn monitored_endpoints_count_errors_by_type_and_panics() {
    let t = telemetry("mon");
    let _current = t.enter();
    reserve(1).unwrap();
    reserve(0).unwrap_err();
    reserve(0).unwrap_err();
    std::panic::catch_unwind(|| reserve(99)).unwrap_err();
    let text = t.prometheus_text();
    assert_eq!(
        value(
            &text,
            r#"mon_errors_total{endpoint="reserve",kind="CheckoutError"}"#
        ),
        2.0
    );
    assert_eq!(
        value(
            &text,
            r#"mon_errors_total{endpoint="reserve",kind="panic"}"#
        ),
        1.0
    );
    assert_eq!(series_of(&text, "mon_errors_total").len(), 2, "{text}");
}

#[test]
fn concurrent_calls_on_a_multi_threaded_runtime_add_up_exactly() {
    const TASKS: u64 = 16;
    const CALLS: u64 = 500;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(4)
        .build()
        .unwrap();
    let t = telemetry("conc");
    runtime.block_on(async {
        let tasks: Vec<_> = (0..TASKS)
            .map(|task| {
                tokio::spawn(t.instrument(async move {
                    for i in 0..CALLS {
                        // every 5th call fails; the calls hop threads at each yield
                        let total = if (task + i) % 5 == 0 { 0 } else { 7 };
                        let _ = checkout(total).await;
                        let _ = fetch_shops(i % 2 == 0).await;
                    }
                }))
            })
            .collect();
        for task in tasks {
            task.await.unwrap();
        }
    });
    let text = t.prometheus_text();
    let total = TASKS * CALLS;
    let errors = (0..TASKS)
        .flat_map(|t| (0..CALLS).map(move |i| t + i))
        .filter(|n| n % 5 == 0)
        .count() as f64;
    assert_eq!(
        value(
            &text,
            r#"conc_api_requests_total{endpoint="/checkout",method="POST",status="error"}"#
        ),
        errors
    );
    assert_eq!(
        value(
            &text,
            r#"conc_api_requests_total{endpoint="/checkout",method="POST",status="ok"}"#
        ),
        total as f64 - errors
    );
    assert_eq!(
        value(
            &text,
            r#"conc_api_request_duration_seconds_count{endpoint="/checkout",method="POST"}"#
        ),
        total as f64
    );
    assert_eq!(
        value(
            &text,
            r#"conc_database_queries_total{operation="select",status="ok",table="shops"}"#
        ),
        (total / 2) as f64
    );
    assert_eq!(
        value(
            &text,
            r#"conc_database_queries_total{operation="select",status="error",table="shops"}"#
        ),
        (total / 2) as f64
    );
    assert_eq!(
        value(
            &text,
            r#"conc_api_requests_in_flight{endpoint="/checkout"}"#
        ),
        0.0
    );
}

#[tokio::test]
async fn two_instances_in_one_process_see_only_their_own_calls() {
    let (a, b) = (telemetry("iso"), telemetry("iso"));
    let run = |t: &Telemetry, n: u64| {
        let t = t.clone();
        tokio::spawn(t.clone().instrument(async move {
            for _ in 0..n {
                checkout(5).await.unwrap();
            }
        }))
    };
    let (ja, jb) = (run(&a, 30), run(&b, 70));
    ja.await.unwrap();
    jb.await.unwrap();
    let ok = r#"iso_api_requests_total{endpoint="/checkout",method="POST",status="ok"}"#;
    assert_eq!(value(&a.prometheus_text(), ok), 30.0);
    assert_eq!(value(&b.prometheus_text(), ok), 70.0);
}

static RESERVATIONS: Counter<2> = Counter::new(
    "reservations_total",
    "Reservations by status and source.",
    ["status", "source"],
);
static ACTIVE_USERS: Gauge<1> = Gauge::new("active_users", "Active users by type.", ["user_type"]);

#[test]
fn business_metrics_are_one_line_each_and_bounded() {
    let t = Telemetry::builder()
        .namespace("biz")
        .max_series_per_metric(5)
        .build()
        .unwrap();
    let _current = t.enter();
    RESERVATIONS.increment(["confirmed", "web"]);
    RESERVATIONS.increment(["confirmed", "web"]);
    RESERVATIONS.increment(["cancelled", "phone"]);
    ACTIVE_USERS.set(["member"], 42.0);
    ACTIVE_USERS.set(["guest"], 7.5);
    ACTIVE_USERS.set(["member"], 40.0);
    // a label fed from data: 100 distinct values, only 5 label sets are kept
    for user in 0..100 {
        RESERVATIONS.increment(["confirmed", &format!("user-{user}")]);
    }
    let text = t.prometheus_text();
    assert_eq!(
        value(
            &text,
            r#"biz_reservations_total{source="web",status="confirmed"}"#
        ),
        2.0
    );
    assert_eq!(
        value(
            &text,
            r#"biz_reservations_total{source="phone",status="cancelled"}"#
        ),
        1.0
    );
    assert_eq!(
        value(&text, r#"biz_active_users{user_type="member"}"#),
        40.0
    );
    assert_eq!(value(&text, r#"biz_active_users{user_type="guest"}"#), 7.5);
    let series = series_of(&text, "biz_reservations_total");
    assert_eq!(
        series.len(),
        6,
        "5 label sets + the overflow series: {text}"
    );
    assert_eq!(
        value(
            &text,
            r#"biz_reservations_total{source="__overflow__",status="__overflow__"}"#
        ),
        97.0
    );
    assert_eq!(
        value(
            &text,
            r#"biz_metric_series_overflow_total{metric="biz_reservations_total"}"#
        ),
        97.0
    );
    assert_eq!(series.values().sum::<f64>(), 103.0, "no count is lost");
}

#[test]
fn run_time_endpoints_are_bounded_too() {
    let t = Telemetry::builder()
        .namespace("dyn")
        .max_series_per_metric(10)
        .build()
        .unwrap();
    let _current = t.enter();
    for i in 0..1000 {
        let path = format!("/shops/{i}"); // a raw path where a route template belonged
        kansoku::metrics::record_api_request(&path, "GET", Status::Ok, Duration::from_millis(3));
    }
    let text = t.prometheus_text();
    assert_eq!(series_of(&text, "dyn_api_requests_total").len(), 11);
    assert_eq!(
        value(
            &text,
            r#"dyn_api_requests_total{endpoint="__overflow__",method="__overflow__",status="ok"}"#
        ),
        990.0
    );
    assert_eq!(
        value(
            &text,
            r#"dyn_metric_series_overflow_total{metric="dyn_api_requests_total"}"#
        ),
        990.0
    );
    assert_eq!(
        value(
            &text,
            r#"dyn_api_request_duration_seconds_bucket{endpoint="/shops/0",method="GET",le="0.005"}"#
        ),
        1.0
    );
}

struct ShopRepo;

impl ShopRepo {
    // a method is what this test is about; clippy rightly sees the unused `self` through the
    // attribute
    #[allow(clippy::unused_self)]
    #[kansoku::track_api_request(method = "GET")]
    fn list(&self) -> Vec<u8> {
        vec![1]
    }
}

#[test]
fn a_method_is_named_by_its_type() {
    let t = telemetry("named");
    let _current = t.enter();
    ShopRepo.list();
    let text = t.prometheus_text();
    assert_eq!(
        value(
            &text,
            r#"named_api_requests_total{endpoint="ShopRepo::list",method="GET",status="ok"}"#
        ),
        1.0
    );
}

#[test]
fn opentelemetry_instruments_share_the_exposition_without_scope_labels() {
    use opentelemetry::KeyValue;
    let t = telemetry("mix");
    let counter = t.meter("shops").u64_counter("logins").build();
    counter.add(2, &[KeyValue::new("provider", "line")]);
    let text = t.prometheus_text();
    assert_eq!(
        value(&text, r#"mix_logins_total{provider="line"}"#),
        2.0,
        "{text}"
    );
    assert!(!text.contains("otel_scope"), "{text}");
    assert!(!text.contains("target_info"), "{text}");
}

#[test]
fn a_bad_namespace_is_an_error_from_start_up() {
    let err = Telemetry::builder()
        .namespace("my-shop")
        .build()
        .unwrap_err();
    assert_eq!(err, kansoku::Error::InvalidNamespace("my-shop".into()));
    assert!(err.to_string().contains("my-shop"));
}

/// A future built by a non-`move` `async` block is the call: its error is counted, and the call
/// is in flight until the future ends, not only while it is built.
#[kansoku::track_api_request(method = "GET", endpoint = "/later")]
fn later(
    release: Arc<tokio::sync::Notify>,
) -> impl std::future::Future<Output = Result<u8, CheckoutError>> {
    let wait = async move { release.notified().await };
    async {
        wait.await;
        Err(CheckoutError)
    }
}

#[derive(Debug)]
struct Borrowed<'a>(&'a str);
impl std::fmt::Display for Borrowed<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.0)
    }
}
impl std::error::Error for Borrowed<'_> {}

#[kansoku::monitor_api_endpoint(name = "parse")]
fn parse_borrowed(input: &str) -> Result<u8, Borrowed<'_>> {
    input.parse().map_err(|_| Borrowed(input))
}

/// `#[track_caller]` runs the body inline: a `?` that leaves the function is an `error` of the
/// declared error type, an early `return Ok(..)` is `ok`.
#[kansoku::track_api_request(method = "POST", endpoint = "/caller")]
#[track_caller]
fn tracked(input: &str) -> Result<u8, std::num::ParseIntError> {
    if input == "zero" {
        return Ok(0);
    }
    let parsed = input.parse::<u8>()?;
    Ok(parsed)
}

#[tokio::test]
async fn every_function_shape_records_its_real_outcome() {
    let t = telemetry("shape");
    let _current = t.enter();

    let release = Arc::new(tokio::sync::Notify::new());
    let pending = tokio::spawn(t.instrument(later(release.clone())));
    wait_for(
        &t,
        r#"shape_api_requests_in_flight{endpoint="/later"}"#,
        1.0,
    )
    .await;
    release.notify_one();
    assert!(pending.await.unwrap().is_err());

    assert_eq!(parse_borrowed("7").unwrap(), 7);
    assert!(parse_borrowed("x").is_err());

    assert_eq!(tracked("zero").unwrap(), 0);
    assert_eq!(tracked("3").unwrap(), 3);
    assert!(tracked("x").is_err());
    assert!(tracked("").is_err());

    let text = t.prometheus_text();
    let count = |series: &str| value(&text, series);
    assert_eq!(
        count(r#"shape_api_requests_total{endpoint="/later",method="GET",status="error"}"#),
        1.0
    );
    assert_eq!(
        count(r#"shape_api_requests_in_flight{endpoint="/later"}"#),
        0.0
    );
    assert_eq!(
        count(r#"shape_errors_total{endpoint="parse",kind="Borrowed"}"#),
        1.0
    );
    assert_eq!(
        count(r#"shape_api_requests_total{endpoint="/caller",method="POST",status="ok"}"#),
        2.0
    );
    assert_eq!(
        count(r#"shape_api_requests_total{endpoint="/caller",method="POST",status="error"}"#),
        2.0
    );
    assert_eq!(
        series_of(&text, "shape_api_requests_total")
            .iter()
            .filter(|(labels, _)| labels.contains("/caller"))
            .count(),
        2,
        "no `cancelled` or other status for the inline body: {text}"
    );
}

/// A request whose route is known only at run time is in flight from its start, counted with
/// its status at its end, and counted as cancelled when dropped unfinished.
#[test]
fn a_run_time_request_is_in_flight_until_it_ends() {
    let t = telemetry("dyn");
    let _current = t.enter();
    let first = kansoku::metrics::start_api_request("/shops/{id}", "GET");
    let second = kansoku::metrics::start_api_request("/shops/{id}", "GET");
    let in_flight = r#"dyn_api_requests_in_flight{endpoint="/shops/{id}"}"#;
    assert_eq!(value(&t.prometheus_text(), in_flight), 2.0);
    first.finish(Status::Error);
    drop(second);
    let text = t.prometheus_text();
    assert_eq!(value(&text, in_flight), 0.0);
    assert_eq!(
        value(
            &text,
            r#"dyn_api_requests_total{endpoint="/shops/{id}",method="GET",status="error"}"#
        ),
        1.0
    );
    assert_eq!(
        value(
            &text,
            r#"dyn_api_requests_total{endpoint="/shops/{id}",method="GET",status="cancelled"}"#
        ),
        1.0
    );
}
