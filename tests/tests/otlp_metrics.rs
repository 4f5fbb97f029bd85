//! kansoku's metrics pushed over OTLP/HTTP (protobuf) to a receiver that decodes them with the
//! official protobuf definitions, standing in for an OpenTelemetry Collector (none can be
//! installed here; `kansoku_tests::otlp_receiver`).

// Counts are exact integers in both formats: comparing them as floats is exact.
#![allow(clippy::float_cmp)]

use std::time::{Duration, Instant};

use kansoku::http::KansokuLayer;
use kansoku::metrics::{Counter, Gauge};
use kansoku::otlp::Temporality;
use kansoku::Telemetry;
use kansoku_tests::http_support::Server;
use kansoku_tests::otlp_receiver::{Answer, Receiver};
use opentelemetry_proto::tonic::metrics::v1::{metric, AggregationTemporality};

static RESERVATIONS: Counter<1> = Counter::new("reservations_total", "Reservations.", ["source"]);
static QUEUE: Gauge<0> = Gauge::new("reservation_queue", "Waiting reservations.", []);

#[kansoku::track_api_request(method = "POST", endpoint = "/reservations")]
fn reserve(seat: u32) -> Result<u32, std::io::Error> {
    if seat == 0 {
        return Err(std::io::Error::other("seat taken"));
    }
    RESERVATIONS.increment(["web"]);
    Ok(seat)
}

#[kansoku::track_database_query(operation = "select", table = "shops")]
async fn shops() -> Result<u32, std::io::Error> {
    tokio::task::yield_now().await;
    Ok(3)
}

fn telemetry(receiver: &Receiver, namespace: &str) -> kansoku::TelemetryBuilder {
    Telemetry::builder()
        .namespace(namespace)
        .service_name("shops-api")
        .release("1.4.2")
        .environment("staging")
        .otlp_endpoint(receiver.endpoint())
        // long: only the test's flushes push
        .otlp_export_interval(Duration::from_hours(1))
        .otlp_timeout(Duration::from_secs(2))
}

/// The samples of the Prometheus text under `namespace`.
fn prometheus(text: &str, namespace: &str) -> std::collections::BTreeMap<String, f64> {
    kansoku_tests::samples(text)
        .into_iter()
        .filter(|(series, _)| series.starts_with(&format!("{namespace}_")))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_collector_receives_every_family_with_the_values_of_the_prometheus_text() {
    let receiver = Receiver::start();
    let telemetry = telemetry(&receiver, "pushed")
        .from_env_with(|name| match name {
            "OTEL_RESOURCE_ATTRIBUTES" => Some("k8s.pod.name=shops-7,team=web%20ops".to_owned()),
            "OTEL_EXPORTER_OTLP_HEADERS" => Some("x-api-key=key-1".to_owned()),
            _ => None,
        })
        .build()
        .unwrap();
    let app = axum::Router::new()
        .route("/shops/{id}", axum::routing::get(|| async { "namba" }))
        .layer(KansokuLayer::new(&telemetry));
    let server = Server::start(app).await;
    let client = kansoku_tests::http_client();
    for _ in 0..3 {
        assert_eq!(server.get_status(&client, "/shops/7").await, 200);
    }
    assert_eq!(server.get_status(&client, "/nowhere").await, 404);
    telemetry
        .instrument(async {
            for seat in [1, 2, 0, 4] {
                let _ = reserve(seat);
            }
            shops().await.unwrap();
            QUEUE.set([], 12.5);
            kansoku::metrics::set_db_connections(3, 20);
            kansoku::metrics::record_error("/reservations", "SeatTaken");
        })
        .await;

    assert!(
        telemetry.flush(Duration::from_secs(5)).await,
        "the push was taken"
    );
    let text = telemetry.prometheus_text();
    let pushes = receiver.accepted();
    assert_eq!(pushes.len(), 1, "one push, by the flush");
    let push = &pushes[0];
    assert_eq!(push.path, "/v1/metrics");
    assert_eq!(push.content_type.as_deref(), Some("application/x-protobuf"));
    assert_eq!(
        push.headers.get("x-api-key").map(String::as_str),
        Some("key-1")
    );
    let resource = push.resource();
    for (key, value) in [
        ("service.name", "shops-api"),
        ("service.version", "1.4.2"),
        ("deployment.environment", "staging"),
        ("k8s.pod.name", "shops-7"),
        ("team", "web ops"),
    ] {
        assert_eq!(
            resource.get(key).map(String::as_str),
            Some(value),
            "{resource:?}"
        );
    }

    // every series of the Prometheus text, with its value, and nothing else
    let expected = prometheus(&text, "pushed");
    let samples = push.samples();
    assert_eq!(samples, expected, "the text:\n{text}");
    for series in [
        r#"pushed_api_requests_total{endpoint="/reservations",method="POST",status="error"}"#,
        r#"pushed_database_query_duration_seconds_count{operation="select",table="shops"}"#,
        r#"pushed_http_requests_total{method="GET",route="/shops/{id}",status_code="200"}"#,
        r#"pushed_reservations_total{source="web"}"#,
        "pushed_reservation_queue",
        "pushed_database_connections_max",
        r#"pushed_errors_total{endpoint="/reservations",kind="SeatTaken"}"#,
    ] {
        assert!(samples.contains_key(series), "{series} was not pushed");
    }

    // counters as monotonic cumulative sums, durations as histograms with kansoku's bounds
    for metric in push.metrics() {
        match &metric.data {
            Some(metric::Data::Sum(sum)) => {
                assert!(sum.is_monotonic, "{}", metric.name);
                assert_eq!(
                    sum.aggregation_temporality,
                    AggregationTemporality::Cumulative as i32
                );
            }
            Some(metric::Data::Histogram(histogram)) => {
                assert_eq!(metric.unit, "s");
                for point in &histogram.data_points {
                    let bounds = if metric.name.contains("database") {
                        &kansoku::names::DEFAULT_DB_BUCKETS[..]
                    } else {
                        &kansoku::names::DEFAULT_API_BUCKETS[..]
                    };
                    assert_eq!(point.explicit_bounds, bounds, "{}", metric.name);
                    assert_eq!(point.bucket_counts.len(), bounds.len() + 1);
                }
            }
            Some(metric::Data::Gauge(_)) => {}
            other => panic!("{}: {other:?}", metric.name),
        }
    }
    telemetry.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delta_pushes_add_up_to_the_total_and_a_refused_push_loses_nothing() {
    // the third push is refused as a collector under load refuses it
    let receiver = Receiver::with_policy(|n| Answer::Status(if n == 2 { 503 } else { 200 }));
    let telemetry = telemetry(&receiver, "delta")
        .otlp_temporality(Temporality::Delta)
        .build()
        .unwrap();
    let requests =
        r#"delta_api_requests_total{endpoint="/reservations",method="POST",status="ok"}"#;
    let durations =
        r#"delta_api_request_duration_seconds_count{endpoint="/reservations",method="POST"}"#;
    let calls = |n: u32| {
        let _scope = telemetry.enter();
        for seat in 1..=n {
            reserve(seat).unwrap();
        }
    };
    calls(3);
    assert!(telemetry.flush(Duration::from_secs(5)).await);
    calls(2);
    assert!(telemetry.flush(Duration::from_secs(5)).await);
    calls(4);
    assert!(
        !telemetry.flush(Duration::from_secs(5)).await,
        "the collector refused it"
    );
    let text = telemetry.prometheus_text();
    assert_eq!(
        kansoku_tests::value(
            &text,
            r#"delta_otlp_exports_failed_total{reason="unavailable"}"#
        ),
        1.0
    );
    calls(1);
    assert!(telemetry.flush(Duration::from_secs(5)).await);

    let pushes = receiver.pushes();
    assert_eq!(pushes.len(), 4);
    let of = |i: usize, series: &str| pushes[i].samples().get(series).copied();
    assert_eq!(of(0, requests), Some(3.0));
    assert_eq!(of(1, requests), Some(2.0));
    // the refused push's change is carried by the next one
    assert_eq!(of(3, requests), Some(5.0));
    assert_eq!(of(3, durations), Some(5.0));
    let accepted: f64 = [0, 1, 3].iter().filter_map(|i| of(*i, requests)).sum();
    assert_eq!(
        accepted,
        kansoku_tests::value(&telemetry.prometheus_text(), requests)
    );
    // each delta point starts where the last accepted one ended
    let window = |i: usize| {
        pushes[i]
            .metrics()
            .into_iter()
            .find(|m| m.name == "delta_api_requests_total")
            .and_then(|m| match &m.data {
                Some(metric::Data::Sum(sum)) => {
                    assert_eq!(
                        sum.aggregation_temporality,
                        AggregationTemporality::Delta as i32
                    );
                    sum.data_points
                        .first()
                        .map(|p| (p.start_time_unix_nano, p.time_unix_nano))
                }
                _ => None,
            })
            .unwrap()
    };
    assert_eq!(window(1).0, window(0).1);
    assert_eq!(window(3).0, window(1).1);

    // with no call since, a push carries no point of that series
    assert!(telemetry.flush(Duration::from_secs(5)).await);
    assert_eq!(receiver.pushes()[4].samples().get(requests), None);
    telemetry.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_collector_that_never_answers_slows_no_call_and_shutdown_is_bounded() {
    let receiver = Receiver::with_policy(|_| Answer::Hold);
    let telemetry = telemetry(&receiver, "held")
        .otlp_timeout(Duration::from_millis(300))
        .build()
        .unwrap();
    {
        let _scope = telemetry.enter();
        reserve(1).unwrap();
    }
    // a flush waits no longer than it is told, and says the push was not taken
    let started = Instant::now();
    assert!(!telemetry.flush(Duration::from_secs(2)).await);
    assert!(started.elapsed() < Duration::from_secs(2));
    // calls made meanwhile are recorded as usual
    {
        let _scope = telemetry.enter();
        for seat in 1..=1000 {
            reserve(seat).unwrap();
        }
    }
    let text = telemetry.prometheus_text();
    assert_eq!(
        kansoku_tests::value(
            &text,
            r#"held_api_requests_total{endpoint="/reservations",method="POST",status="ok"}"#
        ),
        1001.0
    );
    // (a retry 1 s later may have timed out too)
    assert!(
        kansoku_tests::value(&text, r#"held_otlp_exports_failed_total{reason="timeout"}"#) >= 1.0
    );
    let health = telemetry
        .health()
        .into_iter()
        .find(|health| health.backend == "otlp")
        .unwrap();
    assert_eq!(health.state, kansoku::BackendState::Down, "{health:?}");
    assert!(
        !health.detail.contains("key") && health.detail.contains(&receiver.endpoint()),
        "{health:?}"
    );
    // shutdown's last push is bounded by the timeout too
    let started = Instant::now();
    telemetry.shutdown().await;
    assert!(started.elapsed() < Duration::from_secs(3));
    receiver.release();
}

#[test]
fn a_bad_otlp_setting_is_an_error_from_build() {
    let error = Telemetry::builder()
        .from_env_with(|name| match name {
            "OTEL_EXPORTER_OTLP_ENDPOINT" => Some("http://127.0.0.1:4318".to_owned()),
            "OTEL_EXPORTER_OTLP_PROTOCOL" => Some("http/json".to_owned()),
            _ => None,
        })
        .build()
        .unwrap_err();
    assert!(error.to_string().contains("http/json"), "{error}");
    // a header's value (an API key) never shows in the builder's debug form
    let builder = Telemetry::builder().otlp_header("x-api-key", "secret-key-3");
    let shown = format!("{builder:?}");
    assert!(
        shown.contains("x-api-key") && !shown.contains("secret-key-3"),
        "{shown}"
    );
    let from_env = Telemetry::builder().from_env_with(|name| {
        (name == "OTEL_EXPORTER_OTLP_HEADERS").then(|| "x-api-key=secret-key-4".to_owned())
    });
    assert!(!format!("{from_env:?}").contains("secret-key-4"));
    // without an endpoint the backend is off, and says why
    let off = Telemetry::builder().build().unwrap();
    let health = off
        .health()
        .into_iter()
        .find(|health| health.backend == "otlp")
        .unwrap();
    assert_eq!(health.state, kansoku::BackendState::Off);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn over_grpc_the_collector_receives_the_same_and_an_unavailable_one_loses_nothing() {
    // the second push is refused with grpc-status 14 (UNAVAILABLE)
    let receiver = Receiver::grpc_with_policy(|n| Answer::Status(if n == 1 { 503 } else { 200 }));
    let telemetry = telemetry(&receiver, "grpc")
        .otlp_protocol(kansoku::otlp::Protocol::Grpc)
        .otlp_header("x-api-key", "key-2")
        .build()
        .unwrap();
    let requests = r#"grpc_api_requests_total{endpoint="/reservations",method="POST",status="ok"}"#;
    let calls = |n: u32| {
        let _scope = telemetry.enter();
        for seat in 1..=n {
            reserve(seat).unwrap();
        }
    };
    calls(2);
    assert!(telemetry.flush(Duration::from_secs(5)).await);
    let first = &receiver.pushes()[0];
    assert_eq!(first.path, kansoku_tests::otlp_receiver::GRPC_EXPORT);
    assert_eq!(first.content_type.as_deref(), Some("application/grpc"));
    assert_eq!(
        first.headers.get("te").map(String::as_str),
        Some("trailers")
    );
    assert_eq!(
        first.headers.get("x-api-key").map(String::as_str),
        Some("key-2")
    );
    assert_eq!(
        first.samples(),
        prometheus(&telemetry.prometheus_text(), "grpc"),
        "the same series and values as the text"
    );

    calls(3);
    assert!(
        !telemetry.flush(Duration::from_secs(5)).await,
        "UNAVAILABLE"
    );
    assert_eq!(
        kansoku_tests::value(
            &telemetry.prometheus_text(),
            r#"grpc_otlp_exports_failed_total{reason="unavailable"}"#
        ),
        1.0
    );
    assert!(telemetry.flush(Duration::from_secs(5)).await);
    let pushes = receiver.pushes();
    assert_eq!(pushes.len(), 3);
    assert_eq!(pushes[2].samples().get(requests), Some(&5.0));
    telemetry.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_push_the_collector_could_not_take_is_tried_again_before_the_next_interval() {
    // down for the first two pushes, then back; the interval is an hour
    let receiver = Receiver::with_policy(|n| Answer::Status(if n < 2 { 503 } else { 200 }));
    let telemetry = telemetry(&receiver, "retried").build().unwrap();
    {
        let _scope = telemetry.enter();
        for seat in 1..=3 {
            reserve(seat).unwrap();
        }
    }
    assert!(!telemetry.flush(Duration::from_secs(5)).await, "503");
    // retried after 1 s, then 2 s: the third try goes through, without a flush
    let deadline = Instant::now() + Duration::from_secs(15);
    while receiver.accepted().is_empty() {
        assert!(
            Instant::now() < deadline,
            "never tried again: {:?}",
            receiver.pushes().len()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let requests =
        r#"retried_api_requests_total{endpoint="/reservations",method="POST",status="ok"}"#;
    assert_eq!(receiver.accepted()[0].samples().get(requests), Some(&3.0));
    assert_eq!(receiver.pushes().len(), 3);
    let text = telemetry.prometheus_text();
    assert_eq!(
        kansoku_tests::value(
            &text,
            r#"retried_otlp_exports_failed_total{reason="unavailable"}"#
        ),
        2.0
    );
    let health = telemetry
        .health()
        .into_iter()
        .find(|health| health.backend == "otlp")
        .unwrap();
    assert_eq!(health.state, kansoku::BackendState::Up, "{health:?}");
    telemetry.shutdown().await;
}
