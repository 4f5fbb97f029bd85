//! `kansoku-cli doctor` against real parts: a service serving kansoku's text behind a token, a
//! real `redis-server` that the service's Redis backend writes, and Bugsink as the Sentry
//! host. Healthy: every line `ok`, exit 0. Broken: one `FAIL` line per fault with what to do,
//! exit 1, and no secret in the output.
// Handlers here stand in for real ones with trivial bodies; clippy sees them as written.
#![allow(clippy::unused_async, clippy::unnecessary_wraps)]

use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use kansoku::Telemetry;
use kansoku_tests::bugsink::Bugsink;
use kansoku_tests::redis_support::RedisServer;

const TOKEN: &str = "doctor-test-token-7f3a";

#[kansoku::track_api_request(method = "GET", endpoint = "/shops")]
async fn get_shops() -> Result<u8, std::io::Error> {
    Ok(1)
}

/// The database as the ops router's health check sees it: up or down as the test says.
struct Database(Arc<AtomicBool>);

impl kansoku::http::HealthCheck for Database {
    fn name(&self) -> &'static str {
        "database"
    }
    fn check(&self) -> kansoku::http::CheckFuture<'_> {
        let up = self.0.load(Ordering::SeqCst);
        Box::pin(async move {
            if up {
                Ok(())
            } else {
                Err(kansoku::http::CheckError::new("connection refused"))
            }
        })
    }
}

async fn doctor(args: Vec<String>) -> (i32, String) {
    tokio::task::spawn_blocking(move || {
        let out = Command::new(env!("CARGO_BIN_EXE_kansoku-cli"))
            .arg("doctor")
            .args(&args)
            .env_remove("SENTRY_DSN")
            .env_remove("KANSOKU_REDIS_URL")
            .env_remove("KANSOKU_OPS_TOKEN")
            .output()
            .expect("kansoku-cli runs");
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        (out.status.code().unwrap_or(-1), text)
    })
    .await
    .unwrap()
}

fn line<'a>(report: &'a str, check: &str) -> &'a str {
    report
        .lines()
        .find(|l| l.split_whitespace().nth(1) == Some(&format!("{check}:")))
        .unwrap_or_else(|| panic!("no line for {check} in:\n{report}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[allow(clippy::too_many_lines)] // one scenario: well, then broken in every way, then unconfigured
async fn doctor_says_ok_when_all_is_well_and_what_to_do_when_it_is_not() {
    let bugsink = tokio::task::spawn_blocking(Bugsink::start).await.unwrap();
    let redis = RedisServer::start();
    let telemetry = Telemetry::builder()
        .namespace("doctor")
        .redis_url(redis.url())
        .realtime_flush_interval(Duration::from_millis(100))
        .build()
        .unwrap();
    telemetry.instrument(get_shops()).await.unwrap();
    assert!(
        telemetry.flush(Duration::from_secs(10)).await,
        "the counters reached Redis"
    );
    let healthy = Arc::new(AtomicBool::new(true));
    let router: Router = kansoku::http::ops_router(
        &telemetry,
        kansoku::http::OpsConfig::new()
            .token(TOKEN)
            .cache_ttl(Duration::ZERO)
            .critical(Database(healthy.clone())),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, router).await });

    let good = |extra: &[(&str, String)]| {
        let mut args: Vec<(String, String)> = vec![
            ("--url".into(), url.clone()),
            ("--token".into(), TOKEN.into()),
            ("--namespace".into(), "doctor".into()),
            ("--sentry-dsn".into(), bugsink.dsn()),
            ("--redis-url".into(), redis.url()),
        ];
        for (flag, value) in extra {
            args.retain(|(f, _)| f != flag);
            args.push(((*flag).to_owned(), value.clone()));
        }
        args.into_iter()
            .flat_map(|(f, v)| [f, v])
            .collect::<Vec<_>>()
    };

    let (code, report) = doctor(good(&[])).await;
    println!("healthy:\n{report}");
    assert_eq!(code, 0, "{report}");
    for check in ["sentry", "redis", "metrics", "health"] {
        assert!(line(&report, check).starts_with("ok"), "{report}");
    }
    assert!(
        line(&report, "redis").contains("real-time keys of `doctor` are being written"),
        "{report}"
    );
    assert!(
        line(&report, "metrics").contains("doctor_api_requests_total"),
        "{report}"
    );

    // everything wrong at once
    healthy.store(false, Ordering::SeqCst);
    let dead = kansoku_tests::free_port();
    let (code, report) = doctor(good(&[
        ("--token", "wrong-token-c0ffee".to_owned()),
        ("--sentry-dsn", "https://secretkey9@/1".to_owned()),
        (
            "--redis-url",
            format!("redis://:hunter2pass@127.0.0.1:{dead}"),
        ),
    ]))
    .await;
    println!("broken:\n{report}");
    assert_eq!(code, 1, "{report}");
    assert!(
        line(&report, "sentry").starts_with("FAIL")
            && line(&report, "sentry").contains("does not parse"),
        "{report}"
    );
    assert!(
        line(&report, "redis").starts_with("FAIL")
            && line(&report, "redis").contains("does not answer"),
        "{report}"
    );
    assert!(
        line(&report, "metrics").contains("HTTP 401")
            && line(&report, "metrics").contains("KANSOKU_OPS_TOKEN"),
        "{report}"
    );
    assert!(
        line(&report, "health").contains("unhealthy")
            && line(&report, "health").contains("failing: database"),
        "{report}"
    );
    for secret in ["wrong-token-c0ffee", "secretkey9", "hunter2pass", TOKEN] {
        assert!(!report.contains(secret), "`{secret}` printed:\n{report}");
    }

    // another namespace: the service's is named; Redis holds none of it
    let (code, report) = doctor(good(&[("--namespace", "other".to_owned())])).await;
    assert_eq!(code, 1, "{report}");
    assert!(
        line(&report, "metrics").contains("exports namespace doctor"),
        "{report}"
    );
    assert!(
        line(&report, "redis").contains("no real-time key of namespace `other`"),
        "{report}"
    );

    // Sentry and Redis not configured: allowed, said so
    healthy.store(true, Ordering::SeqCst);
    let args = vec![
        "--url".to_owned(),
        url.clone(),
        "--token".to_owned(),
        TOKEN.to_owned(),
        "--namespace".to_owned(),
        "doctor".to_owned(),
    ];
    let (code, report) = doctor(args).await;
    assert_eq!(code, 0, "{report}");
    assert!(
        line(&report, "sentry").starts_with("skip") && line(&report, "redis").starts_with("skip"),
        "{report}"
    );

    // the service is not running: both of its checks say so, and how to point at it
    let (code, report) = doctor(vec![
        "--url".to_owned(),
        format!("http://127.0.0.1:{dead}"),
        "--namespace".to_owned(),
        "doctor".to_owned(),
    ])
    .await;
    assert_eq!(code, 1, "{report}");
    for check in ["metrics", "health"] {
        assert!(
            line(&report, check).starts_with("FAIL")
                && line(&report, check).contains("does not answer")
                && line(&report, check).contains("--url"),
            "{report}"
        );
    }
    telemetry.shutdown().await;
}
