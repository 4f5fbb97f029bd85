//! Against a real Sentry-compatible server (Bugsink, started on a loopback port): an endpoint's
//! error and a captured message arrive with their tags, contexts, user, release and
//! environment, read back through the server's API.

use std::time::Duration;

use kansoku::{Level, Telemetry, User};
use kansoku_tests::bugsink::Bugsink;
use serde_json::{json, Value};

#[derive(Debug)]
struct ReservationError(&'static str);
impl std::fmt::Display for ReservationError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "reservation failed: {}", self.0)
    }
}
impl std::error::Error for ReservationError {}

#[kansoku::monitor_api_endpoint]
#[kansoku::track_api_request(method = "POST", endpoint = "/reservations")]
async fn create_reservation(shop_id: u32) -> Result<u64, ReservationError> {
    kansoku::set_tag("shop.id", shop_id.to_string());
    kansoku::set_context("reservation", json!({"shop_id": shop_id, "source": "web"}));
    kansoku::set_user(Some(User {
        id: Some("user-42".into()),
        username: Some("hanako".into()),
        ..User::default()
    }));
    tokio::task::yield_now().await;
    Err(ReservationError("seat already taken"))
}

fn telemetry(bugsink: &Bugsink) -> Telemetry {
    Telemetry::builder()
        .namespace("bugsink")
        .sentry_dsn(bugsink.dsn())
        .release("shops-api@2.0.1")
        .environment("staging")
        .traces_sample_rate(1.0)
        .build()
        .expect("the DSN Bugsink gives parses")
}

fn tag<'a>(event: &'a Value, key: &str) -> Option<&'a str> {
    match &event["tags"] {
        Value::Object(map) => map.get(key).and_then(Value::as_str),
        // the SDK may send tags as [[key, value], …]
        Value::Array(pairs) => pairs
            .iter()
            .find(|p| p[0] == key)
            .and_then(|p| p[1].as_str()),
        _ => None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_endpoint_error_arrives_with_its_scope_release_and_environment() {
    let bugsink = Bugsink::start();
    let t = telemetry(&bugsink);
    t.instrument(create_reservation(7)).await.unwrap_err();
    assert!(
        t.flush(Duration::from_secs(10)).await,
        "the event was not sent in time"
    );

    let events = bugsink.events();
    assert_eq!(events.len(), 1, "{events:#?}");
    let event = &events[0];
    let exception = &event["exception"]["values"][0];
    assert_eq!(exception["value"], "reservation failed: seat already taken");
    assert_eq!(tag(event, "shop.id"), Some("7"), "{event:#}");
    assert_eq!(
        tag(event, "function"),
        Some("sentry_bugsink::create_reservation")
    );
    assert_eq!(event["transaction"], "/reservations");
    assert_eq!(event["contexts"]["reservation"]["shop_id"], 7, "{event:#}");
    assert_eq!(event["contexts"]["reservation"]["source"], "web");
    assert_eq!(event["user"]["id"], "user-42");
    assert_eq!(event["user"]["username"], "hanako");
    assert_eq!(event["release"], "shops-api@2.0.1");
    assert_eq!(event["environment"], "staging");
    assert!(
        event["contexts"]["trace"]["trace_id"].is_string(),
        "linked to its transaction: {event:#}"
    );
}

#[tokio::test]
async fn a_captured_message_arrives_with_its_level_extras_and_tags() {
    let bugsink = Bugsink::start();
    let t = telemetry(&bugsink);
    let id = t
        .instrument(async {
            kansoku::set_tag("queue", "reservations");
            kansoku::capture_message(
                "reservation queue is long",
                Level::Warning,
                &[("queue_length", 120.into()), ("threshold", 100.into())],
            )
        })
        .await
        .expect("a Sentry backend is configured");
    assert!(t.flush(Duration::from_secs(10)).await);

    let event = bugsink.wait_for_event(&id.to_string(), Duration::from_secs(10));
    assert_eq!(event["message"], "reservation queue is long", "{event:#}");
    assert_eq!(event["level"], "warning");
    assert_eq!(event["extra"]["queue_length"], 120);
    assert_eq!(event["extra"]["threshold"], 100);
    assert_eq!(tag(&event, "queue"), Some("reservations"));
    assert_eq!(event["release"], "shops-api@2.0.1");
    assert_eq!(event["environment"], "staging");
}
