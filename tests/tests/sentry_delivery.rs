//! Sentry delivery under load, through kansoku's own transport, against real servers on
//! loopback: a Sentry-compatible test ingest endpoint (decoding each envelope with the
//! `sentry` crate, answering as each test needs) and Bugsink. What a user relies on: a burst
//! loses no error, transactions are delivered or counted, rate limits are honoured per
//! category, a slow or dead server never slows a request nor holds up the shutdown, and every
//! loss shows in `ns_sentry_events_dropped_total` and in Sentry's client reports.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering::SeqCst};
use std::sync::Arc;
use std::time::{Duration, Instant};

use kansoku::{Level, Telemetry, TelemetryBuilder};
use kansoku_tests::bugsink::Bugsink;
use kansoku_tests::connect_proxy::ConnectProxy;
use kansoku_tests::dropped_by_reason;
use kansoku_tests::sentry_ingest::{Ingest, Item, Reply};

#[derive(Debug)]
struct CheckoutError(u32);
impl std::fmt::Display for CheckoutError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "checkout {} failed", self.0)
    }
}
impl std::error::Error for CheckoutError {}

/// Fails one call in ten.
#[kansoku::monitor_api_endpoint(name = "POST /checkout")]
async fn checkout(order: u32) -> Result<u32, CheckoutError> {
    tokio::task::yield_now().await;
    if order.is_multiple_of(10) {
        Err(CheckoutError(order))
    } else {
        Ok(order)
    }
}

fn builder(dsn: &str) -> TelemetryBuilder {
    Telemetry::builder()
        .namespace("shop")
        .sentry_dsn(dsn)
        .traces_sample_rate(1.0)
}

/// `calls` concurrent calls of `checkout`, numbered from `first`, each on its own task.
async fn burst(t: &Telemetry, first: u32, calls: u32) {
    let tasks: Vec<_> = (first..first + calls)
        .map(|order| tokio::spawn(t.instrument(checkout(order))))
        .collect();
    for task in tasks {
        let _ = task.await.expect("the call does not panic");
    }
}

/// `ns_sentry_events_dropped_total` by `category/reason`.
fn dropped(t: &Telemetry) -> BTreeMap<String, u64> {
    dropped_by_reason(&t.prometheus_text(), "shop_sentry_events_dropped_total")
}

fn sentry_health(t: &Telemetry) -> kansoku::BackendHealth {
    t.health()
        .into_iter()
        .find(|h| h.backend == "sentry")
        .expect("the sentry backend runs")
}

fn count(dropped: &BTreeMap<String, u64>, key: &str) -> u64 {
    dropped.get(key).copied().unwrap_or(0)
}

/// How many times each error message, transaction id and message arrived.
fn tally(
    items: &[Item],
) -> (
    BTreeMap<String, usize>,
    BTreeMap<String, usize>,
    Vec<String>,
) {
    let (mut errors, mut transactions, mut messages) =
        (BTreeMap::new(), BTreeMap::new(), Vec::new());
    for item in items {
        match item {
            Item::Event {
                exception: Some(value),
                ..
            } => *errors.entry(value.clone()).or_insert(0) += 1,
            Item::Event {
                message: Some(message),
                ..
            } => messages.push(message.clone()),
            Item::Transaction { id, name } => {
                assert_eq!(name, "POST /checkout");
                *transactions.entry(id.clone()).or_insert(0) += 1;
            }
            _ => {}
        }
    }
    (errors, transactions, messages)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_delivers_every_error_transaction_and_the_message_exactly_once() {
    let ingest = Ingest::start();
    let t = builder(&ingest.dsn())
        // the bound of a test that asserts delivery, not speed (debug build, shared cores)
        .sentry_shutdown_timeout(Duration::from_secs(90))
        .build()
        .unwrap();
    burst(&t, 0, 1000).await;
    t.instrument(async { kansoku::capture_message("the burst is over", Level::Warning, &[]) })
        .await
        .expect("a message event id");
    t.shutdown().await;

    let (errors, transactions, messages) = tally(&ingest.accepted_items());
    assert_eq!(errors.len(), 100, "{errors:?}");
    assert!(
        errors.values().all(|n| *n == 1),
        "an error arrived twice: {errors:?}"
    );
    assert!(errors.contains_key("checkout 0 failed") && errors.contains_key("checkout 990 failed"));
    assert_eq!(transactions.len(), 1000);
    assert!(
        transactions.values().all(|n| *n == 1),
        "a transaction arrived twice"
    );
    assert_eq!(messages, ["the burst is over"]);
    assert!(dropped(&t).is_empty(), "{:?}", dropped(&t));
    // nothing empty was sent
    assert!(ingest.received().iter().all(|r| !r.items.is_empty()));
    // over persistent connections: a few for 1100 requests, not one each
    let requests = ingest.received().len();
    assert!(requests >= 1101, "{requests}");
    assert!(
        ingest.connections() <= 8,
        "{} connections",
        ingest.connections()
    );
    // every request authenticated with the DSN's key
    assert!(ingest.received().iter().all(|r| r
        .auth
        .as_deref()
        .is_some_and(|a| a.contains("sentry_key=public"))));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_to_bugsink_delivers_every_error() {
    let bugsink = Bugsink::start();
    let t = builder(&bugsink.dsn())
        .sentry_shutdown_timeout(Duration::from_secs(100))
        .build()
        .unwrap();
    burst(&t, 0, 1000).await;
    t.shutdown().await;

    let events = bugsink.events();
    let mut values: Vec<String> = events
        .iter()
        .map(|e| {
            e["exception"]["values"][0]["value"]
                .as_str()
                .unwrap_or("?")
                .to_owned()
        })
        .collect();
    values.sort();
    values.dedup();
    assert_eq!(events.len(), 100, "{values:?}");
    assert_eq!(values.len(), 100, "{values:?}");
    // Bugsink stores no transactions and says so with a rate limit: none of the 100 errors
    // was dropped for it
    let dropped = dropped(&t);
    assert_eq!(
        dropped.keys().filter(|k| k.starts_with("error/")).count(),
        0,
        "{dropped:?}"
    );
    // its rate-limit header came with the first answers (errors go first): the transactions
    // were held back, not sent one by one to a server that discards them
    assert!(
        count(&dropped, "transaction/ratelimit_backoff") >= 990,
        "{dropped:?}"
    );
}

/// The test ingest's answer to transactions while it limits them: `429` with Relay's
/// headers, saying transactions only, for 2 seconds.
fn limit_transactions_once(limited: Arc<AtomicBool>) -> impl Fn(&[Item]) -> Reply {
    move |items: &[Item]| {
        let has_transaction = items.iter().any(|i| matches!(i, Item::Transaction { .. }));
        if has_transaction && !limited.swap(true, SeqCst) {
            let mut reply = Reply::status(429);
            reply.headers = vec![
                ("retry-after", "2".to_owned()),
                (
                    "x-sentry-rate-limits",
                    "2:transaction:key:ratelimit".to_owned(),
                ),
            ];
            reply
        } else {
            Reply::ok()
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rate_limit_on_transactions_lets_errors_through_and_counts_what_it_drops() {
    let ingest = Ingest::with_policy(limit_transactions_once(Arc::new(AtomicBool::new(false))));
    let t = builder(&ingest.dsn()).build().unwrap();

    // one call: its transaction meets the 429
    burst(&t, 1, 1).await;
    assert!(t.flush(Duration::from_secs(10)).await);
    let limited_at = ingest
        .received()
        .iter()
        .find(|r| r.status == 429)
        .expect("the 429")
        .at;
    let health = &sentry_health(&t);
    assert!(
        health.detail.contains("rate limited: transaction"),
        "{health:?}"
    );

    // during the wait: 50 calls, 5 of them failing
    burst(&t, 100, 50).await;
    assert!(t.flush(Duration::from_secs(10)).await);
    let during: Vec<_> = ingest
        .received()
        .into_iter()
        .filter(|r| r.at > limited_at && r.at < limited_at + Duration::from_secs(2))
        .collect();
    let (errors, _, _) = tally(&ingest.accepted_items());
    assert_eq!(
        errors.len(),
        5,
        "errors keep arriving while transactions are limited"
    );
    assert!(
        during.iter().filter(|r| r.has_transaction()).count() <= 4,
        "transactions were sent during the wait: {during:?}"
    );
    assert!(
        during.len() <= 4 + 5,
        "{} requests during the wait",
        during.len()
    );

    // after the wait, transactions go again
    while sentry_health(&t).detail.contains("rate limited") {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    burst(&t, 201, 20).await;
    t.shutdown().await;
    let after: usize = ingest
        .received()
        .iter()
        .filter(|r| r.at >= limited_at + Duration::from_secs(2) && r.status == 200)
        .map(|r| {
            r.items
                .iter()
                .filter(|i| matches!(i, Item::Transaction { .. }))
                .count()
        })
        .sum();
    assert_eq!(after, 20, "the transactions after the wait arrive");

    // the 50 dropped during the wait: in the metric and in a client report; the one Relay
    // refused only in the metric (Relay counts it itself)
    let dropped = dropped(&t);
    assert_eq!(
        count(&dropped, "transaction/ratelimit_backoff"),
        51,
        "{dropped:?}"
    );
    assert_eq!(ingest.reported("transaction", "ratelimit_backoff"), 50);
    assert_eq!(ingest.reported("span", "ratelimit_backoff"), 50);
    assert_eq!(count(&dropped, "error/ratelimit_backoff"), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_holding_every_request_never_slows_a_call_and_the_queue_bound_holds() {
    let ingest = Ingest::with_policy(|_| Reply {
        hold: true,
        ..Reply::ok()
    });
    let t = builder(&ingest.dsn())
        .sentry_queue_sizes(500, 100)
        .sentry_max_requests(4)
        .sentry_shutdown_timeout(Duration::from_secs(30))
        .build()
        .unwrap();
    // 2000 calls complete while the server answers nothing: no call waits on the transport
    burst(&t, 1, 2000).await;
    // (the span thread hands its last transactions over within milliseconds)
    let mut health = sentry_health(&t);
    for _ in 0..100 {
        if health.detail.contains("100/100 transactions") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
        health = sentry_health(&t);
    }
    assert!(health.detail.contains("100/100 transactions"), "{health:?}");
    assert!(health.detail.contains("4 requests in flight"), "{health:?}");
    let held = ingest.received().len();
    assert!(held <= 4, "{held} requests reached the server at once");
    let overflow_while_held = count(&dropped(&t), "transaction/queue_overflow");
    assert!(overflow_while_held > 0);

    ingest.release();
    t.shutdown().await;
    let (errors, transactions, _) = tally(&ingest.accepted_items());
    let dropped = dropped(&t);
    // errors go first and their queue had room: all 200 arrive
    assert_eq!(errors.len(), 200, "{dropped:?}");
    // every transaction either arrived or is counted as dropped, none twice
    let lost = count(&dropped, "transaction/queue_overflow");
    assert_eq!(transactions.len() as u64 + lost, 2000, "{dropped:?}");
    assert!(
        transactions.len() <= 100 + 4,
        "{} transactions arrived",
        transactions.len()
    );
    assert_eq!(ingest.reported("transaction", "queue_overflow"), lost);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_taking_200ms_per_request_keeps_the_bound_and_every_transaction_is_accounted_for()
{
    let ingest = Ingest::with_policy(|_| Reply {
        delay: Duration::from_millis(200),
        ..Reply::ok()
    });
    let t = builder(&ingest.dsn())
        .sentry_queue_sizes(500, 10)
        .sentry_shutdown_timeout(Duration::from_secs(30))
        .build()
        .unwrap();
    burst(&t, 1, 300).await;
    let depth = sentry_health(&t).detail;
    assert!(!depth.contains("11/10"), "{depth}");
    t.shutdown().await;
    let (errors, transactions, _) = tally(&ingest.accepted_items());
    let dropped = dropped(&t);
    assert_eq!(errors.len(), 30, "{dropped:?}");
    let lost = count(&dropped, "transaction/queue_overflow");
    assert!(lost > 0, "{dropped:?}");
    assert_eq!(transactions.len() as u64 + lost, 300, "{dropped:?}");
    assert_eq!(ingest.reported("transaction", "queue_overflow"), lost);
    assert_eq!(ingest.reported("span", "queue_overflow"), lost);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_returns_within_its_bound_when_the_server_never_answers() {
    let ingest = Ingest::with_policy(|_| Reply {
        hold: true,
        ..Reply::ok()
    });
    let bound = Duration::from_secs(1);
    let t = builder(&ingest.dsn())
        .sentry_shutdown_timeout(bound)
        .build()
        .unwrap();
    burst(&t, 0, 60).await; // 6 errors, 60 transactions
    let started = Instant::now();
    // within its bound, with slack for a loaded machine (the server would hold it forever)
    tokio::time::timeout(bound + Duration::from_secs(3), t.shutdown())
        .await
        .expect("shutdown returned within its bound");
    let took = started.elapsed();
    // what was in flight or queued at the deadline is counted as lost
    let dropped = dropped(&t);
    let errors_lost: u64 = dropped
        .iter()
        .filter(|(k, _)| k.starts_with("error/"))
        .map(|(_, n)| n)
        .sum();
    let transactions_lost: u64 = dropped
        .iter()
        .filter(|(k, _)| k.starts_with("transaction/"))
        .map(|(_, n)| n)
        .sum();
    assert_eq!((errors_lost, transactions_lost), (6, 60), "{dropped:?}");
    assert!(count(&dropped, "error/network_error") >= 1, "{dropped:?}");
    let health = sentry_health(&t);
    assert_eq!(health.state, kansoku::BackendState::Down, "{health:?}");
    eprintln!("shutdown took {took:?} with a bound of {bound:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_server_gets_a_bounded_number_of_retries_then_the_loss_is_counted() {
    let ingest = Ingest::with_policy(|_| Reply::status(500));
    let t = builder(&ingest.dsn())
        .traces_sample_rate(0.0)
        .build()
        .unwrap();
    for order in [10, 20, 30] {
        let _ = t.instrument(checkout(order)).await;
    }
    // what fails is dropped, not kept: the flush ends once the retries are over
    let _ = t.flush(Duration::from_secs(20)).await;
    let events: usize = ingest.received().iter().filter(|r| r.has_event()).count();
    assert_eq!(events, 3 * 3, "each error tried three times, no more");
    let dropped = dropped(&t);
    assert_eq!(count(&dropped, "error/send_error"), 3, "{dropped:?}");
    let health = &sentry_health(&t);
    assert_eq!(health.state, kansoku::BackendState::Down, "{health:?}");
    assert!(
        health
            .last_error
            .as_ref()
            .is_some_and(|(_, e)| e.contains("500")),
        "{health:?}"
    );
    assert_eq!(health.dropped.get("send_error"), Some(&3));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn filtered_and_unsampled_events_are_counted_and_reported() {
    let ingest = Ingest::start();
    let t = builder(&ingest.dsn())
        .traces_sample_rate(0.0)
        .ignore_errors(["checkout 20 failed"])
        .build()
        .unwrap();
    for order in [10, 20, 30] {
        let _ = t.instrument(checkout(order)).await;
    }
    assert!(t.flush(Duration::from_secs(10)).await);
    let dropped = dropped(&t);
    assert_eq!(count(&dropped, "error/before_send"), 1, "{dropped:?}");
    assert_eq!(count(&dropped, "transaction/sample_rate"), 3, "{dropped:?}");
    assert_eq!(ingest.reported("error", "before_send"), 1);
    assert_eq!(ingest.reported("transaction", "sample_rate"), 3);
    let (errors, _, _) = tally(&ingest.accepted_items());
    assert_eq!(errors.len(), 2);
    // the family is well-formed Prometheus text
    let text = t.prometheus_text();
    assert!(
        text.contains("# TYPE shop_sentry_events_dropped_total counter"),
        "{text}"
    );
    let (ok, report) = kansoku_tests::promtool_check_metrics(&text);
    assert!(ok, "promtool found problems:\n{report}\nin:\n{text}");
}

#[test]
fn an_out_of_range_or_nan_sample_rate_is_an_error_and_a_samplers_rate_is_clamped() {
    for rate in [2.0, -0.1, f32::NAN, f32::INFINITY] {
        let built = Telemetry::builder()
            .sentry_dsn("https://k@sentry.invalid/1")
            .traces_sample_rate(rate)
            .build();
        let error = built.expect_err("a rate outside 0..=1");
        assert!(
            matches!(error, kansoku::Error::InvalidSampleRate(_)),
            "{error:?}"
        );
        assert!(error.to_string().contains("sample rate"), "{error}");
    }
    let zero_queue = Telemetry::builder()
        .sentry_dsn("https://k@sentry.invalid/1")
        .sentry_queue_sizes(0, 10)
        .build();
    assert!(zero_queue.is_err());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sampler_returning_more_than_one_samples_everything() {
    let ingest = Ingest::start();
    let t = Telemetry::builder()
        .namespace("shop")
        .sentry_dsn(ingest.dsn())
        .traces_sampler(|_| 7.0)
        .build()
        .unwrap();
    burst(&t, 1, 5).await;
    t.shutdown().await;
    let (_, transactions, _) = tally(&ingest.accepted_items());
    assert_eq!(transactions.len(), 5);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_connection_is_retried_a_bounded_number_of_times_then_counted() {
    // a loopback port nobody listens on any more
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let t = builder(&format!("http://public@127.0.0.1:{port}/1"))
        .traces_sample_rate(0.0)
        .build()
        .unwrap();
    for order in [10, 20] {
        let _ = t.instrument(checkout(order)).await;
    }
    let _ = t.flush(Duration::from_secs(20)).await;
    let dropped = dropped(&t);
    assert_eq!(count(&dropped, "error/network_error"), 2, "{dropped:?}");
    let health = sentry_health(&t);
    assert_eq!(health.state, kansoku::BackendState::Down, "{health:?}");
    let error = health.last_error.map(|(_, e)| e).unwrap_or_default();
    assert!(error.to_lowercase().contains("refused"), "{error}");
    // the DSN's key is not in what the health report shows
    assert!(!health.detail.contains("public"), "{}", health.detail);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_transport_of_the_applications_own_replaces_kansokus() {
    // the ingest stays empty: everything goes to the application's transport
    let ingest = Ingest::start();
    let transport = sentry::test::TestTransport::new();
    let sink = transport.clone();
    let t = builder(&ingest.dsn())
        .sentry_options(move |options| options.transport(sink.clone()))
        .build()
        .unwrap();
    burst(&t, 1, 10).await;
    assert!(t.flush(Duration::from_secs(10)).await);
    let envelopes = transport.fetch_and_clear_envelopes();
    let events = envelopes.iter().filter(|e| e.event().is_some()).count();
    assert_eq!(events, 1, "checkout 10 failed");
    assert!(ingest.received().is_empty(), "{:?}", ingest.received());
    let health = sentry_health(&t);
    assert!(
        health.detail.contains("application's transport"),
        "{health:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_clients_proxy_option_is_honoured_with_its_credentials() {
    let ingest = Ingest::start();
    let proxy = ConnectProxy::start();
    let url = proxy.url(Some("user:secret"));
    let t = builder(&ingest.dsn())
        .traces_sample_rate(0.0)
        .sentry_options(move |mut options| {
            options.http_proxy = Some(url.clone().into());
            options
        })
        .build()
        .unwrap();
    for order in [10, 20] {
        let _ = t.instrument(checkout(order)).await;
    }
    assert!(t.flush(Duration::from_secs(10)).await);
    let (errors, _, _) = tally(&ingest.accepted_items());
    assert_eq!(errors.len(), 2);
    let tunnels = proxy.tunnels();
    assert!(!tunnels.is_empty());
    let target = ingest.dsn().replace("http://public@", "").replace("/1", "");
    for tunnel in &tunnels {
        assert_eq!(tunnel.target, target);
        assert_eq!(
            tunnel.authorization.as_deref(),
            Some("Basic dXNlcjpzZWNyZXQ=")
        );
    }
}

/// `GET /orders` answered by `handler`, behind kansoku's layer for `t`, on a loopback port.
async fn serve_orders(
    t: &Telemetry,
    handler: axum::routing::MethodRouter,
) -> kansoku_tests::http_support::Server {
    let app = axum::Router::new()
        .route("/orders", handler)
        .layer(kansoku::http::KansokuLayer::new(t));
    kansoku_tests::http_support::Server::start(app).await
}

/// The trace ids of the transactions that arrived, by transaction's parent span.
fn continued_traces(ingest: &Ingest) -> Vec<(String, Option<String>)> {
    ingest
        .transactions()
        .iter()
        .map(|tx| {
            let trace = &tx["contexts"]["trace"];
            (
                trace["trace_id"].as_str().unwrap_or_default().to_owned(),
                trace["parent_span_id"].as_str().map(str::to_owned),
            )
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_trace_of_another_organization_is_not_continued() {
    let ingest = Ingest::start();
    let t = builder(&ingest.dsn())
        .traces_sample_rate(1.0)
        .sentry_options(|options| options.org_id(42.into()))
        .build()
        .unwrap();
    // the handler answers with the `baggage` it would pass on downstream
    let server = serve_orders(
        &t,
        axum::routing::get(|| async {
            let mut headers = http::HeaderMap::new();
            kansoku::http::inject_trace_headers(&mut headers);
            headers
                .get("baggage")
                .map(|b| b.to_str().unwrap().to_owned())
                .unwrap_or_default()
        }),
    )
    .await;
    let client = kansoku_tests::http_client();
    let trace = "771a43a4192642f0b136d5159a501700";
    let parent = "a1b2c3d4e5f60718";
    let oversized = format!("sentry-org_id=42,{}", "x=y,".repeat(20_000));
    for baggage in [
        "sentry-org_id=43,sentry-sampled=true",
        "sentry-org_id=42,sentry-sampled=true",
        oversized.as_str(),
    ] {
        let response = client
            .get(server.url("/orders"))
            .header("sentry-trace", format!("{trace}-{parent}-1"))
            .header("baggage", baggage)
            .send()
            .await
            .unwrap();
        assert_eq!(
            response.status(),
            200,
            "a bad baggage never fails a request"
        );
        // passed on within W3C Baggage's bounds: 8192 bytes, 180 whole members
        let passed_on = response.text().await.unwrap();
        assert!(
            passed_on.len() <= 8192,
            "{} bytes passed on",
            passed_on.len()
        );
        assert!(passed_on.split(',').count() <= 180);
        assert!(passed_on.starts_with("sentry-org_id="), "{passed_on:.80}");
    }
    assert!(t.flush(Duration::from_secs(10)).await);
    let traces = continued_traces(&ingest);
    assert_eq!(traces.len(), 3, "{traces:?}");
    // org 43: a trace of its own; org 42 (and the oversized one naming 42): continued
    let continued = traces
        .iter()
        .filter(|(id, parent_id)| id == trace && parent_id.as_deref() == Some(parent))
        .count();
    let anew = traces
        .iter()
        .filter(|(id, parent_id)| id != trace && parent_id.is_none())
        .count();
    assert_eq!((continued, anew), (2, 1), "{traces:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn strict_continuation_refuses_a_trace_without_the_organization() {
    let ingest = Ingest::start();
    let t = builder(&ingest.dsn())
        .traces_sample_rate(1.0)
        .sentry_options(|options| options.org_id(42.into()).strict_trace_continuation(true))
        .build()
        .unwrap();
    let server = serve_orders(&t, axum::routing::get(|| async { "ok" })).await;
    let trace = "771a43a4192642f0b136d5159a501700";
    let response = kansoku_tests::http_client()
        .get(server.url("/orders"))
        .header("sentry-trace", format!("{trace}-a1b2c3d4e5f60718-1"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert!(t.flush(Duration::from_secs(10)).await);
    let traces = continued_traces(&ingest);
    assert_eq!(traces.len(), 1, "{traces:?}");
    assert_ne!(
        traces[0].0, trace,
        "no org_id in baggage: not continued under strict"
    );
    assert_eq!(traces[0].1, None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_caller_cannot_force_sampling_when_its_decision_is_not_trusted() {
    let ingest = Ingest::start();
    let t = builder(&ingest.dsn())
        .traces_sample_rate(0.0)
        .trust_incoming_sampling(false)
        .build()
        .unwrap();
    let server = serve_orders(
        &t,
        axum::routing::get(|| async { kansoku::trace_id().unwrap_or_default() }),
    )
    .await;
    let client = kansoku_tests::http_client();
    let trace = "771a43a4192642f0b136d5159a501700";
    for (sentry_trace, baggage) in [
        (format!("{trace}-a1b2c3d4e5f60718-1"), ""),
        (format!("{trace}-a1b2c3d4e5f60718"), "sentry-sampled=true"),
    ] {
        let response = client
            .get(server.url("/orders"))
            .header("sentry-trace", sentry_trace)
            .header("baggage", baggage)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        // the trace is continued all the same
        assert_eq!(response.text().await.unwrap(), trace);
    }
    assert!(t.flush(Duration::from_secs(10)).await);
    assert!(
        ingest.transactions().is_empty(),
        "forced by the caller: {:?}",
        continued_traces(&ingest)
    );
    // trusted (the default): the same request is sampled
    let trusting = builder(&ingest.dsn())
        .traces_sample_rate(0.0)
        .build()
        .unwrap();
    let server = serve_orders(&trusting, axum::routing::get(|| async { "ok" })).await;
    let response = client
        .get(server.url("/orders"))
        .header("sentry-trace", format!("{trace}-a1b2c3d4e5f60718-1"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert!(trusting.flush(Duration::from_secs(10)).await);
    assert_eq!(continued_traces(&ingest).len(), 1);
}
