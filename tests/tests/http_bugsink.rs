//! Scrubbing as a user checks it: the event of a failed request, as it arrives in a real
//! Sentry-compatible server (Bugsink, started on a loopback port), carries the request without
//! its secrets: no `Authorization`, `Cookie` or `X-Api-Key` value, no sensitive query
//! parameter, no password or card number from the JSON body.

use std::time::Duration;

use axum::body::Bytes;
use axum::http::StatusCode;
use axum::routing::post;
use axum::Router;
use kansoku::http::KansokuLayer;
use kansoku::Telemetry;
use kansoku_tests::bugsink::Bugsink;
use kansoku_tests::http_support::Server;

#[derive(Debug)]
struct SeatTaken;
impl std::fmt::Display for SeatTaken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("seat already taken")
    }
}
impl std::error::Error for SeatTaken {}
impl axum::response::IntoResponse for SeatTaken {
    fn into_response(self) -> axum::response::Response {
        (StatusCode::CONFLICT, "seat already taken").into_response()
    }
}

#[kansoku::monitor_api_endpoint]
async fn reserve(body: Bytes) -> Result<String, SeatTaken> {
    assert!(body.len() > 10, "the handler gets the body");
    Err(SeatTaken)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_event_in_sentry_carries_the_request_without_its_secrets() {
    let bugsink = Bugsink::start();
    let telemetry = Telemetry::builder()
        .namespace("http_bugsink")
        .sentry_dsn(bugsink.dsn())
        .traces_sample_rate(1.0)
        .build()
        .expect("the DSN Bugsink gives parses");
    let app = Router::new()
        .route("/reservations", post(reserve))
        .layer(KansokuLayer::new(&telemetry).capture_request_body(true));
    let server = Server::start(app).await;
    let response = kansoku_tests::http_client()
        .post(server.url(
            "/reservations?api_key=query-secret&shop=7&PHPSESSID=session-secret&_xsrf=xsrf-secret",
        ))
        .header("authorization", "Bearer bearer-secret")
        .header("cookie", "session=cookie-secret")
        .header("x-api-key", "header-secret")
        .header("x-forwarded-for", "203.0.113.7")
        .header("x-real-ip", "203.0.113.8")
        .header("cf-connecting-ip", "203.0.113.9")
        .header("user-agent", "shops-test/1.0")
        .header("content-type", "application/json")
        .body(r#"{"shop_id":7,"password":"hunter2","payment":{"card_number":"4242424242424242","cvv":"123"},"note":"window seat"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 409);
    assert!(
        telemetry.flush(Duration::from_secs(10)).await,
        "the event was not sent in time"
    );

    let events = bugsink.events();
    assert_eq!(events.len(), 1, "{events:#?}");
    let event = &events[0];
    let stored = event.to_string();
    for secret in [
        "bearer-secret",
        "cookie-secret",
        "header-secret",
        "query-secret",
        "session-secret",
        "xsrf-secret",
        "203.0.113.",
        "hunter2",
        "4242424242424242",
    ] {
        assert!(
            !stored.contains(secret),
            "{secret} reached Sentry: {event:#}"
        );
    }
    assert_eq!(event["transaction"], "POST /reservations");
    let request = &event["request"];
    assert_eq!(request["method"], "POST", "{event:#}");
    assert_eq!(
        request["query_string"],
        "api_key=[Filtered]&shop=7&PHPSESSID=[Filtered]&_xsrf=[Filtered]"
    );
    let header = |name: &str| -> Option<String> {
        match &request["headers"] {
            serde_json::Value::Object(map) => map
                .iter()
                .find(|(key, _)| key.eq_ignore_ascii_case(name))
                .and_then(|(_, value)| value.as_str().map(str::to_owned)),
            // some servers store headers as [[name, value], …]
            serde_json::Value::Array(pairs) => pairs
                .iter()
                .find(|pair| {
                    pair[0]
                        .as_str()
                        .is_some_and(|k| k.eq_ignore_ascii_case(name))
                })
                .and_then(|pair| pair[1].as_str().map(str::to_owned)),
            _ => None,
        }
    };
    assert_eq!(
        header("authorization").as_deref(),
        Some("[Filtered]"),
        "{event:#}"
    );
    assert_eq!(header("cookie").as_deref(), Some("[Filtered]"));
    assert_eq!(header("x-api-key").as_deref(), Some("[Filtered]"));
    assert_eq!(header("user-agent").as_deref(), Some("shops-test/1.0"));
    let data = request["data"]
        .as_str()
        .unwrap_or_else(|| panic!("no body: {event:#}"));
    assert!(data.contains(r#""password":"[Filtered]""#), "{data}");
    assert!(
        data.contains(r#""card_number":"[Filtered]""#) && data.contains(r#""cvv":"[Filtered]""#),
        "{data}"
    );
    assert!(data.contains("window seat"), "{data}");
}
