//! Sampled requests and calls sent as OpenTelemetry spans over OTLP, to a receiver that decodes
//! them with the official protobuf definitions (`kansoku_tests::otlp_receiver`, standing in for
//! an OpenTelemetry Collector, Jaeger or Tempo: none can be installed here). With Sentry (a
//! loopback ingest server taking the transactions over kansoku's real transport) and without
//! a DSN at all.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use axum::routing::get;
use kansoku::http::KansokuLayer;
use kansoku::Telemetry;
use kansoku_tests::http_support::Server;
use kansoku_tests::otlp_receiver::{hex, span_attributes, Answer, Receiver};
use kansoku_tests::sentry_ingest::Ingest;
use opentelemetry_proto::tonic::trace::v1::{span::SpanKind, status::StatusCode, Span};

#[kansoku::track_database_query("select", "shops")]
async fn fetch_shop(id: u32) -> Result<String, std::io::Error> {
    tokio::task::yield_now().await;
    Ok(format!("shop {id}"))
}

/// What the handler saw: the headers `inject_trace_headers` writes for a downstream call.
#[kansoku::monitor_api_endpoint]
async fn show_shop(
    axum::extract::Path(id): axum::extract::Path<u32>,
) -> Result<String, (http::StatusCode, String)> {
    let shop = fetch_shop(id)
        .await
        .map_err(|e| (http::StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?;
    if id == 500 {
        return Err((
            http::StatusCode::INTERNAL_SERVER_ERROR,
            "broken shop".to_owned(),
        ));
    }
    let mut downstream = http::HeaderMap::new();
    kansoku::http::inject_trace_headers(&mut downstream);
    let traceparent = downstream
        .get("traceparent")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    Ok(format!("{shop}|{traceparent}"))
}

fn app(telemetry: &Telemetry) -> axum::Router {
    axum::Router::new()
        .route("/shops/{id}", get(show_shop))
        .layer(KansokuLayer::new(telemetry))
}

fn builder(receiver: &Receiver, namespace: &str) -> kansoku::TelemetryBuilder {
    Telemetry::builder()
        .namespace(namespace)
        .service_name("shops-api")
        .otlp_endpoint(receiver.endpoint())
        .otlp_export_interval(Duration::from_hours(1))
        .otlp_timeout(Duration::from_secs(2))
}

/// The requests' spans (the endpoint's span carries the request's name too, as its Sentry
/// span does), by name.
fn requests(spans: &[Span]) -> BTreeMap<String, usize> {
    let mut out = BTreeMap::new();
    for span in spans.iter().filter(|s| s.kind == SpanKind::Server as i32) {
        *out.entry(span.name.clone()).or_default() += 1;
    }
    out
}

/// The spans of one trace: the request's, its endpoint's and its query's.
fn one_trace<'a>(spans: &'a [Span], trace_id: &str) -> (&'a Span, &'a Span, &'a Span) {
    let of_trace: Vec<&Span> = spans
        .iter()
        .filter(|s| hex(&s.trace_id) == trace_id)
        .collect();
    assert_eq!(of_trace.len(), 3, "request, endpoint, query: {of_trace:#?}");
    let find = |kind: SpanKind| {
        *of_trace
            .iter()
            .find(|s| s.kind == kind as i32)
            .unwrap_or_else(|| panic!("a {kind:?} span in {of_trace:#?}"))
    };
    (
        find(SpanKind::Server),
        find(SpanKind::Internal),
        find(SpanKind::Client),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sampled_request_arrives_as_linked_spans_in_the_trace_of_its_sentry_transaction_and_its_traceparent(
) {
    let receiver = Receiver::start();
    let ingest = Ingest::start();
    let telemetry = builder(&receiver, "traced")
        .sentry_dsn(ingest.dsn())
        .traces_sample_rate(1.0)
        .build()
        .unwrap();
    let server = Server::start(app(&telemetry)).await;
    let client = kansoku_tests::http_client();
    let body = client
        .get(server.url("/shops/7"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let (shop, traceparent) = body.split_once('|').unwrap();
    assert_eq!(shop, "shop 7");
    // 00-TRACE-SPAN-01: the downstream call is a child of the innermost sampled span
    let parts: Vec<&str> = traceparent.split('-').collect();
    assert_eq!(parts.len(), 4, "{traceparent}");
    let (trace_id, downstream_parent) = (parts[1].to_owned(), parts[2].to_owned());
    assert_eq!(parts[3], "01");

    assert!(telemetry.flush(Duration::from_secs(10)).await);
    let spans = receiver.accepted_spans();
    let (request, endpoint, query) = one_trace(&spans, &trace_id);

    // names, kinds, attributes
    assert_eq!(request.name, "GET /shops/{id}");
    let attributes = span_attributes(request);
    assert_eq!(attributes["http.request.method"], "GET");
    assert_eq!(attributes["http.route"], "/shops/{id}");
    assert_eq!(attributes["http.response.status_code"], "200");
    assert_eq!(query.name, "SELECT shops");
    let attributes = span_attributes(query);
    assert_eq!(attributes["db.operation.name"], "select");
    assert_eq!(attributes["db.collection.name"], "shops");
    assert!(span_attributes(endpoint)["code.function.name"].ends_with("::show_shop"));

    // links: request <- endpoint <- query; the downstream call's parent is a span of the trace
    assert!(request.parent_span_id.is_empty(), "a root: {request:?}");
    assert_eq!(endpoint.parent_span_id, request.span_id);
    assert_eq!(query.parent_span_id, endpoint.span_id);
    assert_eq!(hex(&endpoint.span_id), downstream_parent);
    for span in [request, endpoint, query] {
        assert!(span.end_time_unix_nano >= span.start_time_unix_nano);
        assert!(span.start_time_unix_nano >= request.start_time_unix_nano);
        assert!(span.status.is_none(), "{span:?}");
        assert_eq!(span.flags & 0x1, 1, "sampled");
    }

    // the Sentry transaction of the same request: same trace, same root span
    telemetry.flush(Duration::from_secs(10)).await;
    let transactions = ingest.transactions();
    let transaction = transactions
        .iter()
        .find(|t| t["contexts"]["trace"]["trace_id"] == trace_id.as_str())
        .unwrap_or_else(|| panic!("a Sentry transaction of trace {trace_id}: {transactions:#?}"));
    assert_eq!(transaction["transaction"], "GET /shops/{id}");
    assert_eq!(
        transaction["contexts"]["trace"]["span_id"],
        hex(&request.span_id).as_str()
    );
    let child_ids: Vec<&str> = transaction["spans"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["span_id"].as_str().unwrap())
        .collect();
    assert!(child_ids.contains(&hex(&endpoint.span_id).as_str()));
    assert!(child_ids.contains(&hex(&query.span_id).as_str()));
    telemetry.shutdown().await;
}

/// A caller's trace, in W3C's form.
const TRACE: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
const PARENT: &str = "00f067aa0ba902b7";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_dsn_spans_continue_the_callers_traceparent_and_a_server_error_is_an_error() {
    let receiver = Receiver::start();
    let telemetry = builder(&receiver, "nodsn")
        .traces_sample_rate(1.0)
        .build()
        .unwrap();
    let health = telemetry.health();
    let sentry = health
        .iter()
        .find(|b| b.backend == "sentry")
        .expect("the trace context's backend");
    assert!(sentry.detail.contains("no DSN"), "{sentry:?}");

    let server = Server::start(app(&telemetry)).await;
    let client = kansoku_tests::http_client();
    let continued = client
        .get(server.url("/shops/8"))
        .header("traceparent", format!("00-{TRACE}-{PARENT}-01"))
        .send()
        .await
        .unwrap();
    assert_eq!(continued.status(), 200);
    let failed = client.get(server.url("/shops/500")).send().await.unwrap();
    assert_eq!(failed.status(), 500);
    assert!(telemetry.flush(Duration::from_secs(10)).await);

    let spans = receiver.accepted_spans();
    let (request, _, _) = one_trace(&spans, TRACE);
    assert_eq!(hex(&request.parent_span_id), PARENT, "the caller's span");
    assert_eq!(request.flags & 0x300, 0x300, "its parent is remote");

    let broken: Vec<&Span> = spans
        .iter()
        .filter(|s| hex(&s.trace_id) != TRACE && s.kind == SpanKind::Server as i32)
        .collect();
    assert_eq!(broken.len(), 1, "{spans:#?}");
    let status = broken[0].status.as_ref().expect("a status");
    assert_eq!(status.code, StatusCode::Error as i32);
    assert_eq!(
        span_attributes(broken[0])["http.response.status_code"],
        "500"
    );
    // the endpoint that returned the error failed too
    let endpoint = spans
        .iter()
        .find(|s| s.parent_span_id == broken[0].span_id)
        .expect("the endpoint's span");
    assert_eq!(
        endpoint.status.as_ref().map(|s| s.code),
        Some(StatusCode::Error as i32)
    );
    telemetry.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unsampled_requests_send_no_span_and_the_rate_can_come_from_otel_traces_sampler() {
    let receiver = Receiver::start();
    // the standard variables: a ratio of 0 samples nothing, so no trace context is kept at all
    let telemetry = builder(&receiver, "off")
        .from_env_with(|name| match name {
            "OTEL_TRACES_SAMPLER" => Some("traceidratio".to_owned()),
            "OTEL_TRACES_SAMPLER_ARG" => Some("0".to_owned()),
            _ => None,
        })
        .build()
        .unwrap();
    let server = Server::start(app(&telemetry)).await;
    let client = kansoku_tests::http_client();
    for _ in 0..20 {
        assert_eq!(server.get_status(&client, "/shops/1").await, 200);
    }
    assert!(telemetry.flush(Duration::from_secs(10)).await);
    assert!(receiver.trace_pushes().is_empty());
    telemetry.shutdown().await;

    let receiver = Receiver::start();
    let telemetry = builder(&receiver, "on")
        .from_env_with(|name| match name {
            "OTEL_TRACES_SAMPLER" => Some("parentbased_always_on".to_owned()),
            _ => None,
        })
        .build()
        .unwrap();
    let server = Server::start(app(&telemetry)).await;
    for _ in 0..5 {
        assert_eq!(server.get_status(&client, "/shops/1").await, 200);
    }
    assert!(telemetry.flush(Duration::from_secs(10)).await);
    let spans = receiver.accepted_spans();
    assert_eq!(requests(&spans)["GET /shops/{id}"], 5);
    assert_eq!(spans.len(), 15);
    telemetry.shutdown().await;

    // a sampler kansoku does not follow is refused, naming the variable
    let refused = builder(&Receiver::start(), "bad")
        .from_env_with(|name| match name {
            "OTEL_TRACES_SAMPLER" => Some("jaeger_remote".to_owned()),
            _ => None,
        })
        .build()
        .unwrap_err();
    assert!(
        refused.to_string().contains("OTEL_TRACES_SAMPLER"),
        "{refused}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_collector_answering_503_slows_no_request_and_gets_the_spans_once_it_recovers() {
    // the first two exports are refused as unavailable, then every one is taken
    let receiver = Receiver::with_policy(|n| {
        if n < 2 {
            Answer::Status(503)
        } else {
            Answer::Status(200)
        }
    });
    let telemetry = builder(&receiver, "outage")
        .traces_sample_rate(1.0)
        .build()
        .unwrap();
    let server = Server::start(app(&telemetry)).await;
    let client = kansoku_tests::http_client();
    let started = Instant::now();
    for id in 0..50 {
        assert_eq!(
            server.get_status(&client, &format!("/shops/{id}")).await,
            200
        );
    }
    let took = started.elapsed();
    assert!(!telemetry.flush(Duration::from_secs(5)).await, "refused");
    assert!(
        !telemetry.flush(Duration::from_secs(5)).await,
        "refused again"
    );
    assert!(telemetry.flush(Duration::from_secs(5)).await, "taken");
    let spans = receiver.accepted_spans();
    assert_eq!(
        requests(&spans)["GET /shops/{id}"],
        50,
        "every request's span, none lost while the collector was away"
    );
    assert_eq!(spans.len(), 150);
    let text = telemetry.prometheus_text();
    assert!(
        !text.contains("outage_otlp_spans_dropped_total"),
        "nothing dropped: {text}"
    );
    println!("50 requests while the collector refused: {took:?}");
    telemetry.shutdown().await;

    // a queue too small for the burst: what does not fit is dropped and counted
    let receiver = Receiver::with_policy(|_| Answer::Status(503));
    let telemetry = builder(&receiver, "small")
        .traces_sample_rate(1.0)
        .from_env_with(|name| match name {
            "OTEL_BSP_MAX_QUEUE_SIZE" => Some("30".to_owned()),
            _ => None,
        })
        .build()
        .unwrap();
    let server = Server::start(app(&telemetry)).await;
    for id in 0..20 {
        assert_eq!(
            server.get_status(&client, &format!("/shops/{id}")).await,
            200
        );
    }
    let text = telemetry.prometheus_text();
    let dropped = kansoku_tests::value(
        &text,
        r#"small_otlp_spans_dropped_total{reason="queue_full"}"#,
    );
    assert!(
        (30.0..=60.0).contains(&dropped),
        "60 spans, at most 30 kept: {dropped}"
    );
    telemetry.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn over_grpc_the_spans_go_to_the_trace_services_method() {
    let receiver = Receiver::grpc_with_policy(|_| Answer::Status(200));
    let telemetry = builder(&receiver, "grpc")
        .otlp_protocol(kansoku::otlp::Protocol::Grpc)
        .traces_sample_rate(1.0)
        .build()
        .unwrap();
    let server = Server::start(app(&telemetry)).await;
    let client = kansoku_tests::http_client();
    assert_eq!(server.get_status(&client, "/shops/3").await, 200);
    assert!(telemetry.flush(Duration::from_secs(10)).await);
    let pushes = receiver.trace_pushes();
    assert_eq!(pushes.len(), 1, "{pushes:#?}");
    assert_eq!(
        pushes[0].path,
        "/opentelemetry.proto.collector.trace.v1.TraceService/Export"
    );
    assert_eq!(requests(&receiver.accepted_spans())["GET /shops/{id}"], 1);
    telemetry.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hand_made_transaction_and_its_child_spans_go_out_linked() {
    let receiver = Receiver::start();
    let telemetry = builder(&receiver, "manual")
        .traces_sample_rate(1.0)
        .build()
        .unwrap();
    telemetry
        .instrument(async {
            let transaction = kansoku::start_transaction("task", "nightly export");
            let child = transaction.start_child("db.query", "SELECT orders");
            let grandchild = child.start_child("serialize", "csv");
            drop(grandchild);
            drop(child);
            drop(transaction);
        })
        .await;
    assert!(telemetry.flush(Duration::from_secs(10)).await);
    let spans = receiver.accepted_spans();
    let named = |name: &str| {
        spans
            .iter()
            .find(|s| s.name == name)
            .unwrap_or_else(|| panic!("a span {name}: {spans:#?}"))
    };
    let (root, child, grandchild) = (
        named("nightly export"),
        named("SELECT orders"),
        named("csv"),
    );
    assert!(root.parent_span_id.is_empty());
    assert_eq!(child.parent_span_id, root.span_id);
    assert_eq!(grandchild.parent_span_id, child.span_id);
    assert!(spans.iter().all(|s| s.trace_id == root.trace_id));
    assert_eq!(spans.len(), 3);
    telemetry.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_collector_that_holds_its_answer_or_is_down_slows_no_request_and_loses_no_span() {
    // the first export of spans is held (a collector stuck on it), the rest answered at once
    let receiver = Receiver::with_policy(|n| {
        if n == 0 {
            Answer::Hold
        } else {
            Answer::Status(200)
        }
    });
    let telemetry = builder(&receiver, "held")
        .traces_sample_rate(1.0)
        .otlp_timeout(Duration::from_millis(500))
        .build()
        .unwrap();
    let server = Server::start(app(&telemetry)).await;
    let client = kansoku_tests::http_client();
    for id in 0..20 {
        assert_eq!(
            server.get_status(&client, &format!("/shops/{id}")).await,
            200
        );
    }
    // the export waits for an answer that does not come: the flush gives up, the spans stay
    assert!(!telemetry.flush(Duration::from_secs(5)).await);
    let started = Instant::now();
    for id in 20..40 {
        assert_eq!(
            server.get_status(&client, &format!("/shops/{id}")).await,
            200
        );
    }
    let meanwhile = started.elapsed();
    receiver.release();
    assert!(telemetry.flush(Duration::from_secs(10)).await);
    // the held export was answered late, after kansoku had given up on it and kept its spans:
    // they arrive again (at least once), none is missing
    let ids: std::collections::BTreeSet<Vec<u8>> = receiver
        .accepted_spans()
        .into_iter()
        .map(|span| span.span_id)
        .collect();
    assert_eq!(ids.len(), 40 * 3, "every span of the 40 requests");
    println!("20 requests while the collector held its answer: {meanwhile:?}");
    telemetry.shutdown().await;

    // a collector that is not there at all: requests go on, the spans wait in the queue
    let telemetry = Telemetry::builder()
        .namespace("down")
        .otlp_endpoint("http://127.0.0.1:9")
        .otlp_export_interval(Duration::from_hours(1))
        .otlp_timeout(Duration::from_millis(500))
        .traces_sample_rate(1.0)
        .build()
        .unwrap();
    let server = Server::start(app(&telemetry)).await;
    for id in 0..20 {
        assert_eq!(
            server.get_status(&client, &format!("/shops/{id}")).await,
            200
        );
    }
    assert!(!telemetry.flush(Duration::from_secs(5)).await);
    let text = telemetry.prometheus_text();
    assert!(
        kansoku_tests::value(&text, r#"down_otlp_exports_failed_total{reason="network"}"#) >= 1.0,
        "{text}"
    );
    assert!(
        !text.contains("down_otlp_spans_dropped_total{"),
        "kept, not dropped: {text}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_batch_goes_out_without_waiting_for_the_schedule() {
    let receiver = Receiver::start();
    let telemetry = builder(&receiver, "batch")
        .traces_sample_rate(1.0)
        .from_env_with(|name| match name {
            "OTEL_BSP_SCHEDULE_DELAY" => Some("600000".to_owned()), // ten minutes
            "OTEL_BSP_MAX_EXPORT_BATCH_SIZE" => Some("6".to_owned()),
            _ => None,
        })
        .build()
        .unwrap();
    let server = Server::start(app(&telemetry)).await;
    let client = kansoku_tests::http_client();
    for id in 0..2 {
        assert_eq!(
            server.get_status(&client, &format!("/shops/{id}")).await,
            200
        );
    }
    // six spans: a whole batch, sent without a flush and long before the schedule
    kansoku_tests::http_support::eventually("a full batch to be exported", || {
        receiver.accepted_spans().len() == 6
    })
    .await;
    telemetry.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_the_applications_own_sentry_client_the_spans_share_its_sampling_and_trace() {
    // the application's client: its own DSN and rate, kansoku's transport to a real ingest
    let receiver = Receiver::start();
    let ingest = Ingest::start();
    let client = std::sync::Arc::new(sentry::Client::from((
        ingest.dsn(),
        sentry::ClientOptions::new()
            .traces_sample_rate(1.0)
            .release("shops-api@9.9.9")
            .transport(kansoku::sentry_transport()),
    )));
    let telemetry = builder(&receiver, "appclient")
        .sentry_client(client.clone())
        .build()
        .unwrap();
    let server = Server::start(app(&telemetry)).await;
    let http = kansoku_tests::http_client();
    let body = http
        .get(server.url("/shops/4"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let trace_id = body.split('-').nth(1).expect("a traceparent").to_owned();
    assert!(telemetry.flush(Duration::from_secs(10)).await);
    let spans = receiver.accepted_spans();
    let (request, _, _) = one_trace(&spans, &trace_id);
    let transactions = ingest.transactions();
    let transaction = transactions
        .iter()
        .find(|t| t["contexts"]["trace"]["trace_id"] == trace_id.as_str())
        .unwrap_or_else(|| panic!("the application client's transaction: {transactions:#?}"));
    assert_eq!(
        transaction["release"], "shops-api@9.9.9",
        "the application's options"
    );
    assert_eq!(
        transaction["contexts"]["trace"]["span_id"],
        hex(&request.span_id).as_str()
    );
    telemetry.shutdown().await;
    client.close(Some(Duration::from_secs(5)));
}
