//! The Redis backend against Redis as production runs it, all real `redis-server` processes:
//! TLS with a certificate made for the test (and a client given the wrong CA), ACL users (the
//! README's rule; a user lacking one command, fixed at run time; a wrong password), a Sentinel
//! failover with the master killed mid-run, and no password in anything kansoku shows.
// Handlers here stand in for real ones with trivial bodies; clippy sees them as written.
#![allow(clippy::unused_async, clippy::unnecessary_wraps)]

use std::time::{Duration, Instant};

use kansoku::{BackendHealth, BackendState, Telemetry};
use kansoku_tests::redis_production::{
    Certificates, SentinelSet, TlsCluster, TlsRedis, MASTER_NAME,
};
use kansoku_tests::redis_support::{keys, raw_totals, RedisServer};

#[kansoku::track_api_request(method = "POST", endpoint = "/orders")]
async fn order(i: u64) -> Result<u64, std::io::Error> {
    tokio::task::yield_now().await;
    if i % 5 == 4 {
        return Err(std::io::Error::other("declined"));
    }
    Ok(i)
}

fn builder(ns: &str) -> kansoku::TelemetryBuilder {
    Telemetry::builder()
        .namespace(ns)
        .realtime_bucket(Duration::from_secs(1))
        .realtime_flush_interval(Duration::from_millis(100))
}

async fn calls(telemetry: &Telemetry, range: std::ops::Range<u64>) {
    telemetry
        .instrument(async move {
            for i in range {
                let _ = order(i).await;
            }
        })
        .await;
}

/// Flushes until everything is written.
async fn flush_all(telemetry: &Telemetry, within: Duration) {
    let deadline = Instant::now() + within;
    while !telemetry.flush(Duration::from_secs(3)).await {
        assert!(
            Instant::now() < deadline,
            "the backlog was never written: {:?}",
            redis_health(telemetry)
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn redis_health(telemetry: &Telemetry) -> BackendHealth {
    telemetry
        .health()
        .into_iter()
        .find(|h| h.backend == "redis")
        .expect("a redis health report")
}

/// `(ok, error)` requests of `/orders` as written in Redis at `url`, read without kansoku.
fn raw_orders(url: &str, ns: &str) -> (u64, u64) {
    let raw = raw_totals(&[url.to_owned()], ns, "api");
    let get = |status: &str| {
        raw.get(&format!("/orders|POST|{status}"))
            .copied()
            .unwrap_or(0)
    };
    (get("ok"), get("error"))
}

fn expected(calls: u64) -> (u64, u64) {
    let errors = (0..calls).filter(|i| i % 5 == 4).count() as u64;
    (calls - errors, errors)
}

/// Waits until the health report's last error satisfies `check` (the flusher's first
/// attempt runs at start-up, in the background).
async fn wait_for_error(telemetry: &Telemetry, check: impl Fn(&str) -> bool) -> String {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let health = redis_health(telemetry);
        if let (BackendState::Down, Some((_, error))) = (health.state, &health.last_error) {
            if check(error) {
                return error.clone();
            }
        }
        assert!(
            Instant::now() < deadline,
            "the expected error never showed: {health:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_with_the_right_ca_gets_exact_totals() {
    let certificates = Certificates::make("kansoku");
    let redis = TlsRedis::start(&certificates);
    let telemetry = builder("tls")
        .redis_url(redis.tls_url())
        .redis_tls_ca(certificates.ca())
        .build()
        .expect("build");
    calls(&telemetry, 0..500).await;
    flush_all(&telemetry, Duration::from_secs(20)).await;
    // read back over the plain port, without kansoku
    assert_eq!(raw_orders(&redis.server.url(), "tls"), expected(500));
    // and through kansoku's own reader, over TLS
    let snapshot = telemetry
        .realtime()
        .snapshot(Duration::from_mins(5))
        .await
        .expect("a snapshot over TLS");
    let orders = &snapshot.endpoints[&("/orders".to_owned(), "POST".to_owned())];
    assert_eq!(orders.requests, 500);
    assert_eq!(redis_health(&telemetry).state, BackendState::Up);
    telemetry.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tls_cluster_gets_exact_totals() {
    let certificates = Certificates::make("kansoku");
    let cluster = TlsCluster::start(&certificates);
    let telemetry = builder("tlscluster")
        .redis_cluster(cluster.tls_urls())
        .redis_tls_ca(certificates.ca())
        .build()
        .expect("build");
    calls(&telemetry, 0..500).await;
    flush_all(&telemetry, Duration::from_secs(30)).await;
    let raw = raw_totals(&cluster.plain_urls(), "tlscluster", "api");
    let get = |status: &str| {
        raw.get(&format!("/orders|POST|{status}"))
            .copied()
            .unwrap_or(0)
    };
    assert_eq!((get("ok"), get("error")), expected(500));
    telemetry.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_with_the_wrong_ca_refuses_to_connect_and_says_so() {
    let certificates = Certificates::make("kansoku");
    let other = Certificates::make("someone else");
    let redis = TlsRedis::start(&certificates);
    let telemetry = builder("badca")
        .redis_url(redis.tls_url())
        .redis_tls_ca(other.ca())
        .build()
        .expect("a CA that does not match is no configuration error");
    // reported at start-up, before any call
    let error = wait_for_error(&telemetry, |e| e.contains("certificate")).await;
    assert!(
        error.to_lowercase().contains("issuer") || error.contains("certificate"),
        "{error}"
    );
    calls(&telemetry, 0..50).await;
    assert!(
        !telemetry.flush(Duration::from_secs(2)).await,
        "nothing may be written past a certificate that does not verify"
    );
    assert!(
        keys(&[redis.server.url()], "badca").is_empty(),
        "nothing reached the server"
    );
    assert_eq!(redis_health(&telemetry).state, BackendState::Down);

    // no system root signs the test CA either: rediss:// without a CA is refused too
    let telemetry = builder("noca")
        .redis_url(redis.tls_url())
        .build()
        .expect("build");
    wait_for_error(&telemetry, |e| e.contains("certificate")).await;
}

#[test]
fn a_missing_or_empty_ca_file_and_insecure_urls_are_errors_from_build() {
    let missing = builder("x")
        .redis_url("rediss://127.0.0.1:1/")
        .redis_tls_ca("/nonexistent/ca.pem")
        .build()
        .expect_err("a CA file that does not exist");
    assert!(
        missing.to_string().contains("/nonexistent/ca.pem"),
        "{missing}"
    );
    let empty = tempfile::NamedTempFile::new().expect("a temp file");
    let error = builder("x")
        .redis_url("rediss://127.0.0.1:1/")
        .redis_tls_ca(empty.path())
        .build()
        .expect_err("a CA file without a certificate");
    assert!(error.to_string().contains("no PEM certificate"), "{error}");
    let error = builder("x")
        .redis_url("rediss://127.0.0.1:1/#insecure")
        .build()
        .expect_err("turning verification off");
    assert!(error.to_string().contains("verifies"), "{error}");
    let error = builder("x")
        .redis_url("http://127.0.0.1:1/")
        .build()
        .expect_err("not a Redis URL");
    assert!(error.to_string().contains("redis://"), "{error}");
}

/// The README's rule for kansoku's ACL user (section "Redis ACL"), for namespace `ns`.
fn documented_rule(user: &str, password: &str, ns: &str) -> String {
    let readme = include_str!("../../README.md");
    let rule = readme
        .lines()
        .find(|line| line.trim_start().starts_with("ACL SETUSER kansoku "))
        .expect("README has the ACL rule");
    rule.trim()
        .replacen("ACL SETUSER kansoku ", &format!("ACL SETUSER {user} "), 1)
        .replace(">PASSWORD", &format!(">{password}"))
        .replace("{NAMESPACE:", &format!("{{{ns}:"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_acl_user_with_the_documented_rule_gets_exact_totals() {
    let server = RedisServer::start();
    let reply = server.command(&documented_rule("kansoku", "s3cret-pw", "acl"));
    assert!(reply.starts_with("+OK"), "ACL SETUSER: {reply}");
    let url = format!("redis://kansoku:s3cret-pw@127.0.0.1:{}/", server.port());
    let telemetry = builder("acl").redis_url(url).build().expect("build");
    calls(&telemetry, 0..300).await;
    flush_all(&telemetry, Duration::from_secs(20)).await;
    assert_eq!(raw_orders(&server.url(), "acl"), expected(300));
    let snapshot = telemetry
        .realtime()
        .snapshot(Duration::from_mins(5))
        .await
        .expect("the documented rule allows reading too");
    assert_eq!(
        snapshot.endpoints[&("/orders".to_owned(), "POST".to_owned())].requests,
        300
    );
    telemetry.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_user_lacking_a_command_is_told_which_and_totals_are_exact_once_fixed() {
    let server = RedisServer::start();
    let rule = documented_rule("limited", "pw-limited", "held");
    let reply = server.command(&format!("{rule} -hincrby"));
    assert!(reply.starts_with("+OK"), "ACL SETUSER: {reply}");
    let url = format!("redis://limited:pw-limited@127.0.0.1:{}/", server.port());
    let telemetry = builder("held").redis_url(url).build().expect("build");
    calls(&telemetry, 0..200).await;
    assert!(!telemetry.flush(Duration::from_secs(2)).await);
    let error = wait_for_error(&telemetry, |e| {
        e.contains("NOPERM") || e.contains("can't run this command")
    })
    .await;
    assert!(
        error.contains("+hincrby"),
        "the error names the denied command: {error}"
    );
    assert!(!error.contains("pw-limited"), "{error}");
    assert_eq!(
        raw_orders(&server.url(), "held"),
        (0, 0),
        "nothing half-written"
    );

    // fixed at run time: what was held is written, exactly once
    calls(&telemetry, 200..300).await;
    let reply = server.command("ACL SETUSER limited +hincrby");
    assert!(reply.starts_with("+OK"), "{reply}");
    flush_all(&telemetry, Duration::from_secs(20)).await;
    assert_eq!(raw_orders(&server.url(), "held"), expected(300));
    assert_eq!(redis_health(&telemetry).state, BackendState::Up);
    telemetry.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_password_is_reported_without_the_password() {
    let server = RedisServer::start();
    let reply = server.command(&documented_rule("kansoku", "right-pw", "wrongpw"));
    assert!(reply.starts_with("+OK"), "{reply}");
    let url = format!("redis://kansoku:wrong-pw-9431@127.0.0.1:{}/", server.port());
    let telemetry = builder("wrongpw").redis_url(url).build().expect("build");
    let error = wait_for_error(&telemetry, |e| {
        e.contains("WRONGPASS") || e.to_lowercase().contains("auth")
    })
    .await;
    let health = redis_health(&telemetry);
    let shown = format!("{error} {health:?} {telemetry:?}");
    assert!(!shown.contains("wrong-pw-9431"), "{shown}");
    assert!(health.detail.contains("kansoku:***@"), "{}", health.detail);
}

#[test]
fn no_password_in_any_error_debug_or_health() {
    const SECRET: &str = "hunter2-s3cret";
    let shown = |what: String| {
        assert!(!what.contains(SECRET), "a password shows: {what}");
    };
    for url in [
        format!("redis://user:{SECRET}@127.0.0.1:notaport/"),
        format!("rediss://user:{SECRET}@127.0.0.1:6379/#insecure"),
        format!("redis://:{SECRET}@"),
        format!("ftp://user:{SECRET}@host/"),
    ] {
        let builder = builder("secret").redis_url(url);
        shown(format!("{builder:?}"));
        let error = builder.build().expect_err("a bad URL");
        shown(error.to_string());
        shown(format!("{error:?}"));
    }
    let sentinel = builder("secret")
        .redis_sentinel(
            MASTER_NAME,
            [format!("redis://user:{SECRET}@127.0.0.1:notaport")],
        )
        .redis_sentinel_master_auth(Some("app"), SECRET);
    shown(format!("{sentinel:?}"));
    let error = sentinel.build().expect_err("a bad Sentinel URL");
    shown(format!("{error} {error:?}"));

    // a good URL: the running backend's Debug and health
    let runtime = tokio::runtime::Runtime::new().expect("a runtime");
    let telemetry = builder("secret")
        .redis_url(format!("redis://user:{SECRET}@127.0.0.1:1/"))
        .build()
        .expect("build");
    runtime.block_on(async {
        let error = wait_for_error(&telemetry, |_| true).await;
        shown(error);
    });
    shown(format!("{telemetry:?}"));
    shown(format!("{:?}", telemetry.health()));
    let from_env = Telemetry::builder().from_env_with(|name| match name {
        "KANSOKU_REDIS_SENTINEL" => Some(format!(
            "mymaster@redis://:{SECRET}@127.0.0.1:26379,redis://:{SECRET}@127.0.0.1:26380"
        )),
        "KANSOKU_REDIS_SENTINEL_MASTER_AUTH" => Some(format!("app:{SECRET}")),
        _ => None,
    });
    shown(format!("{from_env:?}"));
    assert!(format!("{from_env:?}").contains("mymaster"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sentinel_failover_keeps_totals_exact() {
    let set = SentinelSet::start();
    let telemetry = builder("failover")
        .redis_sentinel(MASTER_NAME, set.urls())
        .build()
        .expect("build");
    failover_keeps_totals_exact(set, telemetry, "failover").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sentinel_failover_over_tls_keeps_totals_exact() {
    let certificates = Certificates::make("kansoku");
    let set = SentinelSet::start_tls(&certificates);
    let telemetry = builder("tlsfailover")
        .redis_sentinel(MASTER_NAME, set.urls())
        .redis_tls_ca(certificates.ca())
        .build()
        .expect("build");
    failover_keeps_totals_exact(set, telemetry, "tlsfailover").await;
}

async fn failover_keeps_totals_exact(mut set: SentinelSet, telemetry: Telemetry, ns: &str) {
    calls(&telemetry, 0..400).await;
    flush_all(&telemetry, Duration::from_secs(20)).await;
    assert_eq!(raw_orders(&set.master.url(), ns), expected(400));

    // calls go on while the master dies and the Sentinels promote the replica
    let writer = {
        let telemetry = telemetry.clone();
        tokio::spawn(async move {
            for chunk in 0..40 {
                calls(&telemetry, 400 + chunk * 40..400 + (chunk + 1) * 40).await;
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        })
    };
    tokio::time::sleep(Duration::from_millis(400)).await;
    tokio::task::block_in_place(|| set.kill_master_and_wait_for_failover());
    writer.await.expect("the calls never fail");
    flush_all(&telemetry, Duration::from_secs(30)).await;

    let total = 400 + 40 * 40;
    assert_eq!(
        raw_orders(&set.replica.url(), ns),
        expected(total),
        "every call once on the new master: none lost, none counted twice"
    );
    assert_eq!(redis_health(&telemetry).state, BackendState::Up);
    telemetry.shutdown().await;
}
