//! The main example as a user runs it: a real process on a loopback port, real HTTP requests,
//! real Redis and PostgreSQL started or created by the tests.

// counts read back from the text are small integers, exact in f64
#![allow(clippy::float_cmp)]

mod support;

use std::process::Command;
use std::thread;
use std::time::{Duration, Instant};

use kansoku_tests::redis_support::RedisServer;
use kansoku_tests::{required_tool, series_of, value};
use serde_json::json;
use support::{get, post_json, wait_for, EnvelopeReceiver, Example, SearchStandIn, Silent};

/// The report's cache TTL and the default check timeout of the ops router.
const TTL: Duration = kansoku::http::DEFAULT_CACHE_TTL;
const CHECK_TIMEOUT: Duration = kansoku::http::DEFAULT_CHECK_TIMEOUT;

fn check<'a>(report: &'a serde_json::Value, name: &str) -> &'a serde_json::Value {
    report["checks"]
        .as_array()
        .expect("checks is a list")
        .iter()
        .find(|c| c["name"] == name)
        .unwrap_or_else(|| panic!("no check {name} in {report}"))
}

#[test]
fn the_api_serves_shops_reservations_and_business_metrics() {
    let example = Example::start(&[]);
    let shops = get(&format!("{}/shops", example.base), &[]).json();
    assert_eq!(
        shops.as_array().unwrap().len(),
        6,
        "the seeded active shops: {shops}"
    );
    let all = get(&format!("{}/shops?all=true", example.base), &[]).json();
    assert_eq!(all.as_array().unwrap().len(), 8);
    assert_eq!(
        get(&format!("{}/shops/1", example.base), &[]).json()["name"],
        "Namba Garden"
    );
    assert_eq!(get(&format!("{}/shops/999", example.base), &[]).status, 404);
    let found = get(&format!("{}/shops/search?q=NAMBA", example.base), &[]).json();
    let names: Vec<&str> = found
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        ["Namba Garden", "Namba Annex"],
        "SQL LIKE search without SEARCH_URL"
    );

    let reserve = |shop: i64, source: &str, customer: &str| {
        post_json(
            &format!("{}/reservations", example.base),
            &json!({"shop_id": shop, "customer": customer, "source": source}),
        )
    };
    assert_eq!(reserve(1, "line", "aki").status, 201);
    assert_eq!(reserve(2, "web", "ben").status, 201);
    assert_eq!(reserve(3, "web", "chie").status, 400, "shop 3 is closed");
    assert_eq!(reserve(1, "fax", "").status, 400, "no customer");
    let active = get(&format!("{}/users/active", example.base), &[]).json();
    assert_eq!(active["active_users"], json!({"member": 2, "guest": 0}));
    assert_eq!(get(&format!("{}/fail", example.base), &[]).status, 500);
    assert_eq!(
        get(&format!("{}/fail?kind=panic", example.base), &[]).status,
        500
    );

    let text = get(&format!("{}/metrics", example.base), &[]).body;
    let reservations = |status: &str, source: &str| {
        value(
            &text,
            &format!(r#"osakamenesu_reservations_total{{source="{source}",status="{status}"}}"#),
        )
    };
    assert_eq!(reservations("confirmed", "line"), 1.0);
    assert_eq!(reservations("confirmed", "web"), 1.0);
    assert_eq!(reservations("rejected", "web"), 1.0);
    assert_eq!(
        reservations("rejected", "other"),
        1.0,
        "unknown sources share one label"
    );
    assert_eq!(
        value(&text, r#"osakamenesu_active_users{user_type="member"}"#),
        2.0
    );
    assert_eq!(value(&text, "osakamenesu_database_connections_max"), 10.0);
    assert!(
        text.contains("osakamenesu_database_connections_used "),
        "{text}"
    );
    // the attributes on handlers and queries
    assert_eq!(
        value(
            &text,
            r#"osakamenesu_api_requests_total{endpoint="/shops/{id}",method="GET",status="error"}"#
        ),
        1.0
    );
    assert!(
        value(
            &text,
            r#"osakamenesu_database_queries_total{operation="select",status="ok",table="shops"}"#
        ) >= 4.0
    );
    assert_eq!(
        value(
            &text,
            r#"osakamenesu_database_queries_total{operation="insert",status="ok",table="reservations"}"#
        ),
        2.0
    );
}

#[test]
fn failures_on_demand_are_counted_as_errors_and_panics() {
    let example = Example::start(&[]);
    assert_eq!(get(&format!("{}/fail", example.base), &[]).status, 500);
    assert_eq!(
        get(&format!("{}/fail?kind=panic", example.base), &[]).status,
        500
    );
    assert_eq!(
        get(&format!("{}/health", example.base), &[]).status,
        200,
        "still serving"
    );
    let text = get(&format!("{}/metrics", example.base), &[]).body;
    assert_eq!(
        value(
            &text,
            r#"osakamenesu_errors_total{endpoint="/fail",kind="ApiError"}"#
        ),
        1.0
    );
    assert_eq!(
        value(
            &text,
            r#"osakamenesu_errors_total{endpoint="/fail",kind="panic"}"#
        ),
        1.0
    );
    // a panic answers 500 (the example's catch-panic layer), and the HTTP layer sees it
    assert_eq!(
        value(
            &text,
            r#"osakamenesu_http_requests_total{method="GET",route="/fail",status_code="500"}"#
        ),
        2.0
    );
}

#[test]
fn http_metrics_are_labelled_by_route_template_and_unmatched_paths_share_one_label() {
    let example = Example::start(&[]);
    for id in [1, 2, 4] {
        get(&format!("{}/shops/{id}", example.base), &[]);
    }
    for i in 0..200 {
        assert_eq!(
            get(&format!("{}/scanner/probe-{i}", example.base), &[]).status,
            404
        );
    }
    let text = get(&format!("{}/metrics", example.base), &[]).body;
    assert_eq!(
        value(
            &text,
            r#"osakamenesu_http_requests_total{method="GET",route="/shops/{id}",status_code="200"}"#
        ),
        3.0
    );
    let routes: Vec<String> = series_of(&text, "osakamenesu_http_requests_total")
        .keys()
        .filter_map(|series| {
            series
                .split("route=\"")
                .nth(1)?
                .split('"')
                .next()
                .map(str::to_owned)
        })
        .collect();
    assert!(
        routes.iter().all(|r| !r.contains("probe")),
        "a raw path became a label: {routes:?}"
    );
    assert_eq!(
        value(
            &text,
            &format!(
                r#"osakamenesu_http_requests_total{{method="GET",route="{}",status_code="404"}}"#,
                kansoku::http::UNMATCHED_ROUTE
            )
        ),
        200.0
    );
}

#[test]
fn metrics_need_the_bearer_token_when_one_is_configured() {
    let token = "ops-token-7f3a9c";
    let example = Example::start(&[("KANSOKU_OPS_TOKEN", token)]);
    let metrics = format!("{}/metrics", example.base);
    let overlong = format!("Bearer {}", "x".repeat(8 * 1024));
    let bearer_right = format!("Bearer {token}");
    let bearer_prefix = format!("Bearer {}", &token[..token.len() - 1]);
    let bearer_longer = format!("Bearer {token}0");
    for (why, header) in [
        ("no header", None),
        ("empty token", Some("Bearer ")),
        ("wrong token", Some("Bearer ops-token-000000")),
        ("a prefix of the token", Some(bearer_prefix.as_str())),
        ("the token and one more byte", Some(bearer_longer.as_str())),
        ("overlong", Some(overlong.as_str())),
        ("another scheme", Some("Basic b3BzOnRva2Vu")),
    ] {
        let headers: Vec<(&str, &str)> = header.map(|h| ("authorization", h)).into_iter().collect();
        let answer = get(&metrics, &headers);
        assert_eq!(answer.status, 401, "{why}: {answer:?}");
        assert_eq!(answer.headers["www-authenticate"], "Bearer");
        assert!(
            !answer.body.contains("osakamenesu_"),
            "{why}: metrics leaked"
        );
    }
    // even from loopback, a configured token is required; with it, the text
    let answer = get(&metrics, &[("authorization", &bearer_right)]);
    assert_eq!(answer.status, 200);
    assert_eq!(
        answer.headers["content-type"],
        "text/plain; version=0.0.4; charset=utf-8"
    );
    assert!(
        answer
            .body
            .contains("# TYPE osakamenesu_http_requests_total counter"),
        "{}",
        answer.body
    );
    // what Prometheus asks for: OpenMetrics
    let accept = "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1";
    let open = get(
        &metrics,
        &[("authorization", &bearer_right), ("accept", accept)],
    );
    assert_eq!(open.status, 200);
    assert!(open.headers["content-type"].starts_with("application/openmetrics-text; version=1.0.0"));
    assert!(open.body.ends_with("# EOF\n"));
    assert!(
        open.body
            .contains("# TYPE osakamenesu_http_requests counter\n"),
        "{}",
        open.body
    );
    // the token is never logged
    assert!(!example.log().contains(token));
    assert!(example.log().contains("/metrics needs the bearer token"));
    // the liveness probe needs nothing
    assert_eq!(
        get(&format!("{}/health", example.base), &[]).json(),
        json!({"status": "ok"})
    );
}

/// The machine's address on its outbound interface (not loopback), to reach the example as a
/// remote client would.
fn outbound_address() -> std::net::IpAddr {
    let socket = std::net::UdpSocket::bind("0.0.0.0:0").expect("a UDP socket");
    // connecting a UDP socket sends nothing; it picks the interface a packet would leave by
    socket
        .connect("192.0.2.1:9")
        .expect("this test needs a non-loopback network interface (a route to 192.0.2.1)");
    let ip = socket.local_addr().unwrap().ip();
    assert!(
        !ip.is_loopback() && !ip.is_unspecified(),
        "no non-loopback address: {ip}"
    );
    ip
}

#[test]
fn without_a_token_metrics_are_served_to_loopback_clients_only() {
    let example = Example::start_on("0.0.0.0", &[]);
    let local = get(&format!("http://127.0.0.1:{}/metrics", example.port()), &[]);
    assert_eq!(local.status, 200);
    assert!(local.body.contains("osakamenesu_"));
    let remote = get(
        &format!("http://{}:{}/metrics", outbound_address(), example.port()),
        &[],
    );
    assert_eq!(
        remote.status, 403,
        "a non-loopback client without a token: {remote:?}"
    );
    assert!(!remote.body.contains("osakamenesu_"));
    // the rest of the API is not restricted
    assert_eq!(
        get(
            &format!("http://{}:{}/shops/1", outbound_address(), example.port()),
            &[]
        )
        .status,
        200
    );
    let log = example.log();
    assert_eq!(
        log.matches("served to loopback clients only").count(),
        1,
        "said once at start-up:\n{log}"
    );
}

#[test]
fn health_follows_redis_down_and_back_as_a_degrading_dependency() {
    let mut redis = RedisServer::start();
    let example = Example::start(&[("KANSOKU_REDIS_URL", &redis.url())]);
    let url = format!("{}/health/detailed", example.base);
    let healthy = wait_for(&url, Duration::from_secs(10), |a| {
        a.json()["status"] == "healthy"
    });
    assert_eq!(healthy.status, 200);
    let report = healthy.json();
    assert_eq!(check(&report, "redis")["status"], "healthy");
    assert_eq!(check(&report, "database")["status"], "healthy");
    assert_eq!(report["version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(report["environment"], "development");
    assert!(report["timestamp"].as_str().unwrap().ends_with('Z'));

    redis.stop();
    // once the cached report has expired, the next one sees Redis gone
    thread::sleep(TTL + Duration::from_millis(200));
    let asked = Instant::now();
    let down = get(&url, &[]);
    assert!(
        asked.elapsed() < CHECK_TIMEOUT + Duration::from_secs(3),
        "bounded by the check timeout"
    );
    assert_eq!(down.status, 200, "degraded is still 200: {}", down.body);
    let report = down.json();
    assert_eq!(report["status"], "degraded");
    let redis_check = check(&report, "redis");
    assert_eq!(redis_check["status"], "unhealthy");
    assert!(redis_check["error"].as_str().is_some_and(|e| !e.is_empty()));
    let text = get(&format!("{}/metrics", example.base), &[]).body;
    assert_eq!(
        value(&text, r#"osakamenesu_health_check_up{check="redis"}"#),
        0.0
    );
    assert_eq!(
        value(&text, r#"osakamenesu_health_check_up{check="database"}"#),
        1.0
    );
    assert!(text.contains(r#"osakamenesu_health_check_duration_seconds{check="redis"}"#));

    redis.restart();
    let back = wait_for(&url, Duration::from_secs(10), |a| {
        a.json()["status"] == "healthy"
    });
    assert_eq!(
        check(&back.json(), "redis")["error"],
        serde_json::Value::Null
    );
}

#[test]
fn redis_configured_as_critical_makes_the_service_unhealthy() {
    let mut redis = RedisServer::start();
    let example = Example::start(&[("KANSOKU_REDIS_URL", &redis.url()), ("REDIS_CRITICAL", "1")]);
    let url = format!("{}/health/detailed", example.base);
    wait_for(&url, Duration::from_secs(10), |a| {
        a.status == 200 && a.json()["status"] == "healthy"
    });
    redis.stop();
    let down = wait_for(&url, Duration::from_secs(10), |a| a.status == 503);
    assert_eq!(down.json()["status"], "unhealthy");
    redis.restart();
    wait_for(&url, Duration::from_secs(10), |a| a.status == 200);
}

#[test]
fn a_search_service_that_never_answers_is_cut_at_its_bound() {
    let silent = Silent::start();
    let search_url = format!("http://127.0.0.1:{}", silent.port);
    let example = Example::start(&[("SEARCH_URL", &search_url)]);
    // a scrape starts the checks in the background and does not wait for the hung one: had it
    // waited, the search gauge would be in this very answer
    let scrape = get(&format!("{}/metrics", example.base), &[]).body;
    assert!(
        !scrape.contains(r#"osakamenesu_health_check_up{check="search"}"#),
        "{scrape}"
    );
    let asked = Instant::now();
    let answer = get(&format!("{}/health/detailed", example.base), &[]);
    let took = asked.elapsed();
    assert_eq!(
        answer.status, 200,
        "search is degrading, not critical: {}",
        answer.body
    );
    let report = answer.json();
    assert_eq!(report["status"], "degraded");
    let search = check(&report, "search");
    let bound_ms = u64::try_from(CHECK_TIMEOUT.as_millis()).unwrap();
    assert_eq!(search["error"], format!("no answer within {bound_ms} ms"));
    let response_ms = search["response_time_ms"].as_f64().unwrap();
    assert!(
        response_ms >= CHECK_TIMEOUT.as_secs_f64() * 1000.0,
        "{response_ms}"
    );
    // the endpoint itself was not held by the hung dependency beyond its bound (a hang would
    // be the client's 30 s timeout)
    assert!(took < CHECK_TIMEOUT + Duration::from_secs(5), "{took:?}");
    assert_eq!(check(&report, "database")["status"], "healthy");
    let scrape = get(&format!("{}/metrics", example.base), &[]).body;
    assert_eq!(
        value(&scrape, r#"osakamenesu_health_check_up{check="search"}"#),
        0.0
    );
    // searching still answers, from the database, once the search client gives up
    let found = get(&format!("{}/shops/search?q=umeda", example.base), &[]);
    assert_eq!(found.status, 200);
    assert_eq!(found.json().as_array().unwrap().len(), 1);
}

/// A database of its own on the machine's PostgreSQL, dropped at the end.
struct PgDatabase(String);

impl PgDatabase {
    fn create() -> PgDatabase {
        let name = format!("kansoku_shops_api_test_{}", std::process::id());
        let db = PgDatabase(name);
        PgDatabase::psql(&format!("DROP DATABASE IF EXISTS {}", db.0));
        PgDatabase::psql(&format!("CREATE DATABASE {}", db.0));
        db
    }

    /// `psql` on the machine's PostgreSQL (127.0.0.1:5432, trust auth), connected to `database`.
    fn psql_on(database: &str) -> Command {
        let mut command = Command::new(required_tool("psql"));
        command.args([
            "-h",
            "127.0.0.1",
            "-p",
            "5432",
            "-U",
            "postgres",
            "-d",
            database,
            "-v",
            "ON_ERROR_STOP=1",
            "-q",
        ]);
        command
    }

    fn psql(sql: &str) {
        let status = PgDatabase::psql_on("postgres")
            .args(["-c", sql])
            .status()
            .expect("run psql");
        assert!(
            status.success(),
            "psql failed on {sql:?}: is PostgreSQL on 127.0.0.1:5432 with trust auth?"
        );
    }

    fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:5432/{}", self.0)
    }
}

impl Drop for PgDatabase {
    fn drop(&mut self) {
        let _ = PgDatabase::psql_on("postgres")
            .arg("-c")
            .arg(format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.0))
            .status();
    }
}

#[test]
fn the_example_runs_on_postgresql() {
    let database = PgDatabase::create();
    let mut example = Example::start(&[("DATABASE_URL", &database.url())]);
    assert_eq!(
        get(&format!("{}/shops", example.base), &[])
            .json()
            .as_array()
            .unwrap()
            .len(),
        6
    );
    let created = post_json(
        &format!("{}/reservations", example.base),
        &json!({"shop_id": 2, "customer": "dai", "user_type": "guest", "source": "app"}),
    );
    assert_eq!(created.status, 201, "{}", created.body);
    let active = get(&format!("{}/users/active", example.base), &[]).json();
    assert_eq!(active["active_users"]["guest"], 1);
    let names: Vec<String> = get(&format!("{}/shops/search?q=umeda", example.base), &[])
        .json()
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(names, ["Umeda Terrace"]);
    let report = get(&format!("{}/health/detailed", example.base), &[]).json();
    assert_eq!(check(&report, "database")["status"], "healthy");
    assert!(
        example.terminate().is_some_and(|s| s.success()),
        "graceful exit"
    );
    // the reservation really is in PostgreSQL
    let out = PgDatabase::psql_on(&database.0)
        .args(["-tA", "-c", "SELECT customer, source FROM reservations"])
        .output()
        .expect("psql");
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "dai|app");
}

#[test]
fn sigterm_lets_the_request_in_flight_finish() {
    let mut example = Example::start(&[]);
    let slow = format!("{}/fail?kind=slow&ms=1500", example.base);
    let request = thread::spawn(move || get(&slow, &[]));
    thread::sleep(Duration::from_millis(500));
    let status = example.terminate().expect("it exits");
    let answer = request.join().unwrap();
    assert_eq!(answer.status, 200, "the request in flight got its answer");
    assert_eq!(answer.body, "slow answer\n");
    assert!(status.success(), "{status:?}");
    assert!(
        example.log().contains("flushing telemetry"),
        "{}",
        example.log()
    );
}

#[test]
fn a_trace_continues_across_two_instances() {
    let receiver = EnvelopeReceiver::start();
    let dsn = receiver.dsn();
    let env = [
        ("SENTRY_DSN", dsn.as_str()),
        ("SENTRY_TRACES_SAMPLE_RATE", "1.0"),
    ];
    let mut downstream = Example::start(&env);
    let upstream_url = downstream.base.clone();
    let mut env_up = env.to_vec();
    env_up.push(("UPSTREAM_URL", &upstream_url));
    let mut upstream = Example::start(&env_up);
    let answer = get(&format!("{}/upstream/shops/2", upstream.base), &[]);
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert_eq!(answer.json()["shop"]["name"], "Umeda Terrace");
    // shutting down flushes both instances' transactions
    upstream.terminate();
    downstream.terminate();
    let transactions = receiver.transactions();
    let named = |name: &str| {
        transactions
            .iter()
            .find(|t| t["transaction"] == name)
            .unwrap_or_else(|| panic!("no transaction {name} among {transactions:#?}"))
            .clone()
    };
    let upstream_tx = named("GET /upstream/shops/{id}");
    let downstream_tx = named("GET /shops/{id}");
    let trace = |t: &serde_json::Value| t["contexts"]["trace"].clone();
    assert_eq!(
        trace(&downstream_tx)["trace_id"],
        trace(&upstream_tx)["trace_id"],
        "one trace"
    );
    // the callee's parent is a span of the caller (its transaction or a span inside it)
    let parent = trace(&downstream_tx)["parent_span_id"].clone();
    let upstream_spans: Vec<serde_json::Value> =
        std::iter::once(trace(&upstream_tx)["span_id"].clone())
            .chain(
                upstream_tx["spans"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(|s| s["span_id"].clone()),
            )
            .collect();
    assert!(
        upstream_spans.contains(&parent),
        "parent {parent} not among the caller's spans {upstream_spans:?}"
    );
}

/// A real Prometheus, scraping `target` every second with this bearer token; killed when
/// dropped.
struct Prometheus {
    child: std::process::Child,
    base: String,
    _dir: tempfile::TempDir,
}

impl Prometheus {
    fn start(target: &str, token: &str) -> Prometheus {
        let dir = tempfile::tempdir().expect("a temporary folder");
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let config = format!(
            "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\nscrape_configs:\n  - job_name: shops\n    authorization:\n      credentials: {token}\n    static_configs:\n      - targets: ['{target}']\n"
        );
        std::fs::write(dir.path().join("prometheus.yml"), config).unwrap();
        let child = Command::new(required_tool("prometheus"))
            .arg(format!(
                "--config.file={}",
                dir.path().join("prometheus.yml").display()
            ))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.path().join("data").display()
            ))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("start prometheus");
        Prometheus {
            child,
            base: format!("http://127.0.0.1:{port}"),
            _dir: dir,
        }
    }

    /// The scrape target's state as Prometheus reports it: (health, lastError).
    fn target(&self) -> Option<(String, String)> {
        let url = format!("{}/api/v1/targets", self.base);
        let answer = ureq::get(&url)
            .call()
            .ok()?
            .into_body()
            .read_to_string()
            .ok()?;
        let targets: serde_json::Value = serde_json::from_str(&answer).ok()?;
        let target = &targets["data"]["activeTargets"][0];
        Some((
            target["health"].as_str()?.to_owned(),
            target["lastError"].as_str()?.to_owned(),
        ))
    }
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn a_real_prometheus_scrapes_the_openmetrics_form_with_the_token() {
    let token = "scrape-token-42";
    let example = Example::start(&[("KANSOKU_OPS_TOKEN", token)]);
    get(&format!("{}/shops/1", example.base), &[]);
    let prometheus = Prometheus::start(&format!("127.0.0.1:{}", example.port()), token);
    let deadline = Instant::now() + Duration::from_secs(30);
    let state = loop {
        let state = prometheus.target();
        if state
            .as_ref()
            .is_some_and(|(health, _)| health != "unknown")
        {
            break state.unwrap();
        }
        assert!(
            Instant::now() < deadline,
            "Prometheus never scraped the example"
        );
        thread::sleep(Duration::from_millis(200));
    };
    // Prometheus asks for OpenMetrics first: a parse error would show here
    assert_eq!(state, ("up".to_owned(), String::new()));
    let query = format!(
        "{}/api/v1/query?query=osakamenesu_http_requests_total%7Broute%3D%22%2Fshops%2F%7Bid%7D%22%7D",
        prometheus.base
    );
    let answer: serde_json::Value = serde_json::from_str(
        &ureq::get(&query)
            .call()
            .unwrap()
            .into_body()
            .read_to_string()
            .unwrap(),
    )
    .unwrap();
    assert_eq!(answer["data"]["result"][0]["value"][1], "1", "{answer}");
}

#[test]
fn search_goes_through_the_search_service_and_its_health_is_checked() {
    let search = SearchStandIn::start(&[8, 3, 1]);
    let receiver = EnvelopeReceiver::start();
    let example = Example::start(&[
        ("SEARCH_URL", &search.url()),
        ("SENTRY_DSN", &receiver.dsn()),
        ("SENTRY_TRACES_SAMPLE_RATE", "1.0"),
    ]);
    let found = get(&format!("{}/shops/search?q=studio", example.base), &[]).json();
    let ids: Vec<i64> = found
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["id"].as_i64().unwrap())
        .collect();
    assert_eq!(ids, [8, 1], "the service's order, closed shop 3 left out");
    let searched = search
        .heads()
        .into_iter()
        .find(|head| head.starts_with("POST /indexes/shops/search "))
        .expect("the example asked the search service");
    assert!(
        searched.contains("sentry-trace:"),
        "the search request carries the trace: {searched}"
    );
    let text = get(&format!("{}/metrics", example.base), &[]).body;
    assert_eq!(
        value(
            &text,
            r#"osakamenesu_database_queries_total{operation="search",status="ok",table="search_index"}"#
        ),
        1.0
    );

    let url = format!("{}/health/detailed", example.base);
    let report = wait_for(&url, Duration::from_secs(10), |a| {
        a.json()["status"] == "healthy"
    })
    .json();
    assert_eq!(check(&report, "search")["status"], "healthy");
    search.set_health("unavailable");
    let report = wait_for(&url, Duration::from_secs(10), |a| {
        a.json()["status"] == "degraded"
    })
    .json();
    assert_eq!(
        check(&report, "search")["error"],
        r#"status is "unavailable""#
    );
}

#[test]
fn a_storm_of_health_requests_is_one_check_of_each_dependency() {
    let silent = Silent::start();
    let search_url = format!("http://127.0.0.1:{}", silent.port);
    let example = Example::start(&[("SEARCH_URL", &search_url)]);
    let url = format!("{}/health/detailed", example.base);
    let storm: Vec<_> = (0..24)
        .map(|_| {
            let url = url.clone();
            thread::spawn(move || get(&url, &[]))
        })
        .collect();
    for request in storm {
        let answer = request.join().unwrap();
        assert_eq!(answer.json()["status"], "degraded", "{}", answer.body);
    }
    // 24 concurrent requests while the hung check ran: one run, one connection to the
    // dependency (the example's own search client has made none: nobody searched)
    assert_eq!(silent.connections(), 1);
}

/// The example as a team shipping OTLP runs it: the standard variables alone point it at a
/// collector (the receiver standing in for one, `kansoku_tests::otlp_receiver`), and the push at
/// shutdown carries every request `/metrics` showed, before the interval's first push was due.
#[test]
fn the_environment_alone_points_the_metrics_at_an_otlp_collector() {
    let receiver = kansoku_tests::otlp_receiver::Receiver::start();
    let endpoint = receiver.endpoint();
    let mut example = Example::start(&[
        ("OTEL_EXPORTER_OTLP_ENDPOINT", &endpoint),
        // a minute: only the push at shutdown can carry what follows
        ("OTEL_METRIC_EXPORT_INTERVAL", "60000"),
        ("OTEL_RESOURCE_ATTRIBUTES", "k8s.pod.name=shops-0"),
    ]);
    let series =
        r#"osakamenesu_http_requests_total{method="GET",route="/shops/{id}",status_code="200"}"#;
    for id in [1, 2, 4] {
        assert_eq!(
            get(&format!("{}/shops/{id}", example.base), &[]).status,
            200
        );
    }
    let text = get(&format!("{}/metrics", example.base), &[]).body;
    assert_eq!(value(&text, series), 3.0);
    assert!(receiver.pushes().is_empty(), "no push was due yet");

    assert!(example.terminate().is_some_and(|status| status.success()));
    let pushes = receiver.accepted();
    assert_eq!(pushes.len(), 1, "the push at shutdown");
    let push = &pushes[0];
    assert_eq!(push.path, "/v1/metrics");
    assert_eq!(push.samples().get(series), Some(&3.0));
    let resource = push.resource();
    assert_eq!(
        resource.get("service.name").map(String::as_str),
        Some("shops-api")
    );
    assert_eq!(
        resource.get("k8s.pod.name").map(String::as_str),
        Some("shops-0")
    );
    assert_eq!(
        resource.get("service.version").map(String::as_str),
        Some(env!("CARGO_PKG_VERSION"))
    );
}
