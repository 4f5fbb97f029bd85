//! kansoku's own `tracing` layer (`kansoku::tracing::layer()`) in an application with its own
//! `sentry::init`: breadcrumbs and scope changes made inside `#[tracing::instrument]` spans stay
//! on their request (sentry-tracing's layers lose them at the span's exit), `error!` is an event
//! in the request's trace, spans nest in sampled transactions with their fields and cost nothing
//! in unsampled ones, and each log line starts with the request's trace id.
//!
//! The application samples by route (a `traces_sampler` honouring the caller's decision): rate 0
//! under `/r0`, 0.1 under `/r10`, 1 under `/r100`. Every event's trace id must be its request's,
//! equal to what `inject_trace_headers` sends, whether sampled or not, continued or not.

use std::collections::BTreeMap;
use std::sync::{Mutex, OnceLock, PoisonError};
use std::time::Duration;

use axum::extract::Path;
use axum::routing::get;
use axum::{Json, Router};
use kansoku::http::KansokuLayer;
use kansoku_tests::joined::{breadcrumbs, event_text, seen_trace, App, OrderFailed};
use serde_json::Value;
use tracing_subscriber::layer::SubscriberExt as _;
use tracing_subscriber::util::SubscriberInitExt as _;

/// Every log line the fmt layer wrote.
static LINES: Mutex<Vec<u8>> = Mutex::new(Vec::new());

struct Lines;

impl std::io::Write for Lines {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        LINES
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn log_lines() -> Vec<String> {
    String::from_utf8_lossy(&LINES.lock().unwrap_or_else(PoisonError::into_inner))
        .lines()
        .map(str::to_owned)
        .collect()
}

#[tracing::instrument(fields(stage = "stock"))]
async fn reserve_stock(id: u32) {
    tokio::time::sleep(Duration::from_millis(u64::from(id % 5))).await;
    tracing::info!("stock reserved for order {id}");
    sentry::configure_scope(|scope| scope.set_tag("stock", id));
}

/// Odd orders fail (kansoku captures the error), even ones log `error!` (an event by kansoku's
/// layer).
#[kansoku::monitor_api_endpoint(name = "orders")]
#[tracing::instrument(skip_all, fields(order = id))]
async fn order(Path(id): Path<u32>) -> Result<Json<Value>, OrderFailed> {
    tracing::info!("order {id} received");
    reserve_stock(id).await;
    tracing::info!("order {id} priced");
    let trace = seen_trace();
    if id % 2 == 1 {
        return Err(OrderFailed { id, trace });
    }
    tracing::error!(order = id, tags.shop = "namba", "order {id} had a problem");
    Ok(Json(trace))
}

/// Touches nothing of Sentry's: its request's hub is kept for a next unsampled request.
async fn quiet(Path(_id): Path<u32>) -> Json<Value> {
    tokio::task::yield_now().await;
    Json(seen_trace())
}

/// Changes its hub every way the `sentry` API allows, or only captures through it.
async fn touch(Path(id): Path<u32>) -> Json<Value> {
    if id.is_multiple_of(2) {
        sentry::configure_scope(|scope| {
            scope.set_tag("touched", id);
            scope.set_user(Some(sentry::User {
                id: Some(format!("toucher-{id}")),
                ..Default::default()
            }));
        });
        sentry::add_breadcrumb(sentry::Breadcrumb {
            message: Some(format!("touch {id} crumb")),
            ..Default::default()
        });
    } else {
        // nothing changed on the scope, but the hub now knows an event of this request
        sentry::capture_message(&format!("touch {id} captured"), sentry::Level::Info);
    }
    Json(seen_trace())
}

#[kansoku::monitor_api_endpoint(name = "bound_work")]
async fn bound_work(id: u32) -> Result<(), OrderFailed> {
    tokio::task::yield_now().await;
    Err(OrderFailed {
        id,
        trace: Value::Null,
    })
}

/// What a request sees of its hub after others changed theirs: no event id of theirs; and what
/// it captures, also from a task bound with sentry's own `bind_hub` (no kansoku call there),
/// and from a kansoku root started in that task.
async fn peek(Path(id): Path<u32>) -> Json<Value> {
    use sentry::SentryFutureExt as _;
    let last = sentry::Hub::current()
        .last_event_id()
        .map(|id| id.to_string());
    sentry::capture_message(&format!("peek {id}"), sentry::Level::Info);
    tokio::spawn(
        async move {
            sentry::capture_message(&format!("peek {id} task"), sentry::Level::Info);
            let _ = bound_work(id).await;
        }
        .bind_hub(sentry::Hub::current()),
    )
    .await
    .expect("the task runs");
    let mut seen = seen_trace();
    seen["last_event_id"] = last.into();
    Json(seen)
}

fn app() -> &'static App {
    static APP: OnceLock<App> = OnceLock::new();
    APP.get_or_init(|| {
        tracing_subscriber::registry()
            .with(kansoku::tracing::layer())
            .with(
                tracing_subscriber::fmt::layer()
                    .event_format(kansoku::tracing::TraceIdFormat::new(
                        tracing_subscriber::fmt::format().with_ansi(false),
                    ))
                    .with_writer(|| Lines),
            )
            .init();
        let sample_by_route = |context: &sentry::TransactionContext| {
            if let Some(sampled) = context.sampled() {
                return if sampled { 1.0 } else { 0.0 };
            }
            let name = context.name();
            if name.contains("/r100/") {
                1.0
            } else if name.contains("/r10/") {
                0.1
            } else {
                0.0
            }
        };
        App::start(
            "traced",
            sentry::ClientOptions::new()
                .release("traced-app@2.0.0")
                .traces_sampler(sample_by_route),
            |telemetry| {
                Router::new()
                    .route("/r0/orders/{id}", get(order))
                    .route("/r10/orders/{id}", get(order))
                    .route("/r100/orders/{id}", get(order))
                    .route("/r0/quiet/{id}", get(quiet))
                    .route("/r0/touch/{id}", get(touch))
                    .route("/r0/peek/{id}", get(peek))
                    .layer(KansokuLayer::new(telemetry))
            },
        )
    })
}

/// Sends `GET path` for each id at once, with `sentry-trace` when given; what each handler saw.
fn requests(app: &App, path: &str, ids: &[u32], incoming: Option<&str>) -> BTreeMap<u32, Value> {
    let client = kansoku_tests::http_client();
    let seen = app.runtime.block_on(async {
        let requests = ids.iter().map(|&id| {
            let mut request = client.get(app.server.url(&format!("{path}/{id}")));
            if let Some(header) = incoming {
                request = request.header("sentry-trace", header);
            }
            async move {
                let response = request.send().await.unwrap();
                assert_eq!(response.status(), if id % 2 == 1 { 500 } else { 200 });
                let body = response.text().await.unwrap();
                (id, serde_json::from_str::<Value>(&body).unwrap())
            }
        });
        futures::future::join_all(requests).await
    });
    app.flush();
    seen.into_iter().collect()
}

/// The event of order `id`, checked as a user reads it: its own breadcrumbs (those logged
/// inside the instrumented spans included), its own tag, the trace its handler saw.
fn check_event(app: &App, id: u32, seen: &Value) -> Value {
    let expected = if id % 2 == 1 {
        format!("order {id} failed")
    } else {
        format!("order {id} had a problem")
    };
    let events: Vec<Value> = app
        .ingest
        .events()
        .into_iter()
        .filter(|e| event_text(e) == expected)
        .collect();
    assert_eq!(events.len(), 1, "one event for {expected:?}");
    let event = events.into_iter().next().unwrap();
    assert_eq!(event["release"], "traced-app@2.0.0");
    assert_eq!(
        breadcrumbs(&event),
        vec![
            format!("order {id} received"),
            format!("stock reserved for order {id}"),
            format!("order {id} priced"),
        ],
        "{event:#}"
    );
    assert_eq!(event["tags"]["stock"], id.to_string(), "{event:#}");
    if id.is_multiple_of(2) {
        assert_eq!(event["tags"]["shop"], "namba", "{event:#}");
        // `error` is the protocol's default level, left out on the wire
        assert!(
            event["level"].is_null() || event["level"] == "error",
            "{event:#}"
        );
    }
    let trace_id = seen["trace_id"].as_str().unwrap();
    assert_eq!(
        event["contexts"]["trace"]["trace_id"], trace_id,
        "{event:#}"
    );
    let header = seen["sentry_trace"].as_str().unwrap();
    assert!(header.starts_with(&format!("{trace_id}-")), "{header}");
    event
}

/// The transactions in `trace_id`.
fn transactions_in(app: &App, trace_id: &str) -> Vec<Value> {
    app.ingest
        .transactions()
        .into_iter()
        .filter(|t| t["contexts"]["trace"]["trace_id"] == trace_id)
        .collect()
}

#[test]
fn a_sampled_request_nests_its_tracing_spans_with_their_fields() {
    let app = app();
    let ids: Vec<u32> = (100..120).collect();
    let seen = requests(app, "/r100/orders", &ids, None);
    for &id in &ids {
        check_event(app, id, &seen[&id]);
        assert_eq!(seen[&id]["sampled"], true);
        let trace_id = seen[&id]["trace_id"].as_str().unwrap();
        let transactions = transactions_in(app, trace_id);
        assert_eq!(transactions.len(), 1, "order {id}");
        let tx = &transactions[0];
        assert_eq!(tx["transaction"], "GET /r100/orders/{id}");
        let spans = tx["spans"].as_array().unwrap();
        let find = |description: &str| {
            spans
                .iter()
                .find(|s| s["description"] == description)
                .unwrap_or_else(|| panic!("no {description:?} span in {tx:#}"))
        };
        let (endpoint, order, stock) = (find("orders"), find("order"), find("reserve_stock"));
        // the instrumented handler in the endpoint's span, the inner function in the handler's
        assert_eq!(order["parent_span_id"], endpoint["span_id"], "{tx:#}");
        assert_eq!(stock["parent_span_id"], order["span_id"], "{tx:#}");
        assert_eq!(order["data"]["order"], id, "{order:#}");
        assert_eq!(stock["data"]["id"], id, "{stock:#}");
        assert_eq!(stock["data"]["stage"], "stock", "{stock:#}");
    }
    // each log line of a request starts with its trace id
    let lines = log_lines();
    for &id in &ids {
        let trace_id = seen[&id]["trace_id"].as_str().unwrap();
        let line = lines
            .iter()
            .find(|line| line.ends_with(&format!("order {id} received")))
            .unwrap_or_else(|| panic!("no log line for order {id}"));
        assert!(
            line.starts_with(&format!("trace_id={trace_id} span_id=")),
            "{line}"
        );
    }
}

#[test]
fn an_unsampled_request_has_its_own_trace_and_no_spans() {
    let app = app();
    let ids: Vec<u32> = (200..220).collect();
    let seen = requests(app, "/r0/orders", &ids, None);
    for &id in &ids {
        check_event(app, id, &seen[&id]);
        assert_eq!(seen[&id]["sampled"], false);
        let trace_id = seen[&id]["trace_id"].as_str().unwrap();
        assert!(transactions_in(app, trace_id).is_empty());
        let header = seen[&id]["sentry_trace"].as_str().unwrap();
        assert!(header.ends_with("-0"), "{header}");
    }
    let traces: std::collections::BTreeSet<&str> = seen
        .values()
        .map(|s| s["trace_id"].as_str().unwrap())
        .collect();
    assert_eq!(
        traces.len(),
        ids.len(),
        "a trace per request, not one per process"
    );
}

#[test]
fn at_ten_percent_every_event_is_in_its_requests_trace_sampled_or_not() {
    let app = app();
    let ids: Vec<u32> = (300..400).collect();
    let seen = requests(app, "/r10/orders", &ids, None);
    let mut sampled = 0;
    for &id in &ids {
        check_event(app, id, &seen[&id]);
        let trace_id = seen[&id]["trace_id"].as_str().unwrap();
        let transactions = transactions_in(app, trace_id);
        if seen[&id]["sampled"] == true {
            sampled += 1;
            assert_eq!(transactions.len(), 1, "order {id}");
        } else {
            assert!(transactions.is_empty(), "order {id}");
        }
    }
    assert!(
        (1..50).contains(&sampled),
        "{sampled} of 100 sampled at 10%"
    );
}

#[test]
fn an_incoming_trace_is_continued_with_its_decision() {
    let app = app();
    let caller_trace = "771a43a4192642f0b136d5159a501700";
    let caller_span = "a1b2c3d4e5f60718";
    // sampled by the caller, on a route sampled at 0: continued and sampled
    let seen = requests(
        app,
        "/r0/orders",
        &[500, 501],
        Some(&format!("{caller_trace}-{caller_span}-1")),
    );
    for id in [500, 501] {
        assert_eq!(seen[&id]["trace_id"], caller_trace);
        assert_eq!(seen[&id]["sampled"], true);
        check_event(app, id, &seen[&id]);
    }
    let transactions = transactions_in(app, caller_trace);
    assert_eq!(transactions.len(), 2);
    for tx in &transactions {
        assert_eq!(tx["contexts"]["trace"]["parent_span_id"], caller_span);
    }
    // not sampled by the caller, on a route sampled at 1: continued, not sampled
    let other_trace = "881a43a4192642f0b136d5159a501700";
    let seen = requests(
        app,
        "/r100/orders",
        &[600, 601],
        Some(&format!("{other_trace}-{caller_span}-0")),
    );
    for id in [600, 601] {
        assert_eq!(seen[&id]["trace_id"], other_trace);
        assert_eq!(seen[&id]["sampled"], false);
        check_event(app, id, &seen[&id]);
    }
    assert!(transactions_in(app, other_trace).is_empty());
    // malformed: a trace of its own, the request served
    let seen = requests(
        app,
        "/r0/orders",
        &[700],
        Some("+71a43a4192642f0b136d5159a501700-a1b2c3d4e5f60718-1"),
    );
    // `+7` is not a hex byte (`from_str_radix` takes the sign): the trace is not continued
    assert_ne!(seen[&700]["trace_id"], "071a43a4192642f0b136d5159a501700");
    assert_ne!(seen[&700]["trace_id"], "771a43a4192642f0b136d5159a501700");
    check_event(app, 700, &seen[&700]);
}

/// `GET path` once, in order; what the handler saw.
fn one(app: &App, path: &str) -> Value {
    let client = kansoku_tests::http_client();
    app.runtime.block_on(async {
        let response = client.get(app.server.url(path)).send().await.unwrap();
        assert_eq!(response.status(), 200, "{path}");
        serde_json::from_str::<Value>(&response.text().await.unwrap()).unwrap()
    })
}

/// The one event whose text is `text`.
fn event_named(app: &App, text: &str) -> Value {
    let events: Vec<Value> = app
        .ingest
        .events()
        .into_iter()
        .filter(|e| event_text(e) == text)
        .collect();
    assert_eq!(events.len(), 1, "one event {text:?}");
    events.into_iter().next().unwrap()
}

#[test]
fn a_hub_kept_for_the_next_unsampled_request_carries_nothing_of_the_last() {
    let app = app();
    let mut traces = std::collections::BTreeSet::new();
    let mut peeked = Vec::new();
    for id in 1000..1040 {
        // untouched requests first (their hubs are kept), then one that changes or uses its
        // hub, then one that looks
        for _ in 0..3 {
            let seen = one(app, &format!("/r0/quiet/{id}"));
            assert_eq!(seen["sampled"], false);
            traces.insert(seen["trace_id"].as_str().unwrap().to_owned());
        }
        one(app, &format!("/r0/touch/{id}"));
        peeked.push((id, one(app, &format!("/r0/peek/{id}"))));
    }
    assert_eq!(traces.len(), 120, "a trace per request, hubs kept or not");
    app.flush();
    for (id, seen) in peeked {
        assert_eq!(seen["last_event_id"], Value::Null, "peek {id}: {seen}");
        let trace_id = seen["trace_id"].as_str().unwrap();
        for text in [
            format!("peek {id}"),
            format!("peek {id} task"),
            format!("{id} failed"),
        ] {
            let event = if text.ends_with("failed") {
                event_named(app, &format!("order {text}"))
            } else {
                event_named(app, &text)
            };
            assert_eq!(
                event["contexts"]["trace"]["trace_id"], trace_id,
                "{text}: {event:#}"
            );
            assert!(event["tags"]["touched"].is_null(), "{text}: {event:#}");
            assert!(event["user"].is_null(), "{text}: {event:#}");
            let crumbs = breadcrumbs(&event);
            assert!(
                crumbs.iter().all(|crumb| !crumb.contains("touch")),
                "{text}: {crumbs:?}"
            );
        }
        // described from a description an earlier request left: its own URL, never theirs
        let event = event_named(app, &format!("peek {id}"));
        assert!(
            event["request"]["url"]
                .as_str()
                .is_some_and(|url| url.ends_with(&format!("/r0/peek/{id}"))),
            "peek {id}: {event:#}"
        );
    }
}
