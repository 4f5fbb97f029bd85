//! The greeter in an application that set Sentry up itself: its own `sentry::init` (its
//! release, kansoku's transport to a loopback ingest endpoint) and a `tracing` subscriber with
//! sentry-tracing's layer, kansoku installed without a DSN. The gRPC calls' transactions and
//! error events go through the application's client, classified by their `grpc-status`, each
//! in its caller's trace. One test: the subscriber and the client are the process's.

use std::time::Duration;

use grpc_greeter::pb::{GreeterClient, HelloRequest, SAY_HELLO};
use kansoku_tests::sentry_ingest::Ingest;
use sentry::integrations::tracing::{BreadcrumbLayer, ErrorLayer, SpanLayer};
use tracing_subscriber::filter::LevelFilter;
use tracing_subscriber::layer::{Layer as _, SubscriberExt as _};
use tracing_subscriber::util::SubscriberInitExt as _;

const TRACE: &str = "5b8efff798038103d269b633813fc60c";
const PARENT: &str = "eee19b7ec3c1b174";

fn hello(name: &str, trace: &str) -> tonic::Request<HelloRequest> {
    let mut request = tonic::Request::new(HelloRequest {
        name: name.to_owned(),
    });
    request.metadata_mut().insert(
        "sentry-trace",
        format!("{trace}-{PARENT}-1").parse().unwrap(),
    );
    request
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_the_applications_sentry_init_and_sentry_tracing_grpc_calls_are_classified_in_its_trace(
) {
    let ingest = Ingest::start();
    let _sentry = sentry::init(
        sentry::ClientOptions::new()
            .dsn(ingest.dsn().as_str())
            .release("greeter-app@3.1.4")
            .traces_sample_rate(1.0)
            .transport(kansoku::sentry_transport()),
    );
    tracing_subscriber::registry()
        .with(SpanLayer::new().with_filter(LevelFilter::INFO))
        .with(BreadcrumbLayer::new().with_filter(LevelFilter::INFO))
        .with(ErrorLayer::new().with_filter(LevelFilter::ERROR))
        .init();
    let telemetry = kansoku::Telemetry::builder()
        .namespace("joined")
        .install()
        .unwrap();

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let serving = telemetry.clone();
    let server = tokio::spawn(async move {
        grpc_greeter::serve(listener, &serving, async {
            let _ = stopped.await;
        })
        .await
        .expect("the server runs");
    });
    let mut client = GreeterClient::connect(url).await.unwrap();
    let down_trace = TRACE.replace('5', "6");
    client.say_hello(hello("Osaka", TRACE)).await.unwrap();
    let down = client
        .say_hello(hello("down", &down_trace))
        .await
        .unwrap_err();
    assert_eq!(down.code(), tonic::Code::Unavailable);

    assert!(telemetry.flush(Duration::from_secs(10)).await);
    let transactions = ingest.transactions();
    let of_trace = |trace: &str| {
        transactions
            .iter()
            .find(|t| t["contexts"]["trace"]["trace_id"] == trace)
            .unwrap_or_else(|| panic!("the call of trace {trace}: {transactions:#?}"))
    };
    for (trace, status) in [(TRACE, "ok"), (down_trace.as_str(), "unavailable")] {
        let transaction = of_trace(trace);
        assert_eq!(transaction["transaction"], format!("POST {SAY_HELLO}"));
        assert_eq!(
            transaction["release"], "greeter-app@3.1.4",
            "the application's client"
        );
        assert_eq!(transaction["contexts"]["trace"]["parent_span_id"], PARENT);
        assert_eq!(
            transaction["contexts"]["trace"]["status"], status,
            "{transaction:#}"
        );
    }
    // the endpoint's error, captured through the application's client, in its call's trace
    let events = ingest.events();
    let error = events
        .iter()
        .find(|e| e["exception"]["values"][0]["value"] == "the greeter is down")
        .unwrap_or_else(|| panic!("the endpoint's error event: {events:#?}"));
    assert_eq!(error["release"], "greeter-app@3.1.4");
    assert_eq!(error["contexts"]["trace"]["trace_id"], down_trace.as_str());

    let _ = stop.send(());
    tokio::time::timeout(Duration::from_secs(10), server)
        .await
        .expect("the server stops")
        .unwrap();
    telemetry.shutdown().await;
}
