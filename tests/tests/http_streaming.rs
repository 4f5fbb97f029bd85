//! Streamed responses through the layers, on a real axum server with real clients: a body
//! produced as it goes (server-sent events, a long download) keeps its request in flight until
//! it ends, its duration runs to that end, and a body that ends early — the client gone, or the
//! body failing after its head — is counted as such and marks the request's transaction.

// Counts in the Prometheus text are integers, printed exactly.
#![allow(clippy::float_cmp)]

use std::time::{Duration, Instant};

use axum::body::{Body, Bytes};
use axum::routing::get;
use axum::Router;
use futures::StreamExt as _;
use kansoku::http::KansokuLayer;
use kansoku_tests::http_support::{eventually, Server};
use kansoku_tests::samples;
use kansoku_tests::sentry_support::{sent, telemetry};
use sentry::protocol::{Context, SpanStatus, TraceContext, Transaction};

/// Ten events, one every 200 ms: a 2 s stream.
async fn events() -> Body {
    let stream = futures::stream::unfold(0u32, |n| async move {
        if n == 10 {
            return None;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
        Some((
            Ok::<_, std::io::Error>(Bytes::from(format!("data: {n}\n\n"))),
            n + 1,
        ))
    });
    Body::from_stream(stream)
}

/// 32 MiB, made as it is sent, 64 KiB at a time.
async fn download() -> Body {
    const CHUNK: usize = 64 * 1024;
    let stream = futures::stream::iter(0..512)
        .map(|_| Ok::<_, std::io::Error>(Bytes::from(vec![7u8; CHUNK])));
    Body::from_stream(stream)
}

/// Two chunks, then (once they are out) the storage behind it fails.
async fn broken() -> Body {
    let stream = futures::stream::unfold(0u32, |n| async move {
        let item = match n {
            0 => Ok(Bytes::from_static(b"first,")),
            1 => Ok(Bytes::from_static(b"second,")),
            2 => {
                tokio::time::sleep(Duration::from_millis(200)).await;
                Err(std::io::Error::other("the storage went away"))
            }
            _ => return None,
        };
        Some((item, n + 1))
    });
    Body::from_stream(stream)
}

fn app() -> Router {
    Router::new()
        .route("/events", get(events))
        .route("/download", get(download))
        .route("/broken", get(broken))
        .route("/plain", get(|| async { "plain" }))
}

fn value(text: &str, series: &str) -> f64 {
    samples(text).get(series).copied().unwrap_or(0.0)
}

fn trace_of<'a>(transaction: &'a Transaction<'_>) -> &'a TraceContext {
    match transaction.contexts.get("trace") {
        Some(Context::Trace(trace)) => trace,
        other => panic!("a trace context, not {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_streamed_body_keeps_its_request_in_flight_and_its_duration_runs_to_its_end() {
    let (t, transport) = telemetry(1.0, &[]);
    let server = Server::start(app().layer(KansokuLayer::new(&t))).await;
    let client = kansoku_tests::http_client();
    let started = Instant::now();
    let response = client.get(server.url("/events")).send().await.unwrap();
    assert_eq!(response.status(), 200);
    let reading = tokio::spawn(async move { response.text().await.unwrap() });

    let in_flight = r#"sentry_test_http_requests_in_flight{method="GET",route="/events"}"#;
    tokio::time::sleep(Duration::from_millis(700)).await;
    let text = t.prometheus_text();
    assert_eq!(value(&text, in_flight), 1.0, "still streaming: {text}");
    assert_eq!(
        value(
            &text,
            r#"sentry_test_http_request_duration_seconds_count{method="GET",route="/events"}"#
        ),
        0.0,
        "not ended yet"
    );

    let body = reading.await.unwrap();
    assert_eq!(body.matches("data: ").count(), 10);
    let took = started.elapsed();
    let count = r#"sentry_test_http_request_duration_seconds_count{method="GET",route="/events"}"#;
    eventually("the stream's end to be recorded", || {
        value(&t.prometheus_text(), count) == 1.0
    })
    .await;
    let text = t.prometheus_text();
    let seconds = value(
        &text,
        r#"sentry_test_http_request_duration_seconds_sum{method="GET",route="/events"}"#,
    );
    assert!(
        (1.9..=took.as_secs_f64() + 0.05).contains(&seconds),
        "the whole stream: {seconds} s of {took:?}"
    );
    assert_eq!(value(&text, in_flight), 0.0);
    assert_eq!(
        value(
            &text,
            r#"sentry_test_http_requests_total{method="GET",route="/events",status_code="200"}"#
        ),
        1.0
    );
    assert!(!text.contains("http_responses_incomplete_total{"), "{text}");

    // a body known whole at the head is recorded at once, as before
    assert_eq!(server.get_status(&client, "/plain").await, 200);
    assert_eq!(
        value(
            &t.prometheus_text(),
            r#"sentry_test_http_request_duration_seconds_count{method="GET",route="/plain"}"#
        ),
        1.0
    );

    let sent = sent(&t, &transport).await;
    let stream = sent
        .transactions
        .iter()
        .find(|tx| tx.name.as_deref() == Some("GET /events"))
        .expect("the stream's transaction");
    let lasted = stream
        .timestamp
        .expect("finished")
        .duration_since(stream.start_timestamp)
        .unwrap();
    assert!(lasted >= Duration::from_millis(1900), "{lasted:?}");
    assert_eq!(trace_of(stream).status, Some(SpanStatus::Ok));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_leaves_a_download_halfway_is_counted_as_ended_early() {
    let (t, transport) = telemetry(1.0, &[]);
    let server = Server::start(app().layer(KansokuLayer::new(&t))).await;
    let client = kansoku_tests::http_client();
    let mut response = client.get(server.url("/download")).send().await.unwrap();
    assert_eq!(response.status(), 200);
    let mut read = 0;
    while read < 16 * 1024 * 1024 {
        read += response.chunk().await.unwrap().expect("more").len();
    }
    drop(response); // the client goes away halfway

    let gone = r#"sentry_test_http_responses_incomplete_total{method="GET",reason="client_gone",route="/download"}"#;
    eventually("the download to be counted as ended early", || {
        value(&t.prometheus_text(), gone) == 1.0
    })
    .await;
    let text = t.prometheus_text();
    assert_eq!(
        value(
            &text,
            r#"sentry_test_http_requests_in_flight{method="GET",route="/download"}"#
        ),
        0.0
    );
    // counted once: the head's status, not also `cancelled`
    assert_eq!(
        value(
            &text,
            r#"sentry_test_http_requests_total{method="GET",route="/download",status_code="200"}"#
        ),
        1.0
    );
    assert!(!text.contains(r#"route="/download",status_code="cancelled""#));

    let sent = sent(&t, &transport).await;
    assert_eq!(sent.transactions.len(), 1);
    let trace = trace_of(&sent.transactions[0]);
    assert_eq!(trace.status, Some(SpanStatus::Cancelled));
    assert_eq!(
        trace.data.get("http.response.incomplete"),
        Some(&"client_gone".into())
    );
    assert_eq!(
        trace.data.get("http.response.status_code"),
        Some(&200.into())
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_body_that_fails_after_its_head_marks_the_request_and_its_transaction() {
    let (t, transport) = telemetry(1.0, &[]);
    let server = Server::start(app().layer(KansokuLayer::new(&t))).await;
    let client = kansoku_tests::http_client();
    let response = client.get(server.url("/broken")).send().await.unwrap();
    assert_eq!(response.status(), 200, "the head went out first");
    assert!(response.text().await.is_err(), "the body broke off");

    let failed = r#"sentry_test_http_responses_incomplete_total{method="GET",reason="body_error",route="/broken"}"#;
    eventually("the failed body to be counted", || {
        value(&t.prometheus_text(), failed) == 1.0
    })
    .await;
    let text = t.prometheus_text();
    assert_eq!(
        value(
            &text,
            r#"sentry_test_http_requests_total{method="GET",route="/broken",status_code="200"}"#
        ),
        1.0
    );
    assert_eq!(
        value(
            &text,
            r#"sentry_test_http_requests_in_flight{method="GET",route="/broken"}"#
        ),
        0.0
    );

    let sent = sent(&t, &transport).await;
    assert_eq!(sent.transactions.len(), 1);
    let trace = trace_of(&sent.transactions[0]);
    assert_eq!(trace.status, Some(SpanStatus::InternalError));
    assert_eq!(
        trace.data.get("http.response.incomplete"),
        Some(&"body_error".into())
    );
}
