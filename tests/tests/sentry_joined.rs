//! kansoku in a service that already has its Sentry and `tracing` set up: the application calls
//! `sentry::init` itself (its `before_send`, its release, traces at 100%, kansoku's transport to
//! a loopback ingest server) and installs sentry-tracing's layer; kansoku is installed without
//! a DSN and joins that client. What a user checks in Sentry: one client (`before_send` on every
//! event), a panic is one event, each request's events carry only that request's breadcrumbs,
//! tags and user, every event is in its request's trace, `#[tracing::instrument]` spans nest in
//! the request's transaction, a streamed body is produced inside the request's hub.
//!
//! One application per process, so this file is its own test binary; each test tells its
//! requests apart by the ids it uses.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::OnceLock;
use std::time::Duration;

use axum::extract::Path;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::{Json, Router};
use kansoku::http::KansokuLayer;
use kansoku_tests::joined::{breadcrumbs, event_text, seen_trace, App, OrderFailed};
use sentry::integrations::tracing::{BreadcrumbLayer, ErrorLayer, SpanLayer};
use serde_json::Value;
use tracing_subscriber::filter::LevelFilter;
use tracing_subscriber::layer::{Layer as _, SubscriberExt as _};
use tracing_subscriber::util::SubscriberInitExt as _;

#[tracing::instrument(fields(order = id))]
async fn reserve_stock(id: u32) {
    tracing::info!("stock reserved for order {id}");
    tokio::task::yield_now().await;
}

/// Every third order fails (captured by kansoku), every third logs `error!` (an event by
/// sentry-tracing), the others send a message with the `sentry` API.
#[kansoku::monitor_api_endpoint(name = "orders")]
#[tracing::instrument(skip_all, fields(order = id))]
async fn order(Path(id): Path<u32>) -> Result<Json<Value>, OrderFailed> {
    tokio::time::sleep(Duration::from_millis(u64::from(id % 7))).await;
    reserve_stock(id).await;
    // across tasks of the runtime: the request's scope goes along with `kansoku::bind`
    let seen = tokio::spawn(kansoku::bind(async { seen_trace() }))
        .await
        .expect("the task runs");
    assert_eq!(seen["trace_id"], seen_trace()["trace_id"]);
    let trace = seen_trace();
    match id % 3 {
        0 => Err(OrderFailed { id, trace }),
        1 => {
            tracing::error!(order = id, "order {id} had a problem");
            Ok(Json(trace))
        }
        _ => {
            sentry::capture_message(&format!("order {id} noted"), sentry::Level::Warning);
            Ok(Json(trace))
        }
    }
}

/// What an application's auth and logging middleware does: the user and a tag on the scope, a
/// log line (a breadcrumb).
async fn authenticate(
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    let id = request
        .uri()
        .path()
        .rsplit('/')
        .next()
        .and_then(|id| id.parse::<u32>().ok())
        .unwrap_or_default();
    tracing::info!("order {id} received");
    sentry::configure_scope(|scope| {
        scope.set_tag("order", id);
        scope.set_user(Some(sentry::User {
            id: Some(format!("user-{id}")),
            ..Default::default()
        }));
    });
    next.run(request).await
}

#[kansoku::monitor_api_endpoint(name = "crash")]
async fn crash(Path(id): Path<u32>) -> &'static str {
    tracing::info!("crash {id} about to happen");
    panic!("crash {id} happened");
}

/// Streams three chunks, logging each and sending a message at the end, after the handler
/// returned.
async fn stream(Path(id): Path<u32>) -> impl IntoResponse {
    let trace = seen_trace();
    let chunks = futures::stream::unfold(0u32, move |n| async move {
        if n == 3 {
            return None;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
        tracing::info!("stream {id} chunk {n}");
        if n == 2 {
            sentry::capture_message(&format!("stream {id} done"), sentry::Level::Info);
        }
        Some((Ok::<_, std::io::Error>(format!("chunk {n}\n")), n + 1))
    });
    (
        [("x-trace", trace.to_string())],
        axum::body::Body::from_stream(chunks),
    )
}

fn app() -> &'static App {
    static APP: OnceLock<App> = OnceLock::new();
    APP.get_or_init(|| {
        tracing_subscriber::registry()
            .with(SpanLayer::new().with_filter(LevelFilter::INFO))
            .with(BreadcrumbLayer::new().with_filter(LevelFilter::INFO))
            .with(ErrorLayer::new().with_filter(LevelFilter::ERROR))
            .with(tracing_subscriber::fmt::layer().with_test_writer())
            .init();
        App::start(
            "joined",
            sentry::ClientOptions::new()
                .release("joined-app@1.2.3")
                .server_name("app-host-7")
                .traces_sample_rate(1.0)
                .before_send(|mut event| {
                    event.tags.insert("app_before_send".into(), "ran".into());
                    Some(event)
                }),
            |telemetry| {
                Router::new()
                    .route("/orders/{id}", get(order))
                    .route("/crash/{id}", get(crash))
                    .route("/stream/{id}", get(stream))
                    .layer(axum::middleware::from_fn(authenticate))
                    .layer(KansokuLayer::new(telemetry))
            },
        )
    })
}

/// What a user checks on order `id`'s event: the application's client options, its own
/// scope and breadcrumbs only, the endpoint's name, the request, and the trace the handler saw.
fn check_event(event: &Value, id: u32, trace: &Value) {
    let expected = match id % 3 {
        0 => format!("order {id} failed"),
        1 => format!("order {id} had a problem"),
        _ => format!("order {id} noted"),
    };
    assert_eq!(event_text(event), expected);
    // one client: the application's, its options on kansoku's events too
    assert_eq!(event["release"], "joined-app@1.2.3", "{event:#}");
    assert_eq!(event["server_name"], "app-host-7");
    assert_eq!(event["tags"]["app_before_send"], "ran", "{event:#}");
    // its own scope only
    assert_eq!(event["tags"]["order"], id.to_string(), "{event:#}");
    assert_eq!(event["user"]["id"], format!("user-{id}"), "{event:#}");
    let crumbs = breadcrumbs(event);
    let own = format!("order {id} received");
    assert!(crumbs.contains(&own), "{own:?} not in {crumbs:?}");
    for crumb in &crumbs {
        assert!(
            crumb.ends_with(&format!(" {id}")) || crumb.contains(&format!(" {id} ")),
            "order {id}'s event carries another request's breadcrumb {crumb:?}"
        );
    }
    // the request's data, and the endpoint's name (the request's, without one)
    assert_eq!(event["transaction"], "orders", "{event:#}");
    assert!(
        event["request"]["url"]
            .as_str()
            .is_some_and(|url| url.ends_with(&format!("/orders/{id}"))),
        "{event:#}"
    );
    // in the request's trace, as the handler saw it and sent it downstream
    let trace_id = trace["trace_id"].as_str().unwrap();
    assert_eq!(
        event["contexts"]["trace"]["trace_id"], trace_id,
        "{event:#}"
    );
    assert_eq!(trace["trace_id_fn"], trace_id);
    assert!(
        trace["sentry_trace"]
            .as_str()
            .is_some_and(|h| h.starts_with(trace_id) && h.ends_with("-1")),
        "{trace}"
    );
}

/// Every span of order `id`'s transaction in its trace and in the transaction's tree, the two
/// `#[tracing::instrument]` spans among them.
fn check_spans(tx: &Value, id: u32, trace_id: &str) {
    let spans = tx["spans"].as_array().cloned().unwrap_or_default();
    let mut known: BTreeSet<String> = BTreeSet::new();
    known.insert(
        tx["contexts"]["trace"]["span_id"]
            .as_str()
            .unwrap()
            .to_owned(),
    );
    // parents come before children in time, not always in order: resolve to a fixpoint
    let mut left: Vec<&Value> = spans.iter().collect();
    loop {
        let before = left.len();
        left.retain(|span| {
            let parent = span["parent_span_id"].as_str().unwrap_or_default();
            if known.contains(parent) {
                known.insert(span["span_id"].as_str().unwrap().to_owned());
                false
            } else {
                true
            }
        });
        if left.len() == before {
            break;
        }
    }
    assert!(
        left.is_empty(),
        "spans outside order {id}'s tree: {left:#?}"
    );
    let described = |name: &str| spans.iter().filter(|s| s["description"] == name).count();
    assert_eq!(described("reserve_stock"), 1, "{tx:#}");
    assert_eq!(described("order"), 1, "{tx:#}");
    for span in &spans {
        assert_eq!(span["trace_id"], trace_id);
    }
}

#[test]
fn fifty_concurrent_requests_each_get_their_own_scope_trace_and_spans() {
    let app = app();
    let ids: Vec<u32> = (1000..1050).collect();
    let client = kansoku_tests::http_client();
    let seen: BTreeMap<u32, Value> = app.runtime.block_on(async {
        let requests = ids.iter().map(|&id| {
            let client = client.clone();
            let url = app.server.url(&format!("/orders/{id}"));
            async move {
                let response = client.get(url).send().await.unwrap();
                let status = response.status().as_u16();
                assert_eq!(status, if id % 3 == 0 { 500 } else { 200 });
                let body = response.text().await.unwrap();
                (id, serde_json::from_str::<Value>(&body).unwrap())
            }
        });
        futures::future::join_all(requests)
            .await
            .into_iter()
            .collect()
    });
    app.flush();

    let events: Vec<Value> = app
        .ingest
        .events()
        .into_iter()
        .filter(|e| {
            let text = event_text(e);
            text.starts_with("order 10") && !text.contains("received")
        })
        .collect();
    assert_eq!(events.len(), 50, "one event per request");
    let mut by_id = BTreeMap::new();
    for event in &events {
        let id: u32 = event_text(event)
            .split(' ')
            .nth(1)
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("an order id in {event:#}"));
        check_event(event, id, &seen[&id]);
        by_id.insert(id, event.clone());
    }
    assert_eq!(by_id.len(), 50, "every request's event, none twice");

    // one transaction per request, with the tracing spans nested in it
    let transactions: Vec<Value> = app
        .ingest
        .transactions()
        .into_iter()
        .filter(|t| t["transaction"] == "GET /orders/{id}")
        .collect();
    let mut traces = BTreeSet::new();
    for &id in &ids {
        let trace_id = seen[&id]["trace_id"].as_str().unwrap().to_owned();
        let mine: Vec<&Value> = transactions
            .iter()
            .filter(|t| t["contexts"]["trace"]["trace_id"] == trace_id.as_str())
            .collect();
        assert_eq!(mine.len(), 1, "one transaction in order {id}'s trace");
        check_spans(mine[0], id, &trace_id);
        traces.insert(trace_id);
    }
    assert_eq!(traces.len(), 50, "a trace per request");
}

#[test]
fn a_panic_in_a_handler_is_one_event_in_its_request() {
    let app = app();
    let client = kansoku_tests::http_client();
    // axum catches no panic: hyper closes the connection without an answer
    let answer = app
        .runtime
        .block_on(client.get(app.server.url("/crash/7001")).send());
    assert!(answer.is_err(), "{answer:?}");
    app.flush();
    let panics: Vec<Value> = app
        .ingest
        .events()
        .into_iter()
        .filter(|e| event_text(e).contains("crash 7001 happened"))
        .collect();
    assert_eq!(panics.len(), 1, "one event for one panic: {panics:#?}");
    let event = &panics[0];
    assert_eq!(event["tags"]["app_before_send"], "ran");
    assert_eq!(event["release"], "joined-app@1.2.3");
    assert_eq!(event["transaction"], "crash", "{event:#}");
    assert_eq!(event["tags"]["order"], "7001", "{event:#}");
    assert_eq!(
        breadcrumbs(event),
        vec![
            "order 7001 received".to_owned(),
            "crash 7001 about to happen".to_owned()
        ]
    );
}

#[test]
fn a_streamed_body_is_produced_inside_its_requests_hub() {
    let app = app();
    let client = kansoku_tests::http_client();
    let (trace, body) = app.runtime.block_on(async {
        let response = client
            .get(app.server.url("/stream/8001"))
            .send()
            .await
            .unwrap();
        let trace: Value =
            serde_json::from_str(response.headers()["x-trace"].to_str().unwrap()).unwrap();
        (trace, response.text().await.unwrap())
    });
    assert_eq!(body, "chunk 0\nchunk 1\nchunk 2\n");
    app.flush();
    let done: Vec<Value> = app
        .ingest
        .events()
        .into_iter()
        .filter(|e| event_text(e) == "stream 8001 done")
        .collect();
    assert_eq!(done.len(), 1);
    let event = &done[0];
    assert_eq!(event["contexts"]["trace"]["trace_id"], trace["trace_id"]);
    assert_eq!(event["transaction"], "GET /stream/{id}", "{event:#}");
    assert_eq!(
        breadcrumbs(event),
        vec![
            "order 8001 received".to_owned(),
            "stream 8001 chunk 0".to_owned(),
            "stream 8001 chunk 1".to_owned(),
            "stream 8001 chunk 2".to_owned()
        ]
    );
}

#[test]
fn kansoku_says_it_sends_through_the_applications_client() {
    let app = app();
    let health = app
        .telemetry
        .health()
        .into_iter()
        .find(|h| h.backend == "sentry")
        .expect("a Sentry backend joined to the application's client");
    assert!(health.detail.contains("application's"), "{}", health.detail);
    // the application's client is still the main hub's: kansoku made no second one
    let client = sentry::Hub::main()
        .client()
        .expect("the application's client");
    assert_eq!(
        client.options().release.as_deref(),
        Some("joined-app@1.2.3")
    );
}
