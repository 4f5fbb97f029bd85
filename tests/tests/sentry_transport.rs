//! What the Sentry client is handed, read from the `sentry` crate's test transport:
//! transaction and span trees, error and panic events, scope isolation, sampling, filtering.
// Handlers here stand in for real ones with trivial bodies; clippy sees them as written.
#![allow(clippy::unused_async, clippy::unnecessary_wraps)]

use std::time::Duration;

use kansoku::{Level, Telemetry};
use kansoku_tests::sentry_support::{sent, telemetry};
use sentry::protocol::{Context, SpanStatus, Transaction, Value};

#[derive(Debug)]
struct DbError;
impl std::fmt::Display for DbError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("connection reset")
    }
}
impl std::error::Error for DbError {}

#[derive(Debug)]
struct ApiError(DbError);
impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("could not list shops")
    }
}
impl std::error::Error for ApiError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.0)
    }
}

#[kansoku::track_database_query("select", "shops")]
async fn fetch_shops(fail: bool) -> Result<Vec<u32>, DbError> {
    tokio::task::yield_now().await;
    tokio::time::sleep(Duration::from_millis(1)).await;
    if fail {
        return Err(DbError);
    }
    Ok(vec![1, 2])
}

#[kansoku::monitor_api_endpoint]
#[kansoku::track_api_request(method = "GET", endpoint = "/shops")]
async fn get_shops(fail: bool) -> Result<usize, ApiError> {
    kansoku::set_tag("shop.filter", "active");
    kansoku::set_context("search", serde_json::json!({"type": "shop_list"}));
    tokio::task::yield_now().await;
    let shops = fetch_shops(fail).await.map_err(ApiError)?;
    Ok(shops.len())
}

#[kansoku::monitor_api_endpoint(name = "reserve")]
async fn reserve(seat: u32) -> Result<u32, ApiError> {
    tokio::task::yield_now().await;
    assert!(seat != 13, "seat 13 does not exist");
    Ok(seat)
}

#[kansoku::monitor_api_endpoint(name = "wait")]
async fn wait_forever() {
    std::future::pending::<()>().await;
}

fn root(transaction: &Transaction<'static>) -> (String, String, Option<SpanStatus>, String) {
    match transaction.contexts.get("trace") {
        Some(Context::Trace(trace)) => (
            trace.trace_id.to_string(),
            trace.span_id.to_string(),
            trace.status,
            trace.op.clone().unwrap_or_default(),
        ),
        other => panic!("no trace context: {other:?}"),
    }
}

fn multi_thread() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(4)
        .enable_all()
        .build()
        .unwrap()
}

#[test]
fn an_endpoint_is_a_transaction_and_its_query_a_child_span_across_awaits_and_threads() {
    let (t, transport) = telemetry(1.0, &[]);
    multi_thread().block_on(async {
        tokio::spawn(t.instrument(get_shops(false)))
            .await
            .unwrap()
            .unwrap();
        let sent = sent(&t, &transport).await;
        assert_eq!(sent.transactions.len(), 1, "{sent:#?}");
        assert!(
            sent.events.is_empty(),
            "no error, no event: {:#?}",
            sent.events
        );
        let tx = &sent.transactions[0];
        assert_eq!(tx.name.as_deref(), Some("/shops"));
        let (trace_id, root_span, status, op) = root(tx);
        assert_eq!((status, op.as_str()), (Some(SpanStatus::Ok), "http.server"));
        assert_eq!(tx.release.as_deref(), Some("shops@1.2.3"));
        assert_eq!(tx.environment.as_deref(), Some("test"));
        assert_eq!(
            tx.tags.get("shop.filter").map(String::as_str),
            Some("active")
        );
        assert_eq!(tx.spans.len(), 1);
        let span = &tx.spans[0];
        assert_eq!(span.op.as_deref(), Some("db.query"));
        assert_eq!(span.description.as_deref(), Some("SELECT shops"));
        assert_eq!(
            span.parent_span_id.map(|id| id.to_string()),
            Some(root_span)
        );
        assert_eq!(span.trace_id.to_string(), trace_id);
        assert_eq!(span.status, Some(SpanStatus::Ok));
        assert_eq!(span.data.get("db.operation"), Some(&Value::from("select")));
        assert_eq!(span.data.get("db.sql.table"), Some(&Value::from("shops")));
        assert!(span.timestamp.unwrap() >= span.start_timestamp);
    });
}

#[test]
fn an_error_is_captured_with_its_source_chain_scope_function_and_trace() {
    let (t, transport) = telemetry(1.0, &[]);
    multi_thread().block_on(async {
        t.instrument(get_shops(true)).await.unwrap_err();
        let sent = sent(&t, &transport).await;
        assert_eq!(sent.events.len(), 1, "{sent:#?}");
        let event = &sent.events[0];
        let chain: Vec<_> = event.exception.values.iter().map(|e| e.value.clone().unwrap_or_default()).collect();
        assert_eq!(chain, ["connection reset", "could not list shops"], "innermost first, as Sentry orders them");
        assert_eq!(event.transaction.as_deref(), Some("/shops"));
        assert_eq!(event.tags.get("function").map(String::as_str), Some("sentry_transport::get_shops"));
        assert_eq!(event.tags.get("shop.filter").map(String::as_str), Some("active"));
        assert!(matches!(event.contexts.get("search"), Some(Context::Other(map)) if map["type"] == "shop_list"));
        assert_eq!(event.release.as_deref(), Some("shops@1.2.3"));
        assert_eq!(event.environment.as_deref(), Some("test"));
        let tx = &sent.transactions[0];
        let (trace_id, _, status, _) = root(tx);
        assert_eq!(status, Some(SpanStatus::InternalError));
        assert_eq!(tx.spans[0].status, Some(SpanStatus::InternalError), "the failed query's span");
        match event.contexts.get("trace") {
            Some(Context::Trace(trace)) => assert_eq!(trace.trace_id.to_string(), trace_id),
            other => panic!("the error is not linked to its trace: {other:?}"),
        }
    });
}

#[test]
fn a_panic_is_captured_then_resumed_and_a_cancelled_call_is_marked() {
    let (t, transport) = telemetry(1.0, &[]);
    multi_thread().block_on(async {
        let joined = tokio::spawn(t.instrument(reserve(13))).await.unwrap_err();
        assert!(joined.is_panic());
        let payload = joined.into_panic();
        assert_eq!(
            payload.downcast_ref::<&str>(),
            Some(&"seat 13 does not exist"),
            "the panic continues unchanged"
        );
        let cancelled =
            tokio::time::timeout(Duration::from_millis(5), t.instrument(wait_forever())).await;
        assert!(cancelled.is_err());
        let sent = sent(&t, &transport).await;
        assert_eq!(sent.events.len(), 1, "{sent:#?}");
        let exception = &sent.events[0].exception.values[0];
        assert_eq!(exception.ty, "panic");
        assert!(
            exception
                .value
                .as_deref()
                .unwrap()
                .contains("seat 13 does not exist"),
            "{exception:?}"
        );
        assert_eq!(
            exception.mechanism.as_ref().and_then(|m| m.handled),
            Some(false)
        );
        let status_of = |name: &str| {
            let tx = sent
                .transactions
                .iter()
                .find(|tx| tx.name.as_deref() == Some(name))
                .unwrap();
            root(tx).2
        };
        assert_eq!(status_of("reserve"), Some(SpanStatus::InternalError));
        assert_eq!(status_of("wait"), Some(SpanStatus::Cancelled));
    });
}

#[kansoku::monitor_api_endpoint(name = "isolated")]
async fn isolated(id: u32) -> Result<(), std::io::Error> {
    kansoku::set_tag("request.id", id.to_string());
    kansoku::set_user(Some(kansoku::User {
        id: Some(id.to_string()),
        ..kansoku::User::default()
    }));
    // hop threads and interleave with the other calls before failing
    for _ in 0..3 {
        tokio::task::yield_now().await;
    }
    if id.is_multiple_of(2) {
        return Err(std::io::Error::other(format!("request {id} failed")));
    }
    Ok(())
}

#[test]
fn tags_and_users_never_cross_between_concurrent_calls() {
    const CALLS: u32 = 2000;
    let (t, transport) = telemetry(0.0, &[]);
    multi_thread().block_on(async {
        let calls: Vec<_> = (0..CALLS)
            .map(|id| tokio::spawn(t.instrument(isolated(id))))
            .collect();
        for call in calls {
            let _ = call.await.unwrap();
        }
        let sent = sent(&t, &transport).await;
        assert_eq!(sent.events.len(), (CALLS / 2) as usize);
        for event in &sent.events {
            let message = event.exception.values[0].value.clone().unwrap();
            let id = message.split(' ').nth(1).unwrap();
            assert_eq!(
                event.tags.get("request.id").map(String::as_str),
                Some(id),
                "{event:#?}"
            );
            assert_eq!(
                event.user.as_ref().and_then(|u| u.id.as_deref()),
                Some(id),
                "{event:#?}"
            );
        }
        assert!(sent.transactions.is_empty(), "rate 0 samples nothing");
    });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sampling_follows_the_rate_and_errors_are_captured_whatever_it_is() {
    const CALLS: usize = 2000;
    for (rate, low, high) in [(0.0, 0, 0), (0.1, 120, 280), (1.0, CALLS, CALLS)] {
        let (t, transport) = telemetry(rate, &[]);
        t.instrument(async {
            for seat in 0..CALLS {
                reserve(u32::try_from(seat % 12).unwrap()).await.unwrap();
            }
        })
        .await;
        let sent = sent(&t, &transport).await;
        let n = sent.transactions.len();
        assert!(
            (low..=high).contains(&n),
            "rate {rate}: {n} transactions of {CALLS}, expected {low}..={high}"
        );
    }
    let (t, transport) = telemetry(0.0, &[]);
    t.instrument(get_shops(true)).await.unwrap_err();
    let sent = sent(&t, &transport).await;
    assert_eq!((sent.events.len(), sent.transactions.len()), (1, 0));
}

#[kansoku::monitor_api_endpoint(name = "ui")]
async fn ui_error(message: &'static str) -> Result<(), std::io::Error> {
    Err(std::io::Error::other(message))
}

#[tokio::test]
async fn ignored_errors_are_not_sent() {
    let (t, transport) = telemetry(0.0, &["ResizeObserver"]);
    t.instrument(async {
        ui_error("ResizeObserver loop limit exceeded")
            .await
            .unwrap_err();
        ui_error("payment declined").await.unwrap_err();
    })
    .await;
    let sent = sent(&t, &transport).await;
    let values: Vec<_> = sent
        .events
        .iter()
        .map(|e| e.exception.values[0].value.clone().unwrap())
        .collect();
    assert_eq!(values, ["payment declined"]);
}

#[tokio::test]
async fn messages_errors_and_extras_from_the_public_api() {
    let (t, transport) = telemetry(0.0, &[]);
    t.instrument(async {
        kansoku::set_tag("region", "kansai");
        let id = kansoku::capture_message(
            "queue is long",
            Level::Warning,
            &[("queue_length", 120.into())],
        );
        assert!(id.is_some());
        let error = std::io::Error::other("seat taken");
        kansoku::capture_error(
            &error,
            &[
                ("reservation_id", 42.into()),
                ("error_stage", "payment".into()),
            ],
        );
    })
    .await;
    let sent = sent(&t, &transport).await;
    assert_eq!(sent.events.len(), 2, "{sent:#?}");
    let message = sent.events.iter().find(|e| e.message.is_some()).unwrap();
    assert_eq!(message.message.as_deref(), Some("queue is long"));
    assert_eq!(message.level, sentry::Level::Warning);
    assert_eq!(message.extra.get("queue_length"), Some(&Value::from(120)));
    assert_eq!(
        message.tags.get("region").map(String::as_str),
        Some("kansai")
    );
    let error = sent.events.iter().find(|e| e.message.is_none()).unwrap();
    assert_eq!(
        error.exception.values[0].value.as_deref(),
        Some("seat taken")
    );
    assert_eq!(error.extra.get("reservation_id"), Some(&Value::from(42)));
    assert_eq!(
        error.extra.get("error_stage"),
        Some(&Value::from("payment"))
    );
}

#[tokio::test]
async fn a_hand_made_transaction_with_steps_and_an_annotated_query_inside() {
    let (t, transport) = telemetry(1.0, &[]);
    t.instrument(async {
        let transaction = kansoku::start_transaction("task", "complex_operation");
        {
            let _step = transaction.start_child("step1", "validate input");
        }
        let mut step2 = transaction.start_child("step2", "process data");
        step2.set_data("rows", 3);
        step2.finish();
        transaction.bind(fetch_shops(false)).await.unwrap();
        transaction.finish();
    })
    .await;
    let sent = sent(&t, &transport).await;
    assert_eq!(sent.transactions.len(), 1);
    let tx = &sent.transactions[0];
    assert_eq!(tx.name.as_deref(), Some("complex_operation"));
    let (_, root_span, _, op) = root(tx);
    assert_eq!(op, "task");
    let mut ops: Vec<_> = tx.spans.iter().map(|s| s.op.clone().unwrap()).collect();
    ops.sort();
    assert_eq!(ops, ["db.query", "step1", "step2"]);
    assert!(tx
        .spans
        .iter()
        .all(|s| s.parent_span_id.map(|id| id.to_string()) == Some(root_span.clone())));
    let step2 = tx
        .spans
        .iter()
        .find(|s| s.op.as_deref() == Some("step2"))
        .unwrap();
    assert_eq!(step2.data.get("rows"), Some(&Value::from(3)));
}

#[kansoku::monitor_api_endpoint(name = "spawner")]
async fn spawner() {
    kansoku::set_tag("spawned.by", "spawner");
    let child = tokio::spawn(kansoku::bind(async {
        fetch_shops(false).await.unwrap();
        kansoku::capture_message("from the spawned task", Level::Info, &[]);
    }));
    child.await.unwrap();
}

#[test]
fn a_bound_spawned_task_stays_in_its_call() {
    let (t, transport) = telemetry(1.0, &[]);
    multi_thread().block_on(async {
        t.instrument(spawner()).await;
        let sent = sent(&t, &transport).await;
        let tx = &sent.transactions[0];
        let (trace_id, root_span, _, _) = root(tx);
        assert_eq!(tx.spans.len(), 1, "{tx:#?}");
        assert_eq!(
            tx.spans[0].parent_span_id.map(|id| id.to_string()),
            Some(root_span)
        );
        let event = &sent.events[0];
        assert_eq!(
            event.tags.get("spawned.by").map(String::as_str),
            Some("spawner")
        );
        match event.contexts.get("trace") {
            Some(Context::Trace(trace)) => assert_eq!(trace.trace_id.to_string(), trace_id),
            other => panic!("{other:?}"),
        }
    });
}

#[tokio::test]
async fn an_unreachable_sentry_never_fails_a_call() {
    // port 9 (discard) on loopback: nothing listens, connections are refused
    let t = Telemetry::builder()
        .sentry_dsn("http://public@127.0.0.1:9/1")
        .traces_sample_rate(1.0)
        .sentry_shutdown_timeout(Duration::from_millis(500))
        .build()
        .unwrap();
    let outcomes = t
        .instrument(async {
            let mut outcomes = Vec::new();
            for fail in [false, true, false, true] {
                outcomes.push(get_shops(fail).await.is_ok());
            }
            outcomes
        })
        .await;
    assert_eq!(outcomes, [true, false, true, false]);
    let started = std::time::Instant::now();
    t.shutdown().await;
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "shutdown is bounded: {:?}",
        started.elapsed()
    );
}

#[test]
fn a_bad_dsn_or_rate_is_an_error_from_start_up() {
    let bad = Telemetry::builder()
        .sentry_dsn("not a dsn")
        .build()
        .unwrap_err();
    assert!(matches!(bad, kansoku::Error::InvalidDsn(_)), "{bad:?}");
    let rate = Telemetry::builder()
        .sentry_dsn("https://k@sentry.invalid/1")
        .traces_sample_rate(1.5)
        .build();
    assert!(matches!(rate, Err(kansoku::Error::InvalidSampleRate(_))));
}

#[kansoku::monitor_api_endpoint(name = "book", fields(shop_id, source))]
async fn book(shop_id: u32, source: &str, card_number: &str) -> Result<u64, std::io::Error> {
    let _ = card_number;
    Err(std::io::Error::other(format!(
        "shop {shop_id} is full ({source})"
    )))
}

#[tokio::test]
async fn only_the_arguments_named_in_fields_reach_the_event() {
    let (t, transport) = telemetry(0.0, &[]);
    t.instrument(async {
        book(7, "web", "card-number-not-for-sentry")
            .await
            .unwrap_err();
        get_shops(true).await.unwrap_err();
    })
    .await;
    let sent = sent(&t, &transport).await;
    let booked = sent
        .events
        .iter()
        .find(|e| e.transaction.as_deref() == Some("book"))
        .unwrap();
    match booked.contexts.get("arguments") {
        Some(Context::Other(arguments)) => {
            assert_eq!(arguments.get("shop_id"), Some(&Value::from("7")));
            assert_eq!(arguments.get("source"), Some(&Value::from("\"web\"")));
            assert_eq!(
                arguments.len(),
                2,
                "card_number was not named: {arguments:?}"
            );
        }
        other => panic!("no arguments context: {other:?}"),
    }
    let serialized = serde_json::to_string(&sent.events).unwrap();
    assert!(
        // a marker no id or timestamp can contain by chance
        !serialized.contains("card-number-not-for-sentry"),
        "an argument not named in `fields` leaked"
    );
    let shops = sent
        .events
        .iter()
        .find(|e| e.transaction.as_deref() == Some("/shops"))
        .unwrap();
    assert!(
        !shops.contexts.contains_key("arguments"),
        "nothing is captured by default"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_traces_sampler_chooses_per_transaction() {
    let transport = sentry::test::TestTransport::new();
    let sink = transport.clone();
    let t = Telemetry::builder()
        .sentry_dsn("https://public@sentry.invalid/1")
        .traces_sampler(|context| if context.name == "reserve" { 1.0 } else { 0.0 })
        .sentry_options(move |options| options.transport(sink.clone()))
        .build()
        .unwrap();
    t.instrument(async {
        for _ in 0..20 {
            reserve(1).await.unwrap();
            get_shops(false).await.unwrap();
        }
    })
    .await;
    let sent = sent(&t, &transport).await;
    let names: std::collections::BTreeSet<_> = sent
        .transactions
        .iter()
        .filter_map(|tx| tx.name.clone())
        .collect();
    assert_eq!(sent.transactions.len(), 20);
    assert_eq!(names.into_iter().collect::<Vec<_>>(), ["reserve"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_that_never_answers_slows_nothing_and_shutdown_is_bounded() {
    // accepts connections and holds them without a byte of answer
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for stream in listener.incoming().take(64) {
            held.push(stream);
        }
        std::thread::sleep(Duration::from_secs(30));
    });
    let t = Telemetry::builder()
        .sentry_dsn(format!("http://public@127.0.0.1:{port}/1"))
        .traces_sample_rate(1.0)
        .sentry_shutdown_timeout(Duration::from_millis(300))
        .build()
        .unwrap();
    let started = std::time::Instant::now();
    t.instrument(async {
        for i in 0..200 {
            let _ = get_shops(i % 2 == 0).await;
        }
    })
    .await;
    let calls = started.elapsed();
    // 200 calls each sleep 1 ms in the query: anything near that is unaffected by Sentry
    assert!(
        calls < Duration::from_secs(3),
        "200 calls took {calls:?} with a hung Sentry"
    );
    let started = std::time::Instant::now();
    t.shutdown().await;
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "shutdown took {:?}",
        started.elapsed()
    );
}

#[kansoku::monitor_api_endpoint(name = "batch")]
async fn batch() {
    let step = kansoku::start_transaction("task", "rebuild index");
    step.finish();
}

#[tokio::test]
async fn a_hand_made_transaction_inside_an_endpoint_is_its_child_span() {
    let (t, transport) = telemetry(1.0, &[]);
    t.instrument(batch()).await;
    let sent = sent(&t, &transport).await;
    assert_eq!(sent.transactions.len(), 1, "one trace, not two: {sent:#?}");
    let tx = &sent.transactions[0];
    let (_, root_span, _, _) = root(tx);
    assert_eq!(tx.spans.len(), 1);
    assert_eq!(tx.spans[0].op.as_deref(), Some("task"));
    assert_eq!(tx.spans[0].description.as_deref(), Some("rebuild index"));
    assert_eq!(
        tx.spans[0].parent_span_id.map(|id| id.to_string()),
        Some(root_span)
    );
}

const TRACE_ID: &str = "771a43a4192642f0b136d5159a501700";
const CALLER_SPAN: &str = "a1b2c3d4e5f60718";

/// An incoming `sentry-trace` puts the transaction in the caller's trace under the caller's
/// span, and the caller's sampling decision stands whatever this side's rate.
#[tokio::test]
async fn a_transaction_continues_the_callers_trace_and_sampling() {
    // sampled by the caller, at a rate of 0 here
    let (t, transport) = telemetry(0.0, &[]);
    t.instrument(async {
        let header = format!("{TRACE_ID}-{CALLER_SPAN}-1");
        let transaction = kansoku::continue_transaction(
            "http.server",
            "GET /shops",
            [("Sentry-Trace", header.as_str())],
        );
        transaction.bind(fetch_shops(false)).await.unwrap();
        transaction.finish();
    })
    .await;
    let first = sent(&t, &transport).await;
    assert_eq!(first.transactions.len(), 1, "the caller sampled it");
    let tx = &first.transactions[0];
    let Some(Context::Trace(trace)) = tx.contexts.get("trace") else {
        panic!("no trace context: {tx:?}");
    };
    assert_eq!(trace.trace_id.to_string(), TRACE_ID);
    assert_eq!(
        trace.parent_span_id.map(|id| id.to_string()).as_deref(),
        Some(CALLER_SPAN)
    );
    assert_eq!(tx.spans.len(), 1, "the query is a child span");
    assert_eq!(tx.spans[0].trace_id.to_string(), TRACE_ID);

    // not sampled by the caller, at a rate of 1 here; and a malformed header is a new trace
    let (t, transport) = telemetry(1.0, &[]);
    t.instrument(async {
        let header = format!("{TRACE_ID}-{CALLER_SPAN}-0");
        kansoku::continue_transaction("http.server", "GET /a", [("sentry-trace", header.as_str())])
            .finish();
        kansoku::continue_transaction("http.server", "GET /b", [("sentry-trace", "garbage")])
            .finish();
    })
    .await;
    let sent = sent(&t, &transport).await;
    assert_eq!(
        sent.transactions.len(),
        1,
        "only the one the caller did not refuse"
    );
    let tx = &sent.transactions[0];
    assert_eq!(tx.name.as_deref(), Some("GET /b"));
    let Some(Context::Trace(trace)) = tx.contexts.get("trace") else {
        panic!("no trace context");
    };
    assert_ne!(trace.trace_id.to_string(), TRACE_ID);
    assert_eq!(trace.parent_span_id, None);
}
