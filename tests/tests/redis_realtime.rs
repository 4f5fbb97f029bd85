//! The Redis backend against real `redis-server` processes: exact totals (single server and a
//! 3-master cluster), an outage in the middle of a run, a reply lost after the server applied a
//! batch, a snapshot read while a flush is stuck, two processes writing to one Redis, and an
//! expiry on every key.
// Handlers here stand in for real ones with trivial bodies; clippy sees them as written.
#![allow(clippy::unused_async, clippy::unnecessary_wraps)]

use std::collections::BTreeSet;
use std::panic::AssertUnwindSafe;
use std::sync::Once;
use std::time::{Duration, Instant};

use futures::FutureExt as _;
use kansoku::metrics::Counter;
use kansoku::{Status, Telemetry};
use kansoku_tests::redis_support::{
    keys, keys_without_ttl, raw_totals, CutProxy, RedisCluster, RedisServer,
};

#[derive(Debug)]
struct Declined;

impl std::fmt::Display for Declined {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("declined")
    }
}

impl std::error::Error for Declined {}

const PANIC_MESSAGE: &str = "kansoku test panic";

static RESERVATIONS: Counter<1> = Counter::new("reservations_total", "Reservations.", ["source"]);

#[kansoku::track_database_query("insert", "reservations")]
async fn insert_reservation(i: u64) -> Result<u64, Declined> {
    if i % 10 == 7 {
        return Err(Declined);
    }
    Ok(i)
}

/// Per 10 calls: 7 ok, 2 `Err`, 1 panic. Each call also makes one query (ok unless i%10 == 7)
/// and, when ok, one business counter increment.
#[kansoku::monitor_api_endpoint]
#[kansoku::track_api_request(method = "POST", endpoint = "/reserve")]
async fn reserve(i: u64) -> Result<u64, Declined> {
    let _ = insert_reservation(i).await;
    tokio::task::yield_now().await;
    match i % 10 {
        7 | 8 => Err(Declined),
        9 => panic!("{PANIC_MESSAGE}"),
        _ => {
            RESERVATIONS.increment(["web"]);
            Ok(i)
        }
    }
}

fn quiet_test_panics() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let default = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let ours = info
                .payload()
                .downcast_ref::<String>()
                .is_some_and(|m| m == PANIC_MESSAGE);
            if !ours {
                default(info);
            }
        }));
    });
}

/// What `calls` calls of `reserve` (numbered from `first`) must leave, by status.
fn expected(first: u64, calls: u64) -> [u64; 4] {
    let mut by_status = [0; 4];
    for i in first..first + calls {
        let status = match i % 10 {
            7 | 8 => Status::Error,
            9 => Status::Panic,
            _ => Status::Ok,
        };
        let row = Status::ALL.iter().position(|s| *s == status).unwrap();
        by_status[row] += 1;
    }
    by_status
}

/// `stats`' calls by status, in the order of `Status::ALL`.
fn by_status(stats: &kansoku::CallStats) -> [u64; 4] {
    Status::ALL.map(|status| stats.calls(status))
}

/// Runs `calls` calls numbered from `first` on `tasks` tasks of the current multi-threaded
/// runtime, all in `telemetry`; returns each call's duration.
async fn run_calls(telemetry: &Telemetry, first: u64, calls: u64, tasks: u64) -> Vec<Duration> {
    quiet_test_panics();
    let mut handles = Vec::new();
    for task in 0..tasks {
        let mine: Vec<u64> = (first..first + calls)
            .filter(|i| i % tasks == task)
            .collect();
        handles.push(tokio::spawn(telemetry.instrument(async move {
            let mut took = Vec::with_capacity(mine.len());
            for i in mine {
                let start = Instant::now();
                let _ = AssertUnwindSafe(reserve(i)).catch_unwind().await;
                took.push(start.elapsed());
            }
            took
        })));
    }
    let mut took = Vec::new();
    for handle in handles {
        took.extend(handle.await.expect("a task of calls"));
    }
    took
}

fn realtime(ns: &str) -> kansoku::TelemetryBuilder {
    Telemetry::builder()
        .namespace(ns)
        .realtime_bucket(Duration::from_secs(1))
        .realtime_flush_interval(Duration::from_millis(100))
}

/// Flushes until everything is written (Redis may be coming back up).
async fn flush_all(telemetry: &Telemetry) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !telemetry.flush(Duration::from_secs(3)).await {
        assert!(Instant::now() < deadline, "the backlog was never written");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Checks the totals of `calls` calls from 0, through `snapshot` and through raw reads.
async fn assert_totals(telemetry: &Telemetry, urls: &[String], ns: &str, calls: u64) {
    let want = expected(0, calls);
    let snapshot = telemetry
        .realtime()
        .snapshot(Duration::from_mins(10))
        .await
        .expect("snapshot");
    let api = &snapshot.endpoints[&("/reserve".to_owned(), "POST".to_owned())];
    assert_eq!(by_status(api), want, "requests by status, from snapshot");
    assert_eq!(api.requests, calls);
    assert_eq!(api.errors, want[1] + want[2]);
    let buckets: u64 = api.buckets.iter().map(|b| b.1).sum();
    assert_eq!(buckets, calls, "latency buckets hold every call");
    assert!(api.p99.is_some() && api.mean.is_some());
    let db = &snapshot.queries[&("insert".to_owned(), "reservations".to_owned())];
    assert_eq!(db.calls(Status::Ok) + db.calls(Status::Error), calls);
    let failed_queries = (0..calls).filter(|i| i % 10 == 7).count() as u64;
    assert_eq!(db.calls(Status::Error), failed_queries);
    assert_eq!(
        snapshot.errors[&("/reserve".to_owned(), "Declined".to_owned())],
        want[1]
    );
    assert_eq!(
        snapshot.errors[&("/reserve".to_owned(), "panic".to_owned())],
        want[2]
    );
    assert_eq!(
        snapshot.counters[r#"reservations_total{source="web"}"#],
        want[0]
    );

    let raw = raw_totals(urls, ns, "api");
    let raw_status: Vec<u64> = ["ok", "error", "panic", "cancelled"]
        .iter()
        .map(|s| raw.get(&format!("/reserve|POST|{s}")).copied().unwrap_or(0))
        .collect();
    assert_eq!(raw_status, want, "requests by status, raw from Redis");
    let raw_le: u64 = raw
        .iter()
        .filter(|(field, _)| field.starts_with("/reserve|POST|le:"))
        .map(|(_, n)| n)
        .sum();
    assert_eq!(raw_le, calls);
    let counters = raw_totals(urls, ns, "cnt");
    assert_eq!(
        counters.get(r#"reservations_total{source="web"}"#),
        Some(&want[0])
    );
    assert_eq!(keys_without_ttl(urls, ns), Vec::new(), "every key expires");
}

fn median(mut took: Vec<Duration>) -> Duration {
    took.sort();
    took[took.len() / 2]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn totals_in_redis_are_exact() {
    let server = RedisServer::start();
    let telemetry = realtime("exact")
        .redis_url(server.url())
        .build()
        .expect("build");
    run_calls(&telemetry, 0, 4000, 16).await;
    flush_all(&telemetry).await;
    assert_totals(&telemetry, &[server.url()], "exact", 4000).await;
    telemetry.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_cluster_gets_exact_totals() {
    let cluster = RedisCluster::start();
    let telemetry = realtime("cluster")
        .redis_cluster(cluster.urls())
        .build()
        .expect("build");
    // long enough to span several time buckets, so several slots
    for round in 0..3 {
        run_calls(&telemetry, round * 1000, 1000, 8).await;
        tokio::time::sleep(Duration::from_millis(600)).await;
    }
    flush_all(&telemetry).await;
    let urls = cluster.urls();
    let nodes_used: BTreeSet<String> = keys(&urls, "cluster")
        .into_iter()
        .map(|(url, _)| url)
        .collect();
    println!("cluster: keys on {} of 3 nodes", nodes_used.len());
    assert_totals(&telemetry, &urls, "cluster", 3000).await;
    telemetry.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_outage_loses_nothing_and_slows_nothing() {
    let mut server = RedisServer::start();
    let telemetry = realtime("outage")
        .redis_url(server.url())
        .build()
        .expect("build");
    let before = run_calls(&telemetry, 0, 2000, 8).await;
    flush_all(&telemetry).await;

    server.stop();
    let during = run_calls(&telemetry, 2000, 2000, 8).await;
    tokio::time::sleep(Duration::from_millis(500)).await; // flushes fail meanwhile
    assert!(!telemetry.flush(Duration::from_millis(500)).await);
    let during_too = run_calls(&telemetry, 4000, 1000, 8).await;

    server.restart();
    let after = run_calls(&telemetry, 5000, 1000, 8).await;
    flush_all(&telemetry).await;

    let (before, during, after) = (
        median(before),
        median(during.into_iter().chain(during_too).collect()),
        median(after),
    );
    println!("median call: before {before:?}, Redis down {during:?}, after {after:?}");
    assert!(
        during < Duration::from_millis(5),
        "calls slowed down: {during:?}"
    );
    // the restarted server is empty: it holds what was written since, which is the outage's
    // and later calls (the first 2000 went to the server that was killed)
    let raw = raw_totals(&[server.url()], "outage", "api");
    let total: u64 = ["ok", "error", "panic"]
        .iter()
        .map(|s| raw.get(&format!("/reserve|POST|{s}")).copied().unwrap_or(0))
        .sum();
    assert_eq!(
        total, 4000,
        "the outage's calls and later ones, exactly once"
    );
    let want = expected(2000, 4000);
    assert_eq!(
        raw.get("/reserve|POST|ok").copied().unwrap_or(0),
        want[0],
        "ok calls"
    );
    assert_eq!(keys_without_ttl(&[server.url()], "outage"), Vec::new());
    telemetry.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_lost_reply_does_not_double_count() {
    let server = RedisServer::start();
    let proxy = CutProxy::start(server.port());
    let telemetry = realtime("lost")
        .redis_url(proxy.url())
        // only explicit flushes, so the test decides which batch the proxy cuts
        .realtime_flush_interval(Duration::from_hours(1))
        .build()
        .expect("build");
    let raw_ok = || {
        raw_totals(&[server.url()], "lost", "api")
            .get("/reserve|POST|ok")
            .copied()
            .unwrap_or(0)
    };
    run_calls(&telemetry, 0, 100, 4).await;
    flush_all(&telemetry).await;
    assert_eq!(raw_ok(), expected(0, 100)[0]);

    proxy.arm(b"EVALSHA");
    run_calls(&telemetry, 100, 100, 4).await;
    // generous: on a loaded 2-core machine the flusher may take a while to get to it
    assert!(
        !telemetry.flush(Duration::from_secs(10)).await,
        "the cut flush cannot be acknowledged"
    );
    assert_eq!(proxy.cuts(), 1, "the proxy cut the batch's connection");
    // the server applied the batch whose reply was lost
    assert_eq!(raw_ok(), expected(0, 200)[0]);

    // resent (same sequence) until acknowledged, then new calls as a new batch
    flush_all(&telemetry).await;
    run_calls(&telemetry, 200, 100, 4).await;
    flush_all(&telemetry).await;
    assert_totals(&telemetry, &[server.url()], "lost", 300).await;
    telemetry.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_snapshot_does_not_wait_for_a_stuck_flush() {
    let server = RedisServer::start();
    let proxy = CutProxy::start(server.port());
    let telemetry = realtime("stuck")
        .redis_url(proxy.url())
        // only explicit flushes, so the test decides which flush gets stuck
        .realtime_flush_interval(Duration::from_hours(1))
        .build()
        .expect("build");
    let reserve_ok = |snapshot: &kansoku::RealtimeSnapshot| {
        snapshot.endpoints[&("/reserve".to_owned(), "POST".to_owned())].calls(Status::Ok)
    };
    run_calls(&telemetry, 0, 100, 4).await;
    flush_all(&telemetry).await;
    let before = telemetry.realtime().snapshot(Duration::from_mins(10)).await;
    assert_eq!(reserve_ok(&before.expect("snapshot")), expected(0, 100)[0]);

    // the next batch reaches the server, whose reply the proxy then holds
    proxy.hold(b"EVALSHA");
    run_calls(&telemetry, 100, 100, 4).await;
    let flusher = telemetry.clone();
    let flush = tokio::spawn(async move { flusher.flush(Duration::from_secs(30)).await });
    let deadline = Instant::now() + Duration::from_secs(10);
    while proxy.held() == 0 {
        assert!(
            Instant::now() < deadline,
            "the flush never reached the proxy"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }

    // bounded, so a read queued behind the flush fails here instead of hanging
    let read = tokio::time::timeout(
        Duration::from_secs(10),
        telemetry.realtime().snapshot(Duration::from_mins(10)),
    )
    .await
    .expect("the snapshot returns")
    .expect("snapshot");
    assert!(
        !flush.is_finished(),
        "the snapshot returned only after the flush gave up"
    );
    // the held batch was applied: the server, not the flusher, is what the read sees
    assert_eq!(reserve_ok(&read), expected(0, 200)[0]);

    proxy.release();
    let _ = flush.await.expect("the flush task");
    flush_all(&telemetry).await;
    assert_totals(&telemetry, &[server.url()], "stuck", 200).await;
    telemetry.shutdown().await;
}

const CHILD_URL: &str = "KANSOKU_TEST_REDIS_CHILD_URL";

/// The second process of `two_processes_share_one_redis`: does nothing unless started by it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn child_writer() {
    let Ok(url) = std::env::var(CHILD_URL) else {
        return;
    };
    let telemetry = realtime("twoproc").redis_url(url).build().expect("build");
    run_calls(&telemetry, 0, 300, 4).await;
    telemetry.shutdown().await; // the last flush
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_processes_share_one_redis() {
    let server = RedisServer::start();
    let child = std::process::Command::new(std::env::current_exe().expect("this test binary"))
        .args(["--exact", "child_writer", "--nocapture"])
        .env(CHILD_URL, server.url())
        .output()
        .expect("run the child process");
    assert!(
        child.status.success(),
        "child failed: {}",
        String::from_utf8_lossy(&child.stderr)
    );
    let telemetry = realtime("twoproc")
        .redis_url(server.url())
        .build()
        .expect("build");
    run_calls(&telemetry, 300, 200, 4).await;
    flush_all(&telemetry).await;
    let snapshot = telemetry
        .realtime()
        .snapshot(Duration::from_mins(10))
        .await
        .expect("snapshot");
    let api = &snapshot.endpoints[&("/reserve".to_owned(), "POST".to_owned())];
    assert_eq!(by_status(api), expected(0, 500), "both processes' calls");
    let sequences: BTreeSet<String> = keys(&[server.url()], "twoproc")
        .into_iter()
        .filter_map(|(_, key)| key.split_once(":seq:").map(|(_, id)| id.to_owned()))
        .collect();
    assert_eq!(sequences.len(), 2, "two instances wrote: {sequences:?}");
    telemetry.shutdown().await;
}

#[tokio::test]
async fn a_bad_url_is_an_error_and_no_url_is_off() {
    let error = Telemetry::builder()
        .redis_url("http://nowhere")
        .build()
        .expect_err("not a redis URL");
    assert!(
        matches!(error, kansoku::Error::InvalidRedisUrl(_)),
        "{error}"
    );
    let telemetry = Telemetry::builder().build().expect("build");
    assert_eq!(
        telemetry.realtime().snapshot(Duration::from_secs(1)).await,
        Err(kansoku::RealtimeError::NotConfigured)
    );
    // Redis down at start is not an error
    let port = RedisServer::start().port(); // started and dropped: nothing listens there now
    let telemetry = realtime("down")
        .redis_url(format!("redis://127.0.0.1:{port}/"))
        .build()
        .expect("Redis down is not an error");
    telemetry.instrument(reserve(0)).await.expect("an ok call");
    assert!(
        !telemetry.flush(Duration::from_millis(300)).await,
        "a call is held, unwritten"
    );
    telemetry.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_backlog_is_counted_as_dropped() {
    let mut server = RedisServer::start();
    let telemetry = realtime("dropped")
        .redis_url(server.url())
        .realtime_max_pending(2)
        .build()
        .expect("build");
    server.stop();
    // five series change (requests, queries, two error kinds, a counter); two are held
    run_calls(&telemetry, 0, 10, 1).await;
    assert!(!telemetry.flush(Duration::from_millis(300)).await);
    let text = telemetry.prometheus_text();
    let dropped = kansoku_tests::value(&text, "dropped_realtime_dropped_total");
    assert!(dropped > 0.0, "nothing counted as dropped:\n{text}");
    // the Redis backend's own count, the same in its health report
    let redis = telemetry
        .health()
        .into_iter()
        .find(|health| health.backend == "redis")
        .expect("the Redis backend reports");
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    let counted = dropped as u64;
    assert_eq!(
        redis.dropped.get("backlog_full"),
        Some(&counted),
        "{redis:?}"
    );
    // a telemetry without Redis has no such series
    let without = Telemetry::builder().namespace("noredis").build().unwrap();
    assert!(!without.prometheus_text().contains("realtime_dropped"));
    telemetry.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn started_while_redis_is_down_it_connects_when_redis_comes_up() {
    let mut server = RedisServer::start();
    server.stop();
    let telemetry = realtime("late")
        .redis_url(server.url())
        .build()
        .expect("Redis down at start is not an error");
    run_calls(&telemetry, 0, 300, 3).await;
    assert!(
        !telemetry.flush(Duration::from_millis(300)).await,
        "nothing can be written yet"
    );
    server.restart();
    flush_all(&telemetry).await;
    let raw = raw_totals(&[server.url()], "late", "api");
    let want = expected(0, 300);
    assert_eq!(
        raw.get("/reserve|POST|ok").copied().unwrap_or(0),
        want[0],
        "{raw:?}"
    );
    assert_eq!(
        raw.get("/reserve|POST|error").copied().unwrap_or(0),
        want[1],
        "{raw:?}"
    );
    assert_eq!(keys_without_ttl(&[server.url()], "late"), Vec::new());
    telemetry.shutdown().await;
}
