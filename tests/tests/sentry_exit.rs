//! Nothing lost at exit: a burst of endpoint calls at sample rate 1.0, then the end of the
//! application — `shutdown()` alone, `flush` and an immediate `std::process::exit`, the
//! application's own client flushed or closed — against a Sentry envelope endpoint in a
//! process of its own that reads envelopes without the `sentry` crate
//! (`src/bin/envelope_server.rs`). Every transaction arrives exactly once, or, when the
//! endpoint is too slow or never answers, is counted as lost in the metric and the health
//! report, and in a client report while one can still be sent.
//!
//! The applications that exit are processes of their own too (`src/bin/exit_app.rs`).

use std::collections::BTreeMap;
use std::process::Command;
use std::time::{Duration, Instant};

use kansoku::Telemetry;
use kansoku_tests::dropped_by_reason;
use kansoku_tests::envelope_process::{EnvelopeServer, Received};
use kansoku_tests::exit_calls::burst;

const ENVELOPE_SERVER: &str = env!("CARGO_BIN_EXE_envelope_server");
const EXIT_APP: &str = env!("CARGO_BIN_EXE_exit_app");

/// The calls of a burst; one in ten fails.
const CALLS: u32 = 1000;

fn builder(server: &EnvelopeServer, shutdown_timeout: Duration) -> kansoku::TelemetryBuilder {
    Telemetry::builder()
        .namespace("exit")
        .sentry_dsn(server.dsn())
        .traces_sample_rate(1.0)
        .sentry_shutdown_timeout(shutdown_timeout)
}

/// `exit_sentry_events_dropped_total` by `category/reason`, from the Prometheus text lines
/// among `text`'s.
fn dropped_in(text: &str) -> BTreeMap<String, u64> {
    dropped_by_reason(text, "exit_sentry_events_dropped_total")
}

fn dropped(t: &Telemetry) -> BTreeMap<String, u64> {
    dropped_in(&t.prometheus_text())
}

/// The sum of the counts whose `category/reason` starts with `category/`.
fn lost(dropped: &BTreeMap<String, u64>, category: &str) -> u64 {
    dropped
        .iter()
        .filter(|(key, _)| key.starts_with(&format!("{category}/")))
        .map(|(_, n)| n)
        .sum()
}

fn sentry_health(t: &Telemetry) -> kansoku::BackendHealth {
    t.health()
        .into_iter()
        .find(|h| h.backend == "sentry")
        .expect("the sentry backend runs")
}

/// Every call's transaction arrived exactly once (each is tagged with its call's number),
/// and every failing call's error.
fn assert_all_arrived(received: &Received) {
    let orders = received.orders();
    let expected: BTreeMap<Option<u64>, usize> = (0..u64::from(CALLS))
        .map(|order| (Some(order), 1))
        .collect();
    if orders != expected {
        let missing: Vec<u64> = (0..u64::from(CALLS))
            .filter(|order| !orders.contains_key(&Some(*order)))
            .collect();
        let twice: Vec<_> = orders.iter().filter(|(_, n)| **n > 1).collect();
        panic!(
            "{} transactions arrived for {CALLS} calls; missing: {missing:?}; more than once: {twice:?}",
            received.transactions.len()
        );
    }
    let errors = received.errors();
    assert_eq!(errors.len(), (CALLS / 10) as usize, "{errors:?}");
    assert!(errors.values().all(|n| *n == 1), "{errors:?}");
    assert!(errors.contains_key("checkout 990 failed"), "{errors:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_alone_delivers_every_transaction_of_a_burst() {
    let server = EnvelopeServer::start(ENVELOPE_SERVER, "ok");
    // the bound of a test that asserts delivery, not speed (debug build, shared cores)
    let t = builder(&server, Duration::from_secs(90)).build().unwrap();
    burst(&t, CALLS).await;
    // no flush first: the shutdown alone waits for the transactions still being built
    t.shutdown().await;
    assert_all_arrived(&server.received());
    assert!(dropped(&t).is_empty(), "{:?}", dropped(&t));
    let health = sentry_health(&t);
    assert!(health.dropped.is_empty(), "{health:?}");
    assert!(server.received().reports.is_empty());
}

/// Runs `exit_app MODE` against `server` and returns what it printed; it must exit with 0.
fn run_exit_app(mode: &str, server: &EnvelopeServer) -> String {
    let out = Command::new(EXIT_APP)
        .args([mode, &server.dsn(), &CALLS.to_string()])
        .output()
        .expect("exit_app runs");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "exit_app {mode}: {}\n{stdout}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

/// `exit_app MODE` against a server that answers at once: it prints `first` (its flush or
/// close said so), lost nothing, and every transaction arrived.
fn exits_having_delivered_all(mode: &str, first: &str) {
    let server = EnvelopeServer::start(ENVELOPE_SERVER, "ok");
    let printed = run_exit_app(mode, &server);
    assert!(printed.starts_with(first), "{printed}");
    assert!(dropped_in(&printed).is_empty(), "{printed}");
    assert_all_arrived(&server.received());
}

#[test]
fn flush_then_an_immediate_exit_delivers_every_transaction() {
    exits_having_delivered_all("flush", "flushed true\n");
}

#[test]
fn the_applications_client_flushed_then_an_immediate_exit_delivers_every_transaction() {
    // `sentry::init` with kansoku's transport, flushed through `sentry::Client::flush`
    exits_having_delivered_all("client-flush", "flushed true\n");
}

#[test]
fn the_applications_client_closed_by_its_guard_at_exit_delivers_every_transaction() {
    exits_having_delivered_all("client-close", "closed\n");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_too_slow_for_the_shutdown_gets_every_loss_counted_and_reported() {
    // 30 ms an answer, 4 requests at a time: about 400 of the 1100 envelopes in 3 s
    let server = EnvelopeServer::start(ENVELOPE_SERVER, "delay:30");
    let bound = Duration::from_secs(3);
    let t = builder(&server, bound).build().unwrap();
    burst(&t, CALLS).await;
    let started = Instant::now();
    t.shutdown().await;
    let took = started.elapsed();
    assert!(took <= bound + Duration::from_secs(3), "{took:?}");

    let received = server.received();
    let orders = received.orders();
    assert!(orders.values().all(|n| *n == 1), "a transaction twice");
    assert!(!orders.contains_key(&None), "a transaction without its tag");
    let arrived = orders.len() as u64;
    let dropped = dropped(&t);
    let overflow = dropped
        .get("transaction/queue_overflow")
        .copied()
        .unwrap_or(0);
    let in_flight = dropped
        .get("transaction/network_error")
        .copied()
        .unwrap_or(0);
    assert_eq!(
        lost(&dropped, "transaction"),
        overflow + in_flight,
        "{dropped:?}"
    );
    assert!(overflow > 0, "the deadline cut nothing: {dropped:?}");
    // each transaction arrived or is counted; only one given up while in flight may have
    // arrived all the same
    assert!(
        arrived + overflow <= u64::from(CALLS)
            && u64::from(CALLS) <= arrived + overflow + in_flight,
        "{arrived} arrived, {dropped:?}"
    );
    // errors go first: all of them made it
    assert_eq!(
        received.errors().len(),
        (CALLS / 10) as usize,
        "{dropped:?}"
    );
    // what was lost is in the health report, and in the client report sent before the deadline
    let health = sentry_health(&t);
    assert_eq!(
        health.dropped.values().sum::<u64>(),
        lost(&dropped, "transaction") + lost(&dropped, "error"),
        "{health:?}"
    );
    for key in [
        "transaction/queue_overflow",
        "transaction/network_error",
        "span/queue_overflow",
    ] {
        let (category, reason) = key.split_once('/').expect("category/reason");
        assert_eq!(
            received.reported(category, reason),
            dropped.get(key).copied().unwrap_or(0),
            "{key}: reported {:?}, counted {dropped:?}",
            received.reports
        );
    }
}

/// From the health line (`queued: E/2000 errors, T/2000 transactions; R requests in flight`,
/// and `; B transactions being built` when there are some): all that is held (E + T + R + B),
/// and R.
fn still_held(detail: &str) -> (u64, u64) {
    assert!(detail.contains("queued: "), "{detail}");
    let before = |suffix: &str| {
        detail.find(suffix).map_or(0, |at| {
            let digits: String = detail[..at]
                .chars()
                .rev()
                .take_while(char::is_ascii_digit)
                .collect();
            digits
                .chars()
                .rev()
                .collect::<String>()
                .parse()
                .unwrap_or(0)
        })
    };
    let in_flight = before(" requests in flight");
    let held = before("/2000 errors")
        + before("/2000 transactions")
        + in_flight
        + before(" transactions being built");
    (held, in_flight)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_that_never_answers_fails_the_flush_by_its_deadline_and_the_shutdown_counts_it_all(
) {
    let server = EnvelopeServer::start(ENVELOPE_SERVER, "never");
    let bound = Duration::from_secs(2);
    let t = builder(&server, bound).build().unwrap();
    let calls = 200;
    burst(&t, calls).await;

    let flush_timeout = Duration::from_secs(1);
    let started = Instant::now();
    let flushed = t.flush(flush_timeout).await;
    let took = started.elapsed();
    assert!(!flushed, "nothing was answered");
    // it waited (most of its time: it keeps a little to say so), and no longer than told
    assert!(
        took >= flush_timeout / 2 && took <= flush_timeout + Duration::from_secs(3),
        "{took:?}"
    );
    // the flush gave nothing up: all of it is still there, queued or in flight, and nothing
    // was counted as lost twice over
    let health = sentry_health(&t);
    assert_eq!(
        still_held(&health.detail),
        (u64::from(calls + calls / 10), 4),
        "{health:?}"
    );
    assert!(dropped(&t).is_empty(), "{:?}", dropped(&t));

    // the shutdown's deadline: everything not sent is lost, counted by the time it returns
    let started = Instant::now();
    t.shutdown().await;
    let took = started.elapsed();
    assert!(took <= bound + Duration::from_secs(3), "{took:?}");
    let dropped = dropped(&t);
    assert_eq!(
        lost(&dropped, "transaction"),
        u64::from(calls),
        "{dropped:?}"
    );
    assert_eq!(
        lost(&dropped, "error"),
        u64::from(calls / 10),
        "{dropped:?}"
    );
    assert_eq!(
        lost(&dropped, "span"),
        2 * u64::from(calls),
        "each transaction and its query's span: {dropped:?}"
    );
    let health = sentry_health(&t);
    assert_eq!(
        health.dropped.values().sum::<u64>(),
        u64::from(calls + calls / 10),
        "{health:?}"
    );
    assert_eq!(health.state, kansoku::BackendState::Down, "{health:?}");
    // it answered nothing, so it recorded nothing (the requests reached it)
    let received = server.received();
    assert!(received.requests >= 4, "{received:?}");
    assert!(received.transactions.is_empty() && received.events.is_empty());
}
