//! The layers on a tower HTTP service served by hyper itself (no axum router: the shape of a
//! tonic or hand-rolled server): the request's body is hyper's `Incoming`, the route is named
//! by the application's `route_names`, and the Sentry transaction continues the caller's W3C
//! `traceparent`.

// Counts in the Prometheus text are integers, printed exactly.
#![allow(clippy::float_cmp)]

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use kansoku::http::{KansokuLayer, RouteRequest};
use kansoku_tests::loopback;
use kansoku_tests::sentry_support::{sent, telemetry};
use sentry::protocol::Context as SentryContext;
use tower_layer::Layer as _;
use tower_service::Service;

/// A service of the application's own: answers every call, reads the request's body whole.
#[derive(Clone)]
struct Echo;

impl Service<http::Request<axum::body::Body>> for Echo {
    type Response = http::Response<axum::body::Body>;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Infallible>> + Send>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: http::Request<axum::body::Body>) -> Self::Future {
        Box::pin(async move {
            let body = axum::body::to_bytes(request.into_body(), 1024)
                .await
                .unwrap_or_default();
            Ok(http::Response::new(axum::body::Body::from(format!(
                "{} bytes",
                body.len()
            ))))
        })
    }
}

/// The application's methods: a fixed set, as a template must be.
fn method_of(request: &RouteRequest<'_>) -> Option<&'static str> {
    match request.uri.path() {
        "/shops.Shops/Get" => Some("/shops.Shops/Get"),
        "/shops.Shops/List" => Some("/shops.Shops/List"),
        _ => None,
    }
}

const TRACE: &str = "0af7651916cd43dd8448eb211c80319c";
const PARENT: &str = "b7ad6b7169203331";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_layers_wrap_a_service_served_by_hyper_named_by_the_applications_route_names() {
    let (t, transport) = telemetry(1.0, &[]);
    let service = KansokuLayer::new(&t).route_names(method_of).layer(Echo);
    let server = loopback::serve(
        "tower-app",
        false,
        move |request: http::Request<hyper::body::Incoming>| {
            let mut service = service.clone();
            async move {
                futures::future::poll_fn(|cx| {
                    Service::<http::Request<hyper::body::Incoming>>::poll_ready(&mut service, cx)
                })
                .await
                .expect("ready");
                Ok::<_, hyper::Error>(service.call(request).await.expect("infallible"))
            }
        },
    );
    let client = kansoku_tests::http_client();
    let url = |path: &str| format!("http://{}{path}", server.addr);
    let answer = client
        .post(url("/shops.Shops/Get"))
        .header("traceparent", format!("00-{TRACE}-{PARENT}-01"))
        .body("hello")
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 200);
    assert_eq!(
        answer.text().await.unwrap(),
        "5 bytes",
        "the body reached the service"
    );
    let unknown = client.post(url("/scanner/probe")).send().await.unwrap();
    assert_eq!(unknown.status(), 200);

    let text = t.prometheus_text();
    let samples = kansoku_tests::samples(&text);
    assert_eq!(
        samples[r#"sentry_test_http_requests_total{method="POST",route="/shops.Shops/Get",status_code="200"}"#],
        1.0,
        "{text}"
    );
    assert_eq!(
        samples[r#"sentry_test_http_requests_total{method="POST",route="__unmatched__",status_code="200"}"#],
        1.0,
        "a path the application did not name: {text}"
    );

    let sent = sent(&t, &transport).await;
    let get = sent
        .transactions
        .iter()
        .find(|tx| tx.name.as_deref() == Some("POST /shops.Shops/Get"))
        .expect("a transaction named after the method");
    let Some(SentryContext::Trace(trace)) = get.contexts.get("trace") else {
        panic!("a trace context");
    };
    assert_eq!(
        trace.trace_id.to_string(),
        TRACE,
        "the caller's trace continued"
    );
    assert_eq!(
        trace.parent_span_id.map(|id| id.to_string()).as_deref(),
        Some(PARENT)
    );
    // the server's own runtime, stopped from this async test without blocking it
    server.runtime.shutdown_background();
}
