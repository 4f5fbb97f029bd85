//! The HTTP layers against a real axum server on a loopback port, with real HTTP requests:
//! what `/metrics` shows (route templates, one label for unmatched paths and one for unknown
//! methods, 5xx, slow requests, a client hanging up), and what reaches Sentry (through the
//! `sentry` crate's test transport): transactions named by route, continued traces, nested
//! spans, scrubbed requests, captured bodies.

// Counts in the Prometheus text are integers, printed exactly.
#![allow(clippy::float_cmp)]

use std::collections::BTreeSet;
use std::sync::Mutex;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::Path;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use kansoku::http::{HttpMetricsLayer, KansokuLayer, SentryLayer, UNMATCHED_ROUTE};
use kansoku_tests::http_support::{eventually, Server};
use kansoku_tests::samples;
use kansoku_tests::sentry_support::{sent, telemetry};
use sentry::protocol::{Context, SpanStatus, TraceContext, Transaction};

#[derive(Debug)]
struct ShopError;
impl std::fmt::Display for ShopError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("no such shop")
    }
}
impl std::error::Error for ShopError {}
impl IntoResponse for ShopError {
    fn into_response(self) -> Response {
        (StatusCode::INTERNAL_SERVER_ERROR, "no such shop").into_response()
    }
}

// No arguments: inside the layers they take the request's method and route template.
#[kansoku::monitor_api_endpoint]
#[kansoku::track_api_request]
async fn show_shop(Path(id): Path<u32>) -> Result<String, ShopError> {
    lookup(id).await
}

#[kansoku::track_database_query("select", "shops")]
async fn lookup(id: u32) -> Result<String, ShopError> {
    tokio::task::yield_now().await;
    if id == 0 {
        Err(ShopError)
    } else {
        Ok(format!("shop {id}"))
    }
}

/// One handler, mounted under several routes.
#[kansoku::monitor_api_endpoint]
#[kansoku::track_api_request]
async fn shared() -> &'static str {
    "shared"
}

/// Runs the shared handler in a task of its own, carried by `kansoku::bind`.
async fn spawning() -> &'static str {
    tokio::spawn(kansoku::bind(shared())).await.unwrap()
}

#[kansoku::track_api_request]
async fn hang() -> &'static str {
    tokio::time::sleep(Duration::from_mins(1)).await;
    "too late"
}

/// What `inject_trace_headers` puts on an outgoing request made while serving this one:
/// `SENTRY_TRACE TRACEPARENT`, and ` tracestate=…` when it passes one on.
async fn outgoing() -> String {
    let mut headers = HeaderMap::new();
    kansoku::http::inject_trace_headers(&mut headers);
    let mut request = http::Request::new(());
    kansoku::http::inject_trace_headers(request.headers_mut());
    assert_eq!(
        request.headers().get("sentry-trace").is_some(),
        headers.get("sentry-trace").is_some()
    );
    let header = |name: &str| {
        headers
            .get(name)
            .map(|value| value.to_str().unwrap().to_owned())
            .unwrap_or_default()
    };
    let tracestate = match header("tracestate") {
        state if state.is_empty() => state,
        state => format!(" tracestate={state}"),
    };
    format!(
        "{} {}{tracestate}",
        header("sentry-trace"),
        header("traceparent")
    )
}

fn shops_app() -> Router {
    Router::new()
        .route("/shops/{id}", get(show_shop))
        .route("/shops", post(|| async { StatusCode::CREATED }))
        .route("/hang", get(hang))
        .route("/outgoing", get(outgoing))
}

fn value(text: &str, series: &str) -> f64 {
    samples(text)
        .get(series)
        .copied()
        .unwrap_or_else(|| panic!("no sample {series} in\n{text}"))
}

fn trace_of<'a>(transaction: &'a Transaction<'_>) -> &'a TraceContext {
    match transaction.contexts.get("trace") {
        Some(Context::Trace(trace)) => trace,
        other => panic!("no trace context: {other:?}"),
    }
}

/// Three shops, one creation, 10 000 distinct unknown paths, three unknown methods.
async fn scan(server: &Server) {
    let client = kansoku_tests::http_client();
    for id in [1, 2, 3] {
        let response = client
            .get(server.url(&format!("/shops/{id}")))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        assert_eq!(response.text().await.unwrap(), format!("shop {id}"));
    }
    let created = client.post(server.url("/shops")).send().await.unwrap();
    assert_eq!(created.status(), 201);
    for i in 0..10_000 {
        let path = format!("/scan/{i}/wp-login.php?id={i}");
        assert_eq!(server.get_status(&client, &path).await, 404);
    }
    for method in ["PURGE", "BREW", "X-ANYTHING"] {
        let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        let response = client
            .request(method, server.url("/shops/1"))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 405);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn routes_are_template_labels_and_scanners_cannot_grow_the_label_set() {
    let (t, _transport) = telemetry(0.0, &[]);
    let server = Server::start(shops_app().layer(KansokuLayer::new(&t))).await;
    scan(&server).await;

    let text = t.prometheus_text();
    let requests = |labels: &str| {
        value(
            &text,
            &format!("sentry_test_http_requests_total{{{labels}}}"),
        )
    };
    assert_eq!(
        requests(r#"method="GET",route="/shops/{id}",status_code="200""#),
        3.0
    );
    assert_eq!(
        requests(r#"method="POST",route="/shops",status_code="201""#),
        1.0
    );
    assert_eq!(
        requests(r#"method="GET",route="__unmatched__",status_code="404""#),
        10_000.0
    );
    assert_eq!(
        requests(r#"method="_OTHER",route="/shops/{id}",status_code="405""#),
        3.0
    );
    let routes: BTreeSet<String> = samples(&text)
        .keys()
        .filter(|series| series.starts_with("sentry_test_http_requests_total{"))
        .map(|series| {
            series
                .split("route=\"")
                .nth(1)
                .unwrap()
                .split('"')
                .next()
                .unwrap()
                .to_owned()
        })
        .collect();
    assert_eq!(
        routes,
        BTreeSet::from([
            "/shops".into(),
            "/shops/{id}".into(),
            "__unmatched__".into()
        ])
    );
    assert!(
        !text.contains("wp-login"),
        "a raw path leaked into the labels"
    );
    assert!(!text.contains("PURGE") && !text.contains("BREW"));
    assert_eq!(
        value(
            &text,
            r#"sentry_test_http_request_duration_seconds_count{method="GET",route="/shops/{id}"}"#
        ),
        3.0
    );
    assert_eq!(
        value(
            &text,
            r#"sentry_test_http_requests_in_flight{method="GET",route="/shops/{id}"}"#
        ),
        0.0
    );
    assert_eq!(
        value(
            &text,
            r#"sentry_test_http_slow_requests_total{method="GET",route="/shops/{id}"}"#
        ),
        0.0
    );
    // the attribute without arguments counted under the route template and real method
    assert_eq!(
        value(
            &text,
            r#"sentry_test_api_requests_total{endpoint="/shops/{id}",method="GET",status="ok"}"#
        ),
        3.0
    );
    assert!(!text.contains(r#"endpoint="show_shop""#), "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_handler_shared_by_routes_is_counted_under_each_route() {
    let (t, transport) = telemetry(1.0, &[]);
    let app = Router::new()
        .route("/a/{id}", get(shared).post(shared))
        .route("/b", get(shared))
        .route("/spawned", get(spawning))
        .layer(KansokuLayer::new(&t));
    let server = Server::start(app).await;
    let client = kansoku_tests::http_client();
    for path in ["/a/1", "/a/2", "/b", "/spawned"] {
        assert_eq!(server.get_status(&client, path).await, 200);
    }
    assert_eq!(
        client
            .post(server.url("/a/3"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );

    let text = t.prometheus_text();
    let api = |labels: &str| {
        value(
            &text,
            &format!("sentry_test_api_requests_total{{{labels}}}"),
        )
    };
    assert_eq!(api(r#"endpoint="/a/{id}",method="GET",status="ok""#), 2.0);
    assert_eq!(api(r#"endpoint="/a/{id}",method="POST",status="ok""#), 1.0);
    assert_eq!(api(r#"endpoint="/b",method="GET",status="ok""#), 1.0);
    // a task the handler spawns with `kansoku::bind` still serves the same request
    assert_eq!(api(r#"endpoint="/spawned",method="GET",status="ok""#), 1.0);
    assert!(!text.contains(r#"endpoint="shared""#), "{text}");

    let sent = sent(&t, &transport).await;
    let names: BTreeSet<_> = sent
        .transactions
        .iter()
        .filter_map(|tx| tx.name.clone())
        .collect();
    assert_eq!(
        names,
        BTreeSet::from([
            "GET /a/{id}".into(),
            "POST /a/{id}".into(),
            "GET /b".into(),
            "GET /spawned".into()
        ])
    );
    for transaction in &sent.transactions {
        // the monitored handler is a child of the request's transaction, named after it
        let root = trace_of(transaction);
        assert_eq!(transaction.spans.len(), 1, "{transaction:#?}");
        assert_eq!(transaction.spans[0].parent_span_id, Some(root.span_id));
        assert_eq!(transaction.spans[0].description, transaction.name);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sentry_layer_alone_names_the_request_and_its_attributes_by_route() {
    let (t, transport) = telemetry(1.0, &[]);
    let mut app = Router::new()
        .route("/a/{id}", get(shared))
        .layer(SentryLayer::new())
        .with_state(());
    let request = http::Request::get("/a/9").body(Body::empty()).unwrap();
    // no metrics layer makes a telemetry current: the request runs inside this one
    let response = t
        .instrument(tower_service::Service::call(&mut app, request))
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let text = t.prometheus_text();
    assert_eq!(
        value(
            &text,
            r#"sentry_test_api_requests_total{endpoint="/a/{id}",method="GET",status="ok"}"#
        ),
        1.0
    );
    assert!(
        !text.contains("http_requests_total"),
        "no metrics layer, no ns_http_*: {text}"
    );
    let sent = sent(&t, &transport).await;
    assert_eq!(sent.transactions.len(), 1);
    assert_eq!(sent.transactions[0].name.as_deref(), Some("GET /a/{id}"));
    assert_eq!(sent.transactions[0].spans.len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_5xx_marks_the_transaction_and_nests_the_handler_and_query_spans() {
    let (t, transport) = telemetry(1.0, &[]);
    let server = Server::start(shops_app().layer(KansokuLayer::new(&t))).await;
    let client = kansoku_tests::http_client();
    assert_eq!(server.get_status(&client, "/shops/0").await, 500);
    assert_eq!(server.get_status(&client, "/shops/5").await, 200);

    let text = t.prometheus_text();
    assert_eq!(
        value(
            &text,
            r#"sentry_test_http_requests_total{method="GET",route="/shops/{id}",status_code="500"}"#
        ),
        1.0
    );
    assert_eq!(
        value(
            &text,
            r#"sentry_test_api_requests_total{endpoint="/shops/{id}",method="GET",status="error"}"#
        ),
        1.0
    );
    assert_eq!(
        value(
            &text,
            r#"sentry_test_errors_total{endpoint="/shops/{id}",kind="ShopError"}"#
        ),
        1.0
    );

    let sent = sent(&t, &transport).await;
    assert_eq!(sent.transactions.len(), 2, "{:#?}", sent.transactions);
    let failed = sent
        .transactions
        .iter()
        .find(|tx| trace_of(tx).status == Some(SpanStatus::InternalError))
        .expect("the 5xx transaction is marked internal_error");
    assert_eq!(failed.name.as_deref(), Some("GET /shops/{id}"));
    assert_eq!(
        trace_of(failed).data.get("http.response.status_code"),
        Some(&500.into())
    );
    let ok = sent
        .transactions
        .iter()
        .find(|tx| trace_of(tx).status == Some(SpanStatus::Ok))
        .unwrap();
    let root = trace_of(ok).span_id;
    let handler = ok
        .spans
        .iter()
        .find(|s| s.op.as_deref() == Some("http.server"))
        .unwrap();
    let query = ok
        .spans
        .iter()
        .find(|s| s.op.as_deref() == Some("db.query"))
        .unwrap();
    assert_eq!(handler.parent_span_id, Some(root));
    assert_eq!(query.parent_span_id, Some(handler.span_id));
    assert_eq!(query.description.as_deref(), Some("SELECT shops"));
    // the handler's error, captured in the request's scope
    assert_eq!(sent.events.len(), 1, "{:#?}", sent.events);
    let event = &sent.events[0];
    assert_eq!(event.transaction.as_deref(), Some("GET /shops/{id}"));
    let request = event.request.as_ref().expect("the request is on the event");
    assert_eq!(request.method.as_deref(), Some("GET"));
    assert_eq!(
        request.url.as_ref().map(|u| u.path().to_owned()),
        Some("/shops/0".to_owned())
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_hangs_up_is_recorded_as_cancelled_everywhere() {
    let (t, transport) = telemetry(1.0, &[]);
    let server = Server::start(shops_app().layer(KansokuLayer::new(&t))).await;
    let stream = server
        .send_raw("GET /hang HTTP/1.1\r\nHost: shops", b"")
        .await;
    let in_flight = r#"sentry_test_http_requests_in_flight{method="GET",route="/hang"}"#;
    eventually("the request to be in flight", || {
        samples(&t.prometheus_text()).get(in_flight) == Some(&1.0)
    })
    .await;
    drop(stream); // the client goes away mid-request

    let cancelled =
        r#"sentry_test_http_requests_total{method="GET",route="/hang",status_code="cancelled"}"#;
    eventually("the request to be counted as cancelled", || {
        samples(&t.prometheus_text()).get(cancelled) == Some(&1.0)
    })
    .await;
    let text = t.prometheus_text();
    assert_eq!(value(&text, in_flight), 0.0);
    assert_eq!(
        value(
            &text,
            r#"sentry_test_api_requests_total{endpoint="/hang",method="GET",status="cancelled"}"#
        ),
        1.0
    );
    assert_eq!(
        value(
            &text,
            r#"sentry_test_api_requests_in_flight{endpoint="/hang"}"#
        ),
        0.0
    );
    let sent = sent(&t, &transport).await;
    assert_eq!(sent.transactions.len(), 1);
    assert_eq!(sent.transactions[0].name.as_deref(), Some("GET /hang"));
    assert_eq!(
        trace_of(&sent.transactions[0]).status,
        Some(SpanStatus::Cancelled)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_handler_that_panics_is_a_500_and_an_error_transaction() {
    let (t, transport) = telemetry(1.0, &[]);
    let app = Router::new()
        .route(
            "/boom",
            get(|| async {
                tokio::task::yield_now().await;
                assert!(std::hint::black_box(false), "the oven exploded");
                "baked"
            }),
        )
        .layer(KansokuLayer::new(&t));
    let server = Server::start(app).await;
    // no catch-panic layer: the server drops the connection, the client sees no answer
    let answer = kansoku_tests::http_client()
        .get(server.url("/boom"))
        .send()
        .await;
    assert!(answer.is_err(), "{answer:?}");

    let text = t.prometheus_text();
    assert_eq!(
        value(
            &text,
            r#"sentry_test_http_requests_total{method="GET",route="/boom",status_code="500"}"#
        ),
        1.0
    );
    assert_eq!(
        value(
            &text,
            r#"sentry_test_http_requests_in_flight{method="GET",route="/boom"}"#
        ),
        0.0
    );
    let sent = sent(&t, &transport).await;
    assert_eq!(sent.transactions.len(), 1);
    assert_eq!(
        trace_of(&sent.transactions[0]).status,
        Some(SpanStatus::InternalError)
    );
    let panic = sent
        .events
        .iter()
        .find(|event| event.exception.values.iter().any(|e| e.ty == "panic"))
        .unwrap_or_else(|| panic!("no panic event: {:#?}", sent.events));
    assert_eq!(panic.transaction.as_deref(), Some("GET /boom"));
    assert_eq!(
        panic.request.as_ref().and_then(|r| r.method.as_deref()),
        Some("GET")
    );
}

const TRACE: &str = "771a43a4192642f0b136d5159a501700";
const PARENT: &str = "a1b2c3d4e5f60718";

/// A caller speaking only W3C Trace Context (an OpenTelemetry SDK) is continued too, its
/// `sampled` flag honoured, and told the trace downstream in both forms.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_incoming_w3c_traceparent_is_continued() {
    let client = kansoku_tests::http_client();
    let (w3c_t, w3c_transport) = telemetry(0.0, &[]);
    let w3c_server = Server::start(shops_app().layer(KansokuLayer::new(&w3c_t))).await;
    let w3c = client
        .get(w3c_server.url("/outgoing"))
        .header("traceparent", format!("00-{TRACE}-{PARENT}-01"))
        .header("tracestate", "vendor=x")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let continued = sent(&w3c_t, &w3c_transport).await;
    assert_eq!(continued.transactions.len(), 1, "the caller sampled it");
    let trace = trace_of(&continued.transactions[0]);
    assert_eq!(trace.trace_id.to_string(), TRACE);
    assert_eq!(
        trace.parent_span_id.map(|id| id.to_string()).as_deref(),
        Some(PARENT)
    );
    assert_eq!(
        w3c,
        format!(
            "{TRACE}-{span}-1 00-{TRACE}-{span}-01 tracestate=vendor=x",
            span = trace.span_id
        ),
        "the caller's tracestate is passed on with the trace"
    );

    // an oversized tracestate is cut to W3C's 32 whole list-members, in order
    let members: Vec<String> = (0..40).map(|n| format!("v{n}=x")).collect();
    let cut = client
        .get(w3c_server.url("/outgoing"))
        .header("traceparent", format!("00-{TRACE}-{PARENT}-00"))
        .header("tracestate", members.join(","))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let passed = cut.split_once(" tracestate=").expect("passed on").1;
    assert_eq!(passed, members[..32].join(","));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_incoming_trace_is_continued_and_its_sampling_decision_honoured() {
    // this side samples nothing: the caller's `-1` decides
    let (t, transport) = telemetry(0.0, &[]);
    let server = Server::start(shops_app().layer(KansokuLayer::new(&t))).await;
    let client = kansoku_tests::http_client();
    let response = client
        .get(server.url("/outgoing"))
        .header("sentry-trace", format!("{TRACE}-{PARENT}-1"))
        .send()
        .await
        .unwrap();
    let outgoing = response.text().await.unwrap();
    let first = sent(&t, &transport).await;
    assert_eq!(first.transactions.len(), 1);
    let trace = trace_of(&first.transactions[0]);
    assert_eq!(trace.trace_id.to_string(), TRACE);
    assert_eq!(
        trace.parent_span_id.map(|id| id.to_string()).as_deref(),
        Some(PARENT)
    );
    assert_eq!(first.transactions[0].name.as_deref(), Some("GET /outgoing"));
    // an outgoing call made while serving it continues the same trace under this request, in
    // Sentry's form and W3C's
    assert_eq!(
        outgoing,
        format!(
            "{TRACE}-{span}-1 00-{TRACE}-{span}-01",
            span = trace.span_id
        )
    );

    // this side samples everything: the caller's `-0`, or `sentry-sampled=false` in the
    // baggage, still means no transaction, and the next service is told so
    let (t, transport) = telemetry(1.0, &[]);
    let server = Server::start(shops_app().layer(KansokuLayer::new(&t))).await;
    let unsampled = client
        .get(server.url("/outgoing"))
        .header("sentry-trace", format!("{TRACE}-{PARENT}-0"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let (sentry_trace, traceparent) = unsampled.split_once(' ').unwrap();
    assert!(
        sentry_trace.starts_with(&format!("{TRACE}-")) && sentry_trace.ends_with("-0"),
        "{unsampled}"
    );
    assert!(
        traceparent.starts_with(&format!("00-{TRACE}-")) && traceparent.ends_with("-00"),
        "{unsampled}"
    );
    let by_baggage = client
        .get(server.url("/shops/1"))
        .header("sentry-trace", format!("{TRACE}-{PARENT}"))
        .header(
            "baggage",
            format!("sentry-trace_id={TRACE},sentry-sampled=false"),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(by_baggage.status(), 200);
    assert!(sent(&t, &transport).await.transactions.is_empty());

    // malformed headers are ignored: a new trace starts, the request is served
    for bad in [
        "not-a-trace",
        "771a43a4192642f0b136d5159a501700-zz-1",
        &format!("{TRACE}-{PARENT}-7"),
        "",
    ] {
        let response = client
            .get(server.url("/shops/2"))
            .header("sentry-trace", bad)
            .header("baggage", "sentry-sampled=maybe,,=,%%%")
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200, "{bad:?}");
    }
    let fresh = sent(&t, &transport).await;
    assert_eq!(fresh.transactions.len(), 4);
    for transaction in &fresh.transactions {
        let trace = trace_of(transaction);
        assert_ne!(trace.trace_id.to_string(), TRACE);
        assert_eq!(trace.parent_span_id, None);
    }
}

/// What the handler of `/reservations` received, to check the layer left it intact.
static RECEIVED: Mutex<Vec<Vec<u8>>> = Mutex::new(Vec::new());

#[kansoku::monitor_api_endpoint]
async fn reserve(body: Bytes) -> Result<String, ShopError> {
    RECEIVED.lock().unwrap().push(body.to_vec());
    Err(ShopError)
}

const SECRETS: [&str; 6] = [
    "sekrit-bearer",
    "cookie-secret",
    "key-secret",
    "hunter2",
    "4242424242424242",
    "query-token-secret",
];

fn reservation_request(client: &reqwest::Client, server: &Server) -> reqwest::RequestBuilder {
    client
        .post(server.url("/reservations?access_token=query-token-secret&page=2"))
        .header("authorization", "Bearer sekrit-bearer")
        .header("cookie", "session=cookie-secret")
        .header("x-api-key", "key-secret")
        .header("x-request-id", "visible-id")
        .header("content-type", "application/json")
        .body(r#"{"shop_id":7,"password":"hunter2","card":{"card_number":"4242424242424242"},"note":"window seat"}"#)
}

fn assert_scrubbed(request: &sentry::protocol::Request) {
    let json = serde_json::to_string(request).unwrap();
    for secret in SECRETS {
        assert!(!json.contains(secret), "{secret} leaked: {json}");
    }
    for header in ["authorization", "cookie", "x-api-key"] {
        assert_eq!(
            request.headers.get(header).map(String::as_str),
            Some("[Filtered]"),
            "{json}"
        );
    }
    assert_eq!(
        request.headers.get("x-request-id").map(String::as_str),
        Some("visible-id")
    );
    assert_eq!(
        request.query_string.as_deref(),
        Some("access_token=[Filtered]&page=2")
    );
    let data = request.data.as_deref().expect("the body was captured");
    assert!(
        data.contains("window seat") && data.contains(r#""password":"[Filtered]""#),
        "{data}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn headers_query_strings_and_body_fields_are_scrubbed_on_events_and_transactions() {
    let (t, transport) = telemetry(1.0, &[]);
    let app = Router::new()
        .route("/reservations", post(reserve))
        .layer(KansokuLayer::new(&t).capture_request_body(true));
    let server = Server::start(app).await;
    let client = kansoku_tests::http_client();
    let response = reservation_request(&client, &server).send().await.unwrap();
    assert_eq!(response.status(), 500);
    let received = RECEIVED.lock().unwrap().pop().unwrap();
    assert!(
        String::from_utf8(received).unwrap().contains("hunter2"),
        "the handler gets the body as sent"
    );

    let sent = sent(&t, &transport).await;
    assert_eq!(sent.events.len(), 1);
    assert_scrubbed(
        sent.events[0]
            .request
            .as_ref()
            .expect("the event has the request"),
    );
    assert_eq!(sent.transactions.len(), 1);
    assert_scrubbed(
        sent.transactions[0]
            .request
            .as_ref()
            .expect("the transaction has the request"),
    );
}

/// Streams the body frame by frame and says what it got.
async fn count_body(body: Body) -> Result<String, ShopError> {
    use futures::StreamExt as _;
    let mut stream = body.into_data_stream();
    let (mut frames, mut bytes, mut sum) = (0_u64, 0_u64, 0_u64);
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|_| ShopError)?;
        frames += 1;
        bytes += chunk.len() as u64;
        sum += chunk.iter().map(|b| u64::from(*b)).sum::<u64>();
    }
    // an error so that the request (with its captured body) is reported
    kansoku::capture_message(
        &format!("frames={frames} bytes={bytes} sum={sum}"),
        kansoku::Level::Info,
        &[],
    );
    Ok(format!("frames={frames} bytes={bytes} sum={sum}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn captured_bodies_are_bounded_and_the_handler_still_streams_them_whole() {
    let (t, transport) = telemetry(0.0, &[]);
    let app = Router::new().route("/upload", post(count_body)).layer(
        KansokuLayer::new(&t)
            .capture_request_body(true)
            .max_body_size(64),
    );
    let server = Server::start(app).await;
    let client = kansoku_tests::http_client();

    // a huge JSON body: the handler gets all of it, Sentry the first 64 bytes
    let mut huge = String::from(r#"{"password":"hunter2","items":["#);
    while huge.len() < (1 << 20) - 2 {
        huge.push_str("12345678,");
    }
    huge.push_str("0]}");
    let expected_sum: u64 = huge.bytes().map(u64::from).sum();
    let answer = client
        .post(server.url("/upload"))
        .header("content-type", "application/json")
        .body(huge.clone())
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        answer.ends_with(&format!("bytes={} sum={expected_sum}", huge.len())),
        "{answer}"
    );

    // not UTF-8: kept lossily, still scrubbed, passed on byte for byte
    let binary: &[u8] = b"{\"name\":\"\xff\xfe\",\"token\":\"tok-secret\"}";
    let binary_sum: u64 = binary.iter().map(|b| u64::from(*b)).sum();
    let answer = client
        .post(server.url("/upload"))
        .header("content-type", "application/json")
        .body(binary.to_vec())
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        answer.ends_with(&format!("bytes={} sum={binary_sum}", binary.len())),
        "{answer}"
    );

    // a chunked body sent in pieces: the handler sees it arrive frame by frame
    let mut stream = server
        .send_raw(
            "POST /upload HTTP/1.1\r\nHost: shops\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\nConnection: close",
            b"",
        )
        .await;
    for piece in [r#"{"a":"#, r#""bc","#, r#""d":1}"#] {
        use tokio::io::AsyncWriteExt as _;
        stream
            .write_all(format!("{:x}\r\n{piece}\r\n", piece.len()).as_bytes())
            .await
            .unwrap();
        stream.flush().await.unwrap();
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    {
        use tokio::io::AsyncWriteExt as _;
        stream.write_all(b"0\r\n\r\n").await.unwrap();
    }
    let response = Server::read_response(stream).await;
    assert!(response.contains("frames=3 bytes=16"), "{response}");

    let sent = sent(&t, &transport).await;
    assert_eq!(sent.events.len(), 3, "{:#?}", sent.events);
    let data = |n: usize| {
        sent.events[n]
            .request
            .as_ref()
            .unwrap()
            .data
            .clone()
            .unwrap()
    };
    let huge_data = data(0);
    assert!(huge_data.len() < 200, "{huge_data}");
    assert!(
        huge_data.starts_with(r#"{"password":"[Filtered]","items":[1234"#),
        "{huge_data}"
    );
    assert!(
        huge_data.ends_with(&format!("[truncated: first 64 of {} bytes]", huge.len())),
        "{huge_data}"
    );
    let binary_data = data(1);
    assert!(
        binary_data.contains('\u{FFFD}') && !binary_data.contains("tok-secret"),
        "{binary_data}"
    );
    assert_eq!(data(2), r#"{"a":"bc","d":1}"#);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_requests_are_counted_and_reported_once() {
    let (t, transport) = telemetry(0.0, &[]);
    let app = Router::new()
        .route(
            "/report",
            get(|| async {
                tokio::time::sleep(Duration::from_millis(120)).await;
                "done"
            }),
        )
        .layer(SentryLayer::new())
        .layer(HttpMetricsLayer::new(&t).slow_threshold(Duration::from_millis(100)));
    let server = Server::start(app).await;
    let client = kansoku_tests::http_client();
    for _ in 0..3 {
        assert_eq!(server.get_status(&client, "/report").await, 200);
    }
    let text = t.prometheus_text();
    assert_eq!(
        value(
            &text,
            r#"sentry_test_http_slow_requests_total{method="GET",route="/report"}"#
        ),
        3.0
    );
    let sent = sent(&t, &transport).await;
    assert_eq!(
        sent.events.len(),
        1,
        "one warning, not one per slow request: {:#?}",
        sent.events
    );
    let warning = &sent.events[0];
    assert_eq!(warning.level, sentry::Level::Warning);
    assert!(warning
        .message
        .as_deref()
        .unwrap()
        .starts_with("slow request: GET /report took"));
    assert_eq!(warning.extra.get("route"), Some(&"/report".into()));
    assert!(warning.extra["duration_ms"].as_f64().unwrap() >= 100.0);
}

/// A router mounted with `nest_service` gives the layers around it no matched path: its
/// requests count as unmatched, beside scanners' 404s, unless the application names them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_nested_service_is_labelled_by_the_applications_route_names() {
    let admin = || Router::new().route("/users/{id}", get(|| async { "user" }));
    let client = kansoku_tests::http_client();

    // without names: what axum gives, `__unmatched__`
    let (t, _transport) = telemetry(1.0, &[]);
    let server = Server::start(
        shops_app()
            .nest_service("/admin", admin())
            .layer(KansokuLayer::new(&t)),
    )
    .await;
    assert_eq!(server.get_status(&client, "/admin/users/7").await, 200);
    let text = t.prometheus_text();
    assert_eq!(
        value(
            &text,
            &format!(
                r#"sentry_test_http_requests_total{{method="GET",route="{UNMATCHED_ROUTE}",status_code="200"}}"#
            )
        ),
        1.0,
        "{text}"
    );

    // with names: the nest's template, for the metrics and the transaction
    let (t, transport) = telemetry(1.0, &[]);
    let server = Server::start(shops_app().nest_service("/admin", admin()).layer(
        KansokuLayer::new(&t).route_names(|request| {
            request
                .uri
                .path()
                .starts_with("/admin/")
                .then_some("/admin/{*rest}")
        }),
    ))
    .await;
    for path in ["/admin/users/7", "/admin/users/8", "/shops/1"] {
        assert_eq!(server.get_status(&client, path).await, 200, "{path}");
    }
    assert_eq!(server.get_status(&client, "/admin/nowhere").await, 404);
    assert_eq!(server.get_status(&client, "/scanner").await, 404);
    let text = t.prometheus_text();
    let series = |route: &str, code: u16| {
        value(
            &text,
            &format!(
                r#"sentry_test_http_requests_total{{method="GET",route="{route}",status_code="{code}"}}"#
            ),
        )
    };
    assert_eq!(series("/admin/{*rest}", 200), 2.0, "{text}");
    assert_eq!(series("/admin/{*rest}", 404), 1.0, "{text}");
    assert_eq!(series("/shops/{id}", 200), 1.0, "{text}");
    assert_eq!(series(UNMATCHED_ROUTE, 404), 1.0, "{text}");
    let names: Vec<String> = sent(&t, &transport)
        .await
        .transactions
        .iter()
        .filter_map(|transaction| transaction.name.clone())
        .collect();
    assert_eq!(
        names
            .iter()
            .filter(|name| *name == "GET /admin/{*rest}")
            .count(),
        3,
        "{names:?}"
    );
}
