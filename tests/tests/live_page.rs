//! The live operations page, end to end: two instances (two axum servers, each with its own
//! `Telemetry`) write to one real `redis-server`; Debian's headless Chromium renders
//! `/ops/live` from one of them, and the test reads the rendered DOM as an on-call engineer
//! reads the screen. Then Redis is killed (the stale banner) and started again (no banner).

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use axum::extract::Path;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing;
use axum::Router;
use kansoku::http::{ops_router, KansokuLayer, OpsConfig};
use kansoku::metrics::Counter;
use kansoku::Telemetry;
use kansoku_tests::browser::Browser;
use kansoku_tests::redis_support::RedisServer;
use kansoku_tests::required_tool;
use serde_json::Value;

#[derive(Debug)]
struct OrderError;

impl std::fmt::Display for OrderError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("order refused")
    }
}

impl IntoResponse for OrderError {
    fn into_response(self) -> Response {
        (StatusCode::INTERNAL_SERVER_ERROR, "order refused").into_response()
    }
}

/// A second, error-free endpoint that takes a little longer, so the table has something to sort.
#[kansoku::track_api_request]
async fn catalogue() -> &'static str {
    tokio::time::sleep(Duration::from_millis(3)).await;
    "[]"
}

static ORDERS: Counter<1> = Counter::new("orders_total", "Orders taken.", ["outcome"]);

/// Every fifth order fails: the error ratio the page must show is what the test sends.
#[kansoku::monitor_api_endpoint]
#[kansoku::track_api_request]
async fn order(Path(id): Path<u32>) -> Result<String, OrderError> {
    let stored = store_order(id).await;
    ORDERS.increment([if stored.is_ok() { "taken" } else { "refused" }]);
    stored
}

#[kansoku::track_database_query("insert", "orders")]
async fn store_order(id: u32) -> Result<String, OrderError> {
    tokio::task::yield_now().await;
    if id.is_multiple_of(5) {
        Err(OrderError)
    } else {
        Ok(format!("order {id}"))
    }
}

/// One instance: its own telemetry, the app, the ops router, served with peer addresses (the
/// live page, like `/metrics`, is for loopback clients when no token is set).
struct Instance {
    telemetry: Telemetry,
    addr: SocketAddr,
}

async fn instance(redis_url: &str) -> Instance {
    let telemetry = Telemetry::builder()
        .namespace("livepage")
        .service_name("orders")
        .redis_url(redis_url)
        .realtime_flush_interval(Duration::from_millis(100))
        .build()
        .expect("build the telemetry");
    serve(telemetry, OpsConfig::new()).await
}

async fn serve(telemetry: Telemetry, ops: OpsConfig) -> Instance {
    let app = Router::new()
        .route("/orders/{id}", routing::get(order))
        .route("/catalogue", routing::get(catalogue))
        // not annotated: only the HTTP layer sees it
        .route("/ping", routing::get(|| async { "pong" }))
        .merge(ops_router(&telemetry, ops))
        .layer(KansokuLayer::new(&telemetry));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("a loopback port");
    let addr = listener.local_addr().expect("address");
    tokio::spawn(async move {
        axum::serve(
            listener,
            app.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .await
        .expect("serve");
    });
    Instance { telemetry, addr }
}

impl Instance {
    async fn orders(&self, ids: std::ops::RangeInclusive<u32>) {
        for id in ids {
            let (status, _) = get(self.addr, &format!("/orders/{id}")).await;
            let expected = if id.is_multiple_of(5) { 500 } else { 200 };
            assert_eq!(status, expected, "order {id}");
        }
        // right after a Redis restart the flusher may still be waiting to reconnect
        let deadline = std::time::Instant::now() + Duration::from_secs(20);
        while !self.telemetry.flush(Duration::from_secs(2)).await {
            assert!(std::time::Instant::now() < deadline, "flushed to Redis");
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// `n` requests to the route no attribute annotates (flushed with the next orders).
    async fn pings(&self, n: u32) {
        for _ in 0..n {
            assert_eq!(get(self.addr, "/ping").await.0, 200);
        }
    }

    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }
}

/// One plain HTTP/1.1 GET over loopback: the status and the body (the answers here all have a
/// length, none is chunked).
async fn get(addr: SocketAddr, path: &str) -> (u16, String) {
    get_with(addr, path, "").await
}

/// [`get`] with extra header lines (each ending in CRLF).
async fn get_with(addr: SocketAddr, path: &str, headers: &str) -> (u16, String) {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let mut stream = tokio::net::TcpStream::connect(addr).await.expect("connect");
    let head = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\n{headers}Connection: close\r\n\r\n");
    stream.write_all(head.as_bytes()).await.expect("send");
    let mut raw = String::new();
    stream
        .read_to_string(&mut raw)
        .await
        .expect("read the answer");
    let status = raw
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .expect("a status line");
    let body = raw
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_owned())
        .unwrap_or_default();
    (status, body)
}

fn chromium_args(size: bool) -> Vec<String> {
    let mut args: Vec<String> = [
        "--headless",
        "--no-sandbox", // the tests may run as root
        "--disable-gpu",
        "--no-first-run",
        "--hide-scrollbars",
    ]
    .map(str::to_owned)
    .to_vec();
    if size {
        args.push("--window-size=1280,720".into());
    }
    args
}

/// The page as Chromium rendered it after `budget` of the page's time.
async fn rendered(url: String, budget_ms: u32) -> String {
    tokio::task::spawn_blocking(move || {
        let output = Command::new(required_tool("timeout"))
            .arg("60")
            .arg(required_tool("chromium"))
            .args(chromium_args(false))
            .arg(format!("--virtual-time-budget={budget_ms}"))
            .arg("--dump-dom")
            .arg(&url)
            .output()
            .expect("run chromium");
        assert!(
            output.status.success(),
            "chromium failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8(output.stdout).expect("UTF-8 DOM")
    })
    .await
    .expect("chromium task")
}

/// The value of attribute `name` in the first tag that contains `marker`.
fn attribute(dom: &str, marker: &str, name: &str) -> Option<String> {
    let at = dom.find(marker)?;
    let start = dom[..at].rfind('<')?;
    let tag = &dom[start..start + dom[start..].find('>')?];
    let from = tag.find(&format!(" {name}=\""))? + name.len() + 3;
    Some(tag[from..from + tag[from..].find('"')?].to_owned())
}

/// Whether the element with `id` is shown (rendered without the `hidden` attribute), and its
/// text.
fn shown(dom: &str, id: &str) -> (bool, String) {
    let marker = format!("id=\"{id}\"");
    let at = dom.find(&marker).expect("the element is on the page");
    let start = dom[..at].rfind('<').expect("tag start");
    let end = start + dom[start..].find('>').expect("tag end");
    let tag = &dom[start..end];
    let close = end + dom[end..].find("</").expect("closing tag");
    (!tag.contains(" hidden"), dom[end + 1..close].to_owned())
}

const ROW: &str = "data-key=\"GET /orders/{id}\"";
/// Headless Chromium's virtual clock waits for pending requests, and an event stream never
/// ends: the rendered runs use the page's polling transport (its fallback), and the stream is
/// read on its own in `the_event_stream_sends_a_snapshot_every_second`.
const PAGE: &str = "/ops/live?transport=poll";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_live_page_sums_the_instances_and_says_when_redis_is_gone() {
    let mut redis = RedisServer::start();
    let a = instance(&redis.url()).await;
    let b = instance(&redis.url()).await;
    a.pings(3).await;
    b.pings(2).await;
    a.orders(1..=30).await; // 6 errors
    b.orders(31..=50).await; // 4 errors

    // the HTTP layer's routes, annotated or not, summed over both instances
    let realtime = a
        .telemetry
        .realtime()
        .snapshot(Duration::from_mins(5))
        .await
        .expect("read Redis");
    let route = |path: &str| &realtime.routes[&(path.to_owned(), "GET".to_owned())];
    assert_eq!(route("/ping").requests, 5, "{:?}", realtime.routes);
    assert_eq!(route("/ping").by_class, [0, 5, 0, 0, 0]);
    assert_eq!(route("/orders/{id}").requests, 50);
    assert_eq!(route("/orders/{id}").by_class, [0, 40, 0, 0, 10]);

    // both instances' requests, summed; the error ratio sent (10 of 50)
    let dom = rendered(a.url(PAGE), 3000).await;
    assert_eq!(
        attribute(&dom, ROW, "data-requests").as_deref(),
        Some("50"),
        "{dom}"
    );
    assert_eq!(
        attribute(&dom, ROW, "data-error-ratio").as_deref(),
        Some("0.2")
    );
    assert!(
        dom.contains("20.0% (10)"),
        "the error ratio as shown: {dom}"
    );
    assert!(dom.contains("insert orders"), "the query is listed: {dom}");
    assert!(
        dom.contains("orders_total{outcome=\"refused\"}"),
        "the counter: {dom}"
    );
    let instances = dom.matches("data-instance=").count();
    assert_eq!(instances, 2, "both instances listed: {dom}");
    let ping = "data-route=\"GET /ping\"";
    assert_eq!(
        attribute(&dom, ping, "data-requests").as_deref(),
        Some("5"),
        "the route without an attribute: {dom}"
    );
    let orders = "data-route=\"GET /orders/{id}\"";
    assert_eq!(attribute(&dom, orders, "data-5xx").as_deref(), Some("10"));
    assert!(dom.contains("all instances (Redis)"));
    assert!(
        !shown(&dom, "stale").0,
        "no stale banner while Redis answers"
    );

    // the numbers move with more traffic, here read from the other instance
    b.orders(51..=60).await;
    let dom = rendered(b.url(PAGE), 3000).await;
    assert_eq!(attribute(&dom, ROW, "data-requests").as_deref(), Some("60"));
    assert!(dom.contains("20.0% (12)"), "{dom}");

    // the data endpoint agrees with the documented schema and with the page
    let fresh = json(a.addr, "/ops/live/data?window=5m").await;
    assert_eq!(fresh["window"], "5m");
    let (status, bad) = get(a.addr, "/ops/live/data?window=2d").await;
    assert_eq!(status, 400);
    assert!(bad.contains("1m, 5m or 1h"), "{bad}");

    // Redis gone: the last numbers stay, marked stale since the first failure
    redis.stop();
    let dom = rendered(a.url(PAGE), 3000).await;
    let (banner, text) = shown(&dom, "stale");
    assert!(banner, "the stale banner shows: {dom}");
    assert!(
        text.starts_with("Redis unreachable, numbers are stale since "),
        "{text}"
    );
    let requests: u64 = attribute(&dom, ROW, "data-requests")
        .expect("the endpoint is still shown")
        .parse()
        .unwrap();
    // the last numbers this instance read (50: the 60 were read through the other one)
    assert_eq!(requests, 50, "the last good numbers, not empty ones");
    let stale = json(a.addr, "/ops/live/data").await;
    assert!(stale["stale"]["since"].is_string(), "{stale}");
    assert_schema_and_page_agree(&[&fresh, &stale]);

    // Redis back: the banner goes, once the instance reads Redis again (its reader reconnects
    // on the next read; on a loaded machine that can take more than the page's first second)
    redis.restart();
    a.orders(61..=65).await;
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        let data = json(a.addr, "/ops/live/data").await;
        if data["stale"].is_null() {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "Redis is back but the data stays stale: {data}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let dom = rendered(a.url(PAGE), 3000).await;
    assert!(!shown(&dom, "stale").0, "the banner is gone: {dom}");
    assert!(attribute(&dom, ROW, "data-requests").is_some());
}

async fn json(addr: SocketAddr, path: &str) -> Value {
    let (status, body) = get(addr, path).await;
    assert_eq!(status, 200, "{body}");
    serde_json::from_str(&body).expect("JSON")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_redis_and_with_a_token_the_page_shows_this_instance_only() {
    let telemetry = Telemetry::builder()
        .namespace("livelocal")
        .service_name("orders")
        .build()
        .expect("build the telemetry");
    // an application alert that fires at its first check: the page lists it
    let _queue_alert = kansoku::alert::Alert::new("reservation_queue")
        .value(|| async { Ok::<f64, std::io::Error>(250.0) })
        .above(100.0)
        .every(Duration::from_millis(100))
        .spawn(&telemetry)
        .expect("start the alert");
    let one = serve(telemetry, OpsConfig::new().token("s3cret-t0ken")).await;
    one.orders(1..=20).await; // 4 errors

    // the rule of /metrics: no token, no numbers, even from loopback
    let (status, _) = get(one.addr, "/ops/live/data").await;
    assert_eq!(status, 401);
    let (status, _) = get_with(
        one.addr,
        "/ops/live/data",
        "Cookie: kansoku_ops_token=nope\r\n",
    )
    .await;
    assert_eq!(status, 401);
    let (status, body) = get_with(
        one.addr,
        "/ops/live/data",
        "Authorization: Bearer s3cret-t0ken\r\n",
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let data: Value = serde_json::from_str(&body).expect("JSON");
    assert_eq!(data["source"], "local");
    assert_eq!(data["all_instances"], false);
    assert_eq!(data["instances"].as_array().map(Vec::len), Some(1));
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    let alert = loop {
        let (_, body) = get_with(
            one.addr,
            "/ops/live/data",
            "Authorization: Bearer s3cret-t0ken\r\n",
        )
        .await;
        let data: Value = serde_json::from_str(&body).expect("JSON");
        let firing = data["alerts"]
            .as_array()
            .and_then(|alerts| alerts.iter().find(|a| a["firing"] == true).cloned());
        if let Some(alert) = firing {
            break alert;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no firing alert: {data}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert_eq!(alert["name"], "reservation_queue");
    assert_eq!(alert["value"], 250.0);
    assert!(alert["firing_since"].is_string(), "{alert}");

    // a browser gives the token once in the fragment; the page keeps it in a cookie
    let dom = rendered(one.url(&format!("{PAGE}#token=s3cret-t0ken")), 5000).await;
    assert!(dom.contains("this instance only (no Redis)"), "{dom}");
    assert_eq!(
        attribute(&dom, ROW, "data-requests").as_deref(),
        Some("20"),
        "{dom}"
    );
    assert!(dom.contains("20.0% (4)"), "{dom}");
    let dom = rendered(one.url(PAGE), 3000).await;
    assert!(
        !dom.contains("data-key="),
        "no numbers without the token: {dom}"
    );
    assert!(dom.contains("needs the ops token"), "{dom}");
}

/// Traffic on both instances until aborted, errors included.
fn load(a: SocketAddr, b: SocketAddr) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        for i in 0u32.. {
            let addr = if i.is_multiple_of(3) { b } else { a };
            let id = if i.is_multiple_of(7) { 5 } else { i % 1000 + 1 };
            get(addr, &format!("/orders/{id}")).await;
            if i.is_multiple_of(2) {
                get(addr, "/catalogue").await;
            }
            // the rate rises and falls, so the sparklines have a shape
            let pause = 10 + u64::from((i / 40) % 4) * 15;
            tokio::time::sleep(Duration::from_millis(pause)).await;
        }
    })
}

/// One page kept open in a real browser, on the event stream (the page's default): its
/// numbers move as traffic arrives, the stale banner comes and goes with Redis, and the
/// screenshot of it under load is `docs/live.png`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_open_page_follows_the_stream() {
    let mut redis = RedisServer::start();
    let a = instance(&redis.url()).await;
    let b = instance(&redis.url()).await;
    a.orders(1..=10).await;
    let traffic = load(a.addr, b.addr);
    let url = a.url("/ops/live");
    let (redis, traffic) = tokio::task::spawn_blocking(move || {
        let browser = Browser::start(1280, 720);
        browser.open(&url);
        let requests = format!("Number(document.querySelector('[{ROW}]')?.dataset.requests || 0)");
        let first = browser.wait_for(&requests, Duration::from_secs(10), |v| v.as_u64() >= Some(10));
        let first = first.as_u64().unwrap_or_default();
        // more traffic arrives: the same page shows more, without a reload
        browser.wait_for(&requests, Duration::from_secs(10), |v| {
            v.as_u64().is_some_and(|n| n > first + 20)
        });
        assert_eq!(browser.eval("window.EventSource !== undefined && document.getElementById('offline').hidden"), true);
        // some seconds of history for the sparklines and the chart, then the picture
        std::thread::sleep(Duration::from_secs(12));
        let png = browser.screenshot();
        assert!(png.starts_with(b"\x89PNG"), "a PNG");
        let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../docs/live.png");
        std::fs::write(&path, png).expect("write docs/live.png");
        // dark mode follows the system's preference
        browser.cdp(
            "Emulation.setEmulatedMedia",
            &serde_json::json!({"features": [{"name": "prefers-color-scheme", "value": "dark"}]}),
        );
        let background = browser.eval("getComputedStyle(document.body).backgroundColor");
        assert_eq!(background, "rgb(15, 20, 25)", "the dark background");
        let dark = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../docs/live-dark.png");
        std::fs::write(&dark, browser.screenshot()).expect("write docs/live-dark.png");
        let points = browser.eval("document.querySelector('svg.spark polyline')?.getAttribute('points').split(' ').length || 0");
        assert!(points.as_u64() >= Some(5), "the sparkline has the last seconds: {points}");

        // sorted by p95, the slower endpoint comes first; by rate, the busier one
        let first_row = "document.querySelector('#endpoints tbody tr').dataset.key";
        browser.eval("document.querySelector('th[data-sort=p95_ms]').click() || 0");
        assert_eq!(browser.eval(first_row), "GET /catalogue");
        browser.eval("document.querySelector('th[data-sort=rate]').click() || 0");
        assert_eq!(browser.eval(first_row), "GET /orders/{id}");
        // another window: the page asks for it and says which it shows
        browser.eval("(() => { const w = document.getElementById('window'); w.value = '5m'; w.dispatchEvent(new Event('change')); return 0; })()");
        browser.wait_for("document.getElementById('updated').textContent", Duration::from_secs(10), |v| {
            v.as_str().is_some_and(|t| t.starts_with("window 5m (300 s)"))
        });

        let banner = "document.getElementById('stale').hidden ? '' : document.getElementById('stale').textContent";
        redis.stop();
        let text = browser.wait_for(banner, Duration::from_secs(10), |v| v != "");
        assert!(text.as_str().is_some_and(|t| t.starts_with("Redis unreachable, numbers are stale since ")), "{text}");
        redis.restart();
        browser.wait_for(banner, Duration::from_secs(15), |v| v == "");
        (redis, traffic)
    })
    .await
    .expect("the browser session");
    traffic.abort();
    drop(redis);
}

/// A loopback TCP relay to a server, that can be cut (listener and every connection) and
/// opened again on the same port: the service becoming unreachable from the browser.
struct Relay {
    port: u16,
    target: SocketAddr,
    tasks: std::sync::Arc<std::sync::Mutex<Vec<tokio::task::JoinHandle<()>>>>,
}

impl Relay {
    async fn start(target: SocketAddr) -> Relay {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let port = listener.local_addr().expect("address").port();
        let relay = Relay {
            port,
            target,
            tasks: std::sync::Arc::default(),
        };
        relay.serve(listener);
        relay
    }

    fn serve(&self, listener: tokio::net::TcpListener) {
        let (target, tasks) = (self.target, self.tasks.clone());
        let accept = tokio::spawn(async move {
            while let Ok((mut inbound, _)) = listener.accept().await {
                let relay = tokio::spawn(async move {
                    if let Ok(mut outbound) = tokio::net::TcpStream::connect(target).await {
                        let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                    }
                });
                tasks.lock().unwrap().push(relay);
            }
        });
        self.tasks.lock().unwrap().push(accept);
    }

    fn cut(&self) {
        for task in self.tasks.lock().unwrap().drain(..) {
            task.abort();
        }
    }

    async fn reopen(&self) {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", self.port))
            .await
            .expect("the same port again");
        self.serve(listener);
    }
}

/// The service itself unreachable from the browser: the page says so instead of freezing,
/// falls back from the event stream to polling, and recovers when the service is back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lost_service_is_said_and_the_page_recovers() {
    let redis = RedisServer::start();
    let a = instance(&redis.url()).await;
    a.orders(1..=5).await;
    let relay = Relay::start(a.addr).await;
    let url = format!("http://127.0.0.1:{}/ops/live", relay.port);
    let browser = tokio::task::spawn_blocking(move || {
        let browser = Browser::start(1280, 720);
        browser.open(&url);
        browser.wait_for(
            &format!("document.querySelectorAll('[{ROW}]').length"),
            Duration::from_secs(10),
            |v| v == 1,
        );
        browser
    })
    .await
    .expect("the page opens");
    relay.cut();
    let offline = "document.getElementById('offline').hidden ? '' : document.getElementById('offline').textContent";
    let browser = tokio::task::spawn_blocking(move || {
        let text = browser.wait_for(offline, Duration::from_secs(15), |v| v != "");
        assert!(
            text.as_str()
                .is_some_and(|t| t.starts_with("Lost contact with the service since")),
            "{text}"
        );
        // the last numbers stay on screen, under the banner
        assert_eq!(
            browser.eval(&format!("document.querySelectorAll('[{ROW}]').length")),
            1
        );
        browser
    })
    .await
    .expect("the banner shows");
    relay.reopen().await;
    tokio::task::spawn_blocking(move || {
        browser.wait_for(offline, Duration::from_secs(30), |v| v == "");
    })
    .await
    .expect("the page recovers");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_event_stream_sends_a_snapshot_every_second() {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let redis = RedisServer::start();
    let a = instance(&redis.url()).await;
    a.orders(1..=10).await;
    let mut stream = tokio::net::TcpStream::connect(a.addr)
        .await
        .expect("connect");
    let head = format!(
        "GET /ops/live/events?window=5m HTTP/1.1\r\nHost: {}\r\nAccept: text/event-stream\r\n\r\n",
        a.addr
    );
    stream.write_all(head.as_bytes()).await.expect("send");
    let mut seen = String::new();
    let mut buf = vec![0; 64 * 1024];
    let started = std::time::Instant::now();
    while seen.matches("event: snapshot").count() < 3 {
        let n = tokio::time::timeout(Duration::from_secs(10), stream.read(&mut buf))
            .await
            .expect("an event within 10 s")
            .expect("read");
        assert!(n > 0, "the stream ended: {seen}");
        seen.push_str(&String::from_utf8_lossy(&buf[..n]));
    }
    assert!(seen.contains("text/event-stream"), "{seen}");
    assert!(
        started.elapsed() >= Duration::from_secs(2),
        "one a second, not a burst"
    );
    let data = seen
        .lines()
        .find_map(|l| l.strip_prefix("data: "))
        .expect("a data line");
    let first: Value = serde_json::from_str(data).expect("JSON");
    assert_eq!(first["window"], "5m");
    assert_eq!(first["endpoints"][0]["requests"], 10, "{first}");
}

/// The documented fields (`docs/live-data.md`), as paths like `endpoints[].p95_ms`.
fn documented() -> BTreeSet<String> {
    let doc = std::fs::read_to_string(
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../docs/live-data.md"),
    )
    .expect("docs/live-data.md");
    doc.lines()
        .filter_map(|l| l.strip_prefix("| `"))
        .filter_map(|l| l.split_once('`').map(|(path, _)| path.to_owned()))
        .collect()
}

/// Every path in `value`, objects under `by_status` as `by_status.*`.
fn paths(value: &Value, prefix: &str, out: &mut BTreeSet<String>) {
    match value {
        Value::Object(map) => {
            for (key, inner) in map {
                let key = if prefix.ends_with("by_status") || prefix.ends_with("by_class") {
                    "*"
                } else {
                    key
                };
                let path = if prefix.is_empty() {
                    key.to_owned()
                } else {
                    format!("{prefix}.{key}")
                };
                out.insert(path.clone());
                paths(inner, &path, out);
            }
        }
        Value::Array(items) => {
            for item in items {
                let path = format!("{prefix}[]");
                if let Value::Object(map) = item {
                    for (key, inner) in map {
                        let p = format!("{path}.{key}");
                        out.insert(p.clone());
                        paths(inner, &p, out);
                    }
                }
            }
        }
        _ => {}
    }
}

fn assert_schema_and_page_agree(served: &[&Value]) {
    let documented = documented();
    let mut seen = BTreeSet::new();
    for json in served {
        paths(json, "", &mut seen);
    }
    let undocumented: Vec<_> = seen.difference(&documented).collect();
    assert!(
        undocumented.is_empty(),
        "served but not documented: {undocumented:?}"
    );
    // alerts have no entries until an alert is configured (kansoku::alert)
    let missing: Vec<_> = documented
        .difference(&seen)
        .filter(|p| !p.starts_with("alerts[]."))
        .collect();
    assert!(missing.is_empty(), "documented but not served: {missing:?}");

    let page = page_source();
    for path in &documented {
        let field = path.rsplit(['.', '[']).next().unwrap_or(path);
        if field == "*" || field == "]" {
            continue;
        }
        let field = field.trim_end_matches("[]");
        assert!(
            page.contains(&format!(".{field}")),
            "the page never reads `{path}`"
        );
    }
    // and the page reads no snake_case field the schema lacks
    let leaves: BTreeSet<&str> = documented
        .iter()
        .map(|p| p.rsplit('.').next().unwrap_or(p).trim_end_matches("[]"))
        .collect();
    for (i, _) in page.match_indices('.') {
        let name: String = page[i + 1..]
            .chars()
            .take_while(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '_')
            .collect();
        if name.contains('_') {
            assert!(
                leaves.contains(name.as_str()),
                "the page reads `{name}`, not in the schema"
            );
        }
    }
}

/// The page's source, as shipped in the crate.
fn page_source() -> String {
    std::fs::read_to_string(
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../runtime/src/http/live/page.html"),
    )
    .expect("the page's source")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_ops_response_refuses_framing_and_sniffing() {
    let telemetry = Telemetry::builder()
        .namespace("opsheaders")
        .build()
        .expect("build the telemetry");
    let one = serve(telemetry, OpsConfig::new().token("s3cret-t0ken")).await;
    let client = kansoku_tests::http_client();
    let base = format!("http://{}", one.addr);
    for (path, token, status, own_csp) in [
        ("/health", false, 200, None),
        ("/metrics", true, 200, None),
        ("/metrics", false, 401, None),
        // the login page: its one inline script
        ("/ops/live", false, 401, Some("script-src 'unsafe-inline'")),
        ("/ops/live", true, 200, Some("connect-src 'self'")),
        ("/ops/live/data", true, 200, None),
    ] {
        let mut request = client.get(format!("{base}{path}"));
        if token {
            request = request.bearer_auth("s3cret-t0ken");
        }
        let response = request.send().await.unwrap();
        assert_eq!(response.status().as_u16(), status, "{path}");
        let header = |name: &str| {
            response
                .headers()
                .get(name)
                .map(|v| v.to_str().unwrap().to_owned())
                .unwrap_or_default()
        };
        assert_eq!(header("x-frame-options"), "DENY", "{path}");
        assert_eq!(header("x-content-type-options"), "nosniff", "{path}");
        let csp = header("content-security-policy");
        assert!(csp.contains("frame-ancestors 'none'"), "{path}: {csp}");
        assert!(csp.starts_with("default-src 'none'"), "{path}: {csp}");
        if let Some(own) = own_csp {
            assert!(csp.contains(own), "{path}: {csp}");
        }
    }
    // the page's own routes only: the application's keep what they had
    let response = client
        .get(format!("{base}/catalogue"))
        .send()
        .await
        .unwrap();
    assert!(response.headers().get("x-frame-options").is_none());
}
