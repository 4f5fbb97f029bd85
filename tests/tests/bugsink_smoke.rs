//! The Bugsink harness end to end, without the `sentry` crate: a hand-made envelope posted the
//! way an SDK posts it, read back through Bugsink's API.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use kansoku_tests::bugsink::Bugsink;
use serde_json::{json, Value};

/// Posts one event in an envelope (`application/x-sentry-envelope`) as an SDK does.
fn send_event(bugsink: &Bugsink, event: &Value) {
    let header = json!({ "event_id": event["event_id"], "dsn": bugsink.dsn() });
    let envelope = format!("{header}\n{}\n{event}\n", json!({ "type": "event" }));
    let auth = format!(
        "Sentry sentry_version=7, sentry_key={}, sentry_client=kansoku-test/0.1",
        bugsink.sentry_key()
    );
    let mut response = ureq::post(&bugsink.envelope_url())
        .header("X-Sentry-Auth", &auth)
        .header("Content-Type", "application/x-sentry-envelope")
        .send(envelope.as_bytes())
        .unwrap_or_else(|e| panic!("POST {}: {e}\n{}", bugsink.envelope_url(), bugsink.log()));
    let body = response.body_mut().read_to_string().unwrap();
    assert_eq!(response.status(), 200, "{body}");
    // the answer names the event, 32 hex digits
    let answer: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(answer["id"], event["event_id"]);
}

fn now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs_f64()
}

fn message_event(event_id: &str, message: &str) -> Value {
    json!({
        "event_id": event_id,
        "timestamp": now(),
        "platform": "native",
        "level": "error",
        "logger": "kansoku-test",
        "message": message,
        "tags": { "shop.filter": "active" },
        "user": { "id": "42" },
        "contexts": { "shop": { "id": 7, "name": "umeda" } },
        "release": "kansoku-tests@0.1.0",
        "environment": "test",
    })
}

#[test]
fn an_event_posted_in_an_envelope_is_stored_with_its_tags_user_release_and_environment() {
    let started = Instant::now();
    let bugsink = Bugsink::start();
    eprintln!("Bugsink::start took {:?}", started.elapsed());
    assert!(bugsink.dsn().starts_with("http://"));
    assert!(bugsink.dsn().ends_with(&format!(
        "@{}/{}",
        &bugsink.base_url()[7..],
        bugsink.project_id()
    )));

    let event_id = "5f0c1e2d3b4a49c8a7e6d5c4b3a29180";
    assert_eq!(bugsink.event(event_id), None, "nothing is stored yet");
    send_event(&bugsink, &message_event(event_id, "shop list failed"));

    let event = bugsink.wait_for_event(event_id, Duration::from_secs(10));
    assert_eq!(event["event_id"], event_id);
    assert_eq!(event["message"], "shop list failed");
    assert_eq!(event["level"], "error");
    assert_eq!(event["tags"], json!({ "shop.filter": "active" }));
    assert_eq!(event["user"], json!({ "id": "42" }));
    assert_eq!(event["contexts"]["shop"]["name"], "umeda");
    assert_eq!(event["release"], "kansoku-tests@0.1.0");
    assert_eq!(event["environment"], "test");

    // the dashed form of the id finds it too; Bugsink's record spells it dashed
    let record = bugsink
        .event_record("5f0c1e2d-3b4a-49c8-a7e6-d5c4b3a29180")
        .expect("found by its dashed id");
    assert_eq!(record["event_id"], "5f0c1e2d-3b4a-49c8-a7e6-d5c4b3a29180");
    assert_eq!(record["data"], event);

    let events = bugsink.events();
    assert_eq!(events, vec![event]);
    let issues = bugsink.issues();
    assert_eq!(issues.len(), 1, "{issues:#?}");
    assert_eq!(issues[0]["calculated_value"], "shop list failed");
}

#[test]
fn instances_started_in_parallel_are_separate() {
    let started = Instant::now();
    let [a, b] = std::thread::scope(|s| {
        let a = s.spawn(Bugsink::start);
        let b = s.spawn(Bugsink::start);
        [a.join().unwrap(), b.join().unwrap()]
    });
    eprintln!(
        "two Bugsink::start in parallel took {:?}",
        started.elapsed()
    );
    assert_ne!(a.base_url(), b.base_url());

    let (first, second) = (
        "00000000000040008000000000000001",
        "00000000000040008000000000000002",
    );
    send_event(&a, &message_event(first, "first"));
    send_event(&a, &message_event(second, "second"));
    a.wait_for_event(first, Duration::from_secs(10));
    a.wait_for_event(second, Duration::from_secs(10));
    let messages: Vec<Value> = a.events().iter().map(|e| e["message"].clone()).collect();
    assert_eq!(messages, [json!("first"), json!("second")]);

    assert_eq!(b.event(first), None);
    assert_eq!(b.events(), Vec::<Value>::new());
}
