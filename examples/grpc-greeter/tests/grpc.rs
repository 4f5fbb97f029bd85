//! The gRPC example end to end: the tonic server with kansoku's layer on a loopback port,
//! called by tonic's own client over HTTP/2; its metrics read from the Prometheus text, its
//! transactions from a loopback Sentry ingest endpoint that kansoku's real transport sends to.

// Counts in the Prometheus text are integers, printed exactly.
#![allow(clippy::float_cmp)]

use std::time::Duration;

use grpc_greeter::pb::{CountRequest, GreeterClient, HelloRequest, COUNTDOWN, SAY_HELLO};
use kansoku_tests::otlp_receiver::{span_attributes, Receiver};
use kansoku_tests::sentry_ingest::Ingest;
use opentelemetry_proto::tonic::trace::v1::{span::SpanKind, status::StatusCode};
use tonic::Code;

const TRACE: &str = "0af7651916cd43dd8448eb211c80319c";
const PARENT: &str = "b7ad6b7169203331";
const W3C_TRACE: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
const W3C_PARENT: &str = "00f067aa0ba902b7";

/// A running greeter, until [`Running::stop`].
struct Running {
    url: String,
    stop: tokio::sync::oneshot::Sender<()>,
    task: tokio::task::JoinHandle<()>,
}

impl Running {
    async fn start(telemetry: &kansoku::Telemetry) -> Running {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let telemetry = telemetry.clone();
        let task = tokio::spawn(async move {
            grpc_greeter::serve(listener, &telemetry, async {
                let _ = stopped.await;
            })
            .await
            .expect("the server runs");
        });
        Running { url, stop, task }
    }

    async fn stop(self) {
        let _ = self.stop.send(());
        tokio::time::timeout(Duration::from_secs(10), self.task)
            .await
            .expect("the server stops")
            .unwrap();
    }
}

fn hello(name: &str) -> tonic::Request<HelloRequest> {
    tonic::Request::new(HelloRequest {
        name: name.to_owned(),
    })
}

/// Reads a countdown to its end: the messages, then the status the trailers gave.
async fn count(client: &mut GreeterClient, from: u32, fail: bool) -> (Vec<u32>, Code) {
    let request = tonic::Request::new(CountRequest {
        from,
        fail,
        pause_ms: 20,
    });
    let mut stream = client.countdown(request).await.unwrap().into_inner();
    let mut left = Vec::new();
    loop {
        match stream.message().await {
            Ok(Some(count)) => left.push(count.left),
            Ok(None) => return (left, Code::Ok),
            Err(status) => return (left, status.code()),
        }
    }
}

fn builder(ingest: &Ingest, namespace: &str) -> kansoku::TelemetryBuilder {
    kansoku::Telemetry::builder()
        .namespace(namespace)
        .service_name("grpc-greeter")
        .sentry_dsn(ingest.dsn())
        .traces_sample_rate(1.0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn grpc_methods_are_routes_and_grpc_status_is_classified_in_metrics_and_transactions() {
    let ingest = Ingest::start();
    let receiver = Receiver::start();
    let telemetry = builder(&ingest, "greeter")
        .otlp_endpoint(receiver.endpoint())
        .otlp_export_interval(Duration::from_hours(1))
        .build()
        .unwrap();
    let server = Running::start(&telemetry).await;
    let mut client = GreeterClient::connect(server.url.clone()).await.unwrap();
    make_calls(&mut client).await;
    check_metrics(&telemetry.prometheus_text());
    assert!(telemetry.flush(Duration::from_secs(10)).await);
    check_transactions(&ingest.transactions());
    check_spans(&receiver);
    server.stop().await;
    telemetry.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_leaves_a_stream_is_counted_once_its_call_ends() {
    let ingest = Ingest::start();
    let telemetry = builder(&ingest, "leaving").build().unwrap();
    let server = Running::start(&telemetry).await;
    let mut client = GreeterClient::connect(server.url.clone()).await.unwrap();
    let request = tonic::Request::new(CountRequest {
        from: 1000,
        fail: false,
        pause_ms: 10,
    });
    let mut stream = client.countdown(request).await.unwrap().into_inner();
    assert_eq!(stream.message().await.unwrap().unwrap().left, 999);
    let in_flight =
        format!(r#"leaving_http_requests_in_flight{{method="POST",route="{COUNTDOWN}"}}"#);
    assert_eq!(
        kansoku_tests::samples(&telemetry.prometheus_text())[&in_flight],
        1.0,
        "in flight while it streams"
    );
    drop(stream); // the client cancels the call: an HTTP/2 RST_STREAM
    let gone = format!(
        r#"leaving_http_responses_incomplete_total{{method="POST",reason="client_gone",route="{COUNTDOWN}"}}"#
    );
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let samples = kansoku_tests::samples(&telemetry.prometheus_text());
        if samples.get(&gone) == Some(&1.0) {
            assert_eq!(samples[&in_flight], 0.0);
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the cancelled stream is counted as left by the client"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(telemetry.flush(Duration::from_secs(10)).await);
    let transactions = ingest.transactions();
    let left = transactions
        .iter()
        .find(|t| t["transaction"] == format!("POST {COUNTDOWN}"))
        .expect("the call's transaction");
    assert_eq!(left["contexts"]["trace"]["status"], "cancelled", "{left:#}");
    server.stop().await;
    telemetry.shutdown().await;
}

/// Every kind of call: unary OK (continuing a `sentry-trace`) and failed trailers-only, a
/// stream ending OK and one failing in its trailers (continuing a `traceparent`), and a method
/// the service does not have.
async fn make_calls(client: &mut GreeterClient) {
    // unary: one OK (continuing the caller's Sentry trace), two errors sent trailers-only
    let mut traced = hello("Osaka");
    traced.metadata_mut().insert(
        "sentry-trace",
        format!("{TRACE}-{PARENT}-1").parse().unwrap(),
    );
    let reply = client.say_hello(traced).await.unwrap();
    assert_eq!(reply.into_inner().message, "hello, Osaka");
    let down = client.say_hello(hello("down")).await.unwrap_err();
    assert_eq!(down.code(), Code::Unavailable);
    let empty = client.say_hello(hello("")).await.unwrap_err();
    assert_eq!(empty.code(), Code::InvalidArgument);
    // server streaming: the status comes in the trailers, after the messages
    assert_eq!(count(client, 3, false).await, (vec![2, 1, 0], Code::Ok));
    let mut w3c = tonic::Request::new(CountRequest {
        from: 2,
        fail: true,
        pause_ms: 20,
    });
    w3c.metadata_mut().insert(
        "traceparent",
        format!("00-{W3C_TRACE}-{W3C_PARENT}-01").parse().unwrap(),
    );
    let mut stream = client.countdown(w3c).await.unwrap().into_inner();
    assert_eq!(stream.message().await.unwrap().unwrap().left, 1);
    assert_eq!(stream.message().await.unwrap().unwrap().left, 0);
    assert_eq!(stream.message().await.unwrap_err().code(), Code::DataLoss);
    // a method the service does not have, and a path made up by a client
    let missing = client
        .call_empty("/greeter.Greeter/Nope")
        .await
        .unwrap_err();
    assert_eq!(missing.code(), Code::Unimplemented);
}

fn check_metrics(text: &str) {
    // metrics: the method is the route, HTTP says 200 throughout, grpc-status tells apart
    let samples = kansoku_tests::samples(text);
    let requests = |route: &str| {
        samples[&format!(
            r#"greeter_http_requests_total{{method="POST",route="{route}",status_code="200"}}"#
        )]
    };
    assert_eq!(requests(SAY_HELLO), 3.0, "{text}");
    assert_eq!(requests(COUNTDOWN), 2.0, "{text}");
    assert_eq!(requests("__unmatched__"), 1.0, "{text}");
    let grpc = |route: &str, status: u8| {
        samples
            .get(&format!(
                r#"greeter_grpc_responses_total{{grpc_status="{status}",method="POST",route="{route}"}}"#
            ))
            .copied()
            .unwrap_or(0.0)
    };
    assert_eq!(grpc(SAY_HELLO, 0), 1.0, "{text}");
    assert_eq!(grpc(SAY_HELLO, 14), 1.0, "UNAVAILABLE: {text}");
    assert_eq!(grpc(SAY_HELLO, 3), 1.0, "INVALID_ARGUMENT: {text}");
    assert_eq!(grpc(COUNTDOWN, 0), 1.0, "{text}");
    assert_eq!(
        grpc(COUNTDOWN, 15),
        1.0,
        "DATA_LOSS in the trailers: {text}"
    );
    assert_eq!(grpc("__unmatched__", 12), 1.0, "UNIMPLEMENTED: {text}");
    // the streamed answers are measured to their end (3 and 2 pauses of 20 ms)
    let sum = samples[&format!(
        r#"greeter_http_request_duration_seconds_sum{{method="POST",route="{COUNTDOWN}"}}"#
    )];
    assert!(sum >= 0.1, "duration to the end of the stream: {sum}");
    assert_eq!(
        samples
            [&format!(r#"greeter_http_requests_in_flight{{method="POST",route="{COUNTDOWN}"}}"#)],
        0.0
    );
    // the endpoint inside takes the method as its name; its errors are its own
    let endpoint = |status: &str| {
        samples
            .get(&format!(
                r#"greeter_api_requests_total{{endpoint="{SAY_HELLO}",method="POST",status="{status}"}}"#
            ))
            .copied()
            .unwrap_or(0.0)
    };
    assert_eq!(endpoint("ok"), 1.0, "{text}");
    assert_eq!(endpoint("error"), 2.0, "{text}");
    assert_eq!(
        samples[&format!(r#"greeter_errors_total{{endpoint="{SAY_HELLO}",kind="GreetError"}}"#)],
        2.0,
        "{text}"
    );
}

fn check_transactions(transactions: &[serde_json::Value]) {
    // Sentry: a transaction per call, named after its method, with the gRPC status
    let of = |name: &str| -> Vec<&serde_json::Value> {
        transactions
            .iter()
            .filter(|t| t["transaction"] == name)
            .collect()
    };
    let status_of =
        |t: &serde_json::Value| t["contexts"]["trace"]["status"].as_str().map(str::to_owned);
    let hellos = of(&format!("POST {SAY_HELLO}"));
    assert_eq!(hellos.len(), 3, "{transactions:#?}");
    let mut statuses: Vec<_> = hellos.iter().filter_map(|t| status_of(t)).collect();
    statuses.sort();
    assert_eq!(statuses, ["invalid_argument", "ok", "unavailable"]);
    let continued = hellos
        .iter()
        .find(|t| t["contexts"]["trace"]["trace_id"] == TRACE)
        .expect("the caller's sentry-trace continued");
    assert_eq!(continued["contexts"]["trace"]["parent_span_id"], PARENT);
    let down = hellos
        .iter()
        .find(|t| status_of(t).as_deref() == Some("unavailable"))
        .unwrap();
    assert_eq!(
        down["contexts"]["trace"]["data"]["rpc.grpc.status_code"], 14,
        "{down:#}"
    );
    let counts = of(&format!("POST {COUNTDOWN}"));
    assert_eq!(counts.len(), 2, "{transactions:#?}");
    let lost = counts
        .iter()
        .find(|t| t["contexts"]["trace"]["trace_id"] == W3C_TRACE)
        .expect("the caller's traceparent continued");
    assert_eq!(lost["contexts"]["trace"]["parent_span_id"], W3C_PARENT);
    assert_eq!(status_of(lost).as_deref(), Some("data_loss"), "{lost:#}");
    assert_eq!(
        lost["contexts"]["trace"]["data"]["rpc.grpc.status_code"],
        15
    );
    let whole = counts
        .iter()
        .find(|t| t["contexts"]["trace"]["trace_id"] != W3C_TRACE)
        .unwrap();
    assert_eq!(status_of(whole).as_deref(), Some("ok"));
    // the endpoint's span nests in its call's transaction
    assert!(
        continued["spans"]
            .as_array()
            .unwrap()
            .iter()
            .any(|s| s["description"]
                .as_str()
                .is_some_and(|d| d.contains(SAY_HELLO))),
        "{continued:#}"
    );
}

fn check_spans(receiver: &Receiver) {
    // OTLP: the calls' server spans say their gRPC status; of a server's statuses, those
    // OpenTelemetry's RPC rules count as its own failure (UNAVAILABLE, not INVALID_ARGUMENT)
    // mark the span as an error
    let spans = receiver.accepted_spans();
    let grpc_spans: Vec<(String, bool)> = spans
        .iter()
        .filter(|span| span.kind == SpanKind::Server as i32)
        .filter_map(|span| {
            let attributes = span_attributes(span);
            let failed = span
                .status
                .as_ref()
                .is_some_and(|s| s.code == StatusCode::Error as i32);
            Some((attributes.get("rpc.grpc.status_code")?.clone(), failed))
        })
        .collect();
    for (code, failed) in [
        ("0", false),
        ("14", true),
        ("3", false),
        ("15", true),
        ("12", true),
    ] {
        assert!(
            grpc_spans.contains(&(code.to_owned(), failed)),
            "a span with grpc status {code}, error {failed}: {grpc_spans:?}"
        );
    }
}
