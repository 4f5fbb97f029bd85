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
use axum::routing::get;
use axum::Router;
use kansoku::http::{ops_router, KansokuLayer, OpsConfig};
use kansoku::Telemetry;
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

/// Every fifth order fails: the error ratio the page must show is what the test sends.
#[kansoku::monitor_api_endpoint]
#[kansoku::track_api_request]
async fn order(Path(id): Path<u32>) -> Result<String, OrderError> {
    if id % 5 == 0 {
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
    let app = Router::new()
        .route("/orders/{id}", get(order))
        .merge(ops_router(&telemetry, OpsConfig::new()))
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
        let client = reqwest::Client::new();
        for id in ids {
            let response = client
                .get(format!("http://{}/orders/{id}", self.addr))
                .send()
                .await
                .expect("the order answers");
            let expected = if id % 5 == 0 { 500 } else { 200 };
            assert_eq!(response.status().as_u16(), expected, "order {id}");
        }
        assert!(
            self.telemetry.flush(Duration::from_secs(5)).await,
            "flushed to Redis"
        );
    }

    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }
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
        let output = Command::new(required_tool("chromium"))
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_live_page_sums_the_instances_and_says_when_redis_is_gone() {
    let mut redis = RedisServer::start();
    let a = instance(&redis.url()).await;
    let b = instance(&redis.url()).await;
    a.orders(1..=30).await; // 6 errors
    b.orders(31..=50).await; // 4 errors

    // both instances' requests, summed; the error ratio sent (10 of 50)
    let dom = rendered(a.url("/ops/live"), 3000).await;
    assert_eq!(attribute(&dom, ROW, "data-requests").as_deref(), Some("50"), "{dom}");
    assert_eq!(attribute(&dom, ROW, "data-error-ratio").as_deref(), Some("0.2"));
    assert!(dom.contains("20.0% (10)"), "the error ratio as shown: {dom}");
    let instances = dom.matches("data-instance=").count();
    assert_eq!(instances, 2, "both instances listed: {dom}");
    assert!(dom.contains("all instances (Redis)"));
    assert!(!shown(&dom, "stale").0, "no stale banner while Redis answers");

    // the numbers move with more traffic, here read from the other instance
    b.orders(51..=60).await;
    let dom = rendered(b.url("/ops/live"), 3000).await;
    assert_eq!(attribute(&dom, ROW, "data-requests").as_deref(), Some("60"));
    assert!(dom.contains("20.0% (12)"), "{dom}");

    // the data endpoint agrees with the documented schema and with the page
    let fresh: Value = reqwest::get(a.url("/ops/live/data?window=5m"))
        .await
        .expect("data")
        .json()
        .await
        .expect("JSON");
    assert_eq!(fresh["window"], "5m");
    let bad = reqwest::get(a.url("/ops/live/data?window=2d"))
        .await
        .expect("data");
    assert_eq!(bad.status().as_u16(), 400);
    assert!(bad.text().await.unwrap().contains("1m, 5m or 1h"));

    // the screenshot of the page under load, for the README
    let load = {
        let (a, b) = (a.addr, b.addr);
        tokio::spawn(async move {
            let client = reqwest::Client::new();
            for i in 0u32.. {
                let addr = if i % 3 == 0 { b } else { a };
                let id = if i % 7 == 0 { 5 } else { i % 1000 + 1 };
                let _ = client.get(format!("http://{addr}/orders/{id}")).send().await;
                tokio::time::sleep(Duration::from_millis(20 + u64::from(i % 40))).await;
            }
        })
    };
    screenshot(a.url("/ops/live")).await;
    load.abort();

    // Redis gone: the last numbers stay, marked stale since the first failure
    redis.stop();
    let dom = rendered(a.url("/ops/live"), 3000).await;
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
    assert!(requests >= 60, "the last good numbers, not empty ones");
    let stale: Value = reqwest::get(a.url("/ops/live/data"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(stale["stale"]["since"].is_string(), "{stale}");
    assert_schema_and_page_agree(&[&fresh, &stale]);

    // Redis back: the banner goes
    redis.restart();
    a.orders(61..=65).await;
    let dom = rendered(a.url("/ops/live"), 3000).await;
    assert!(!shown(&dom, "stale").0, "the banner is gone: {dom}");
    assert!(attribute(&dom, ROW, "data-requests").is_some());
}

async fn screenshot(url: String) {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../docs/live.png");
    let _ = std::fs::remove_file(&path);
    let target = path.clone();
    tokio::task::spawn_blocking(move || {
        let status = Command::new(required_tool("chromium"))
            .args(chromium_args(true))
            .arg("--virtual-time-budget=8000")
            .arg(format!("--screenshot={}", target.display()))
            .arg(&url)
            .output()
            .expect("run chromium");
        assert!(status.status.success(), "chromium --screenshot failed");
    })
    .await
    .expect("screenshot task");
    let png = std::fs::read(&path).expect("the screenshot was written");
    assert!(png.starts_with(b"\x89PNG"), "a PNG");
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
                let key = if prefix.ends_with("by_status") {
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
    assert!(undocumented.is_empty(), "served but not documented: {undocumented:?}");
    // alerts have no entries until an alert is configured (kansoku::alert)
    let missing: Vec<_> = documented
        .difference(&seen)
        .filter(|p| !p.starts_with("alerts[]."))
        .collect();
    assert!(missing.is_empty(), "documented but not served: {missing:?}");

    let page = reqwest_page();
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
            assert!(leaves.contains(name.as_str()), "the page reads `{name}`, not in the schema");
        }
    }
}

/// The page's source, as shipped in the crate.
fn reqwest_page() -> String {
    std::fs::read_to_string(
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../runtime/src/http/live/page.html"),
    )
    .expect("the page's source")
}
