//! `kansoku::alert` against a Slack-webhook listener run by the test (the stand-in for Slack):
//! the firing message (text and blocks), the cooldown, the recovery message, the
//! `ns_alert_firing` gauge and `Telemetry::alerts`; a webhook that answers 500 and then hangs
//! (bounded tries, the application unaffected); a value source that fails or panics, reported
//! once.

// Gauge values and counts are exact small integers in the text format: comparing them is exact.
#![allow(clippy::float_cmp)]

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use kansoku::alert::{Alert, Slack};
use kansoku::Telemetry;
use kansoku_tests::listeners::{Answer, WebhookListener};
use kansoku_tests::sentry_support;

/// Bounds every wait: a generous limit for something that happens in milliseconds, so a
/// failure means it did not happen, not that the machine was slow.
const LIMIT: Duration = Duration::from_secs(20);

/// A value the test sets and the alert reads, counting the reads.
#[derive(Default)]
struct Queue {
    pending: AtomicU64,
    reads: AtomicUsize,
}

impl Queue {
    fn set(&self, n: u64) {
        self.pending.store(n, Ordering::SeqCst);
    }

    fn reads(&self) -> usize {
        self.reads.load(Ordering::SeqCst)
    }

    /// Waits for `n` more reads: that many checks ran after this point.
    async fn checks(&self, n: usize) {
        let target = self.reads() + n;
        let deadline = tokio::time::Instant::now() + LIMIT;
        while self.reads() < target {
            assert!(
                tokio::time::Instant::now() < deadline,
                "the alert stopped checking"
            );
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }
}

fn queue_alert(queue: &Arc<Queue>, cooldown: Duration) -> Alert {
    let queue = queue.clone();
    Alert::new("reservation_queue")
        .value(move || {
            let queue = queue.clone();
            async move {
                queue.reads.fetch_add(1, Ordering::SeqCst);
                #[allow(clippy::cast_precision_loss)]
                Ok::<_, std::io::Error>(queue.pending.load(Ordering::SeqCst) as f64)
            }
        })
        .above(100.0)
        .every(Duration::from_millis(20))
        .cooldown(cooldown)
        .summary("Reservations are piling up")
}

fn text(body: &serde_json::Value) -> &str {
    body["text"].as_str().unwrap_or_default()
}

fn firing_gauge(telemetry: &Telemetry) -> f64 {
    kansoku_tests::value(
        &telemetry.prometheus_text(),
        "alerts_alert_firing{alert=\"reservation_queue\"}",
    )
}

#[tokio::test]
async fn fires_once_per_cooldown_and_announces_the_recovery() {
    let telemetry = Telemetry::builder()
        .namespace("alerts")
        .service_name("shops-api")
        .environment("test")
        .build()
        .unwrap();
    let slack = WebhookListener::start(&[], Answer::Ok).await;
    let queue = Arc::new(Queue::default());
    queue.set(3);
    let handle = queue_alert(&queue, Duration::from_hours(1))
        .slack(Slack::new(slack.url()))
        .spawn(&telemetry)
        .unwrap();
    queue.checks(5).await;
    assert_eq!(slack.tries(), 0, "nothing to say while the queue is short");
    assert_eq!(firing_gauge(&telemetry), 0.0);
    assert!(!telemetry.alerts()[0].firing);

    queue.set(120);
    slack
        .wait_for("the firing message", LIMIT, |b| b.len() == 1)
        .await;
    let firing = &slack.bodies()[0];
    assert!(
        text(firing).starts_with("[FIRING] reservation_queue: value 120 (alert when > 100)"),
        "{firing}"
    );
    assert!(
        text(firing).contains("Reservations are piling up")
            && text(firing).contains("shops-api · test"),
        "{firing}"
    );
    let blocks = firing["blocks"].as_array().expect("blocks");
    assert_eq!(blocks[0]["type"], "header");
    assert!(blocks[0]["text"]["text"]
        .as_str()
        .unwrap()
        .contains("reservation_queue firing"));
    assert_eq!(blocks[1]["fields"][0]["text"], "*Value*\n120");
    assert_eq!(blocks[1]["fields"][1]["text"], "*Alert when*\n> 100");
    assert_eq!(firing_gauge(&telemetry), 1.0);
    let status = &telemetry.alerts()[0];
    assert!(
        status.firing && status.value == Some(120.0) && status.firing_since.is_some(),
        "{status:?}"
    );
    assert_eq!(status.condition, "> 100");

    // still stuck: fifty more checks, no second message within the cooldown
    queue.checks(50).await;
    assert_eq!(slack.tries(), 1, "{:#?}", slack.bodies());

    queue.set(40);
    slack
        .wait_for("the recovery message", LIMIT, |b| b.len() == 2)
        .await;
    let resolved = &slack.bodies()[1];
    assert!(
        text(resolved).starts_with("[RESOLVED] reservation_queue: value 40"),
        "{resolved}"
    );
    assert_eq!(firing_gauge(&telemetry), 0.0);
    assert!(!telemetry.alerts()[0].firing);

    // it comes back within the cooldown of the last message: counted, not announced
    queue.set(150);
    queue.checks(20).await;
    assert_eq!(firing_gauge(&telemetry), 1.0);
    queue.set(10);
    queue.checks(20).await;
    assert_eq!(
        slack.tries(),
        2,
        "a flapping queue sent {:#?}",
        slack.bodies()
    );
    assert_eq!(firing_gauge(&telemetry), 0.0);

    queue.set(150);
    queue.checks(5).await;
    assert_eq!(firing_gauge(&telemetry), 1.0);
    handle.stop();
    assert!(telemetry.alerts().is_empty());
    assert_eq!(
        firing_gauge(&telemetry),
        0.0,
        "a stopped alert does not fire"
    );
}

#[tokio::test]
async fn a_stuck_queue_gets_a_reminder_per_cooldown() {
    let telemetry = Telemetry::builder().namespace("alerts").build().unwrap();
    let slack = WebhookListener::start(&[], Answer::Ok).await;
    let queue = Arc::new(Queue::default());
    queue.set(500);
    let handle = queue_alert(&queue, Duration::from_millis(300))
        .slack(Slack::new(slack.url()))
        .spawn(&telemetry)
        .unwrap();
    slack.wait_for("a reminder", LIMIT, |b| b.len() >= 2).await;
    let bodies = slack.bodies();
    assert!(text(&bodies[0]).starts_with("[FIRING]"));
    assert!(
        text(&bodies[1]).starts_with("[STILL FIRING]"),
        "{}",
        bodies[1]
    );
    // at most one per 300 ms cooldown against one check per 20 ms: far fewer than the checks
    assert!(
        bodies.len() * 5 < queue.reads(),
        "{} messages for {} checks",
        bodies.len(),
        queue.reads()
    );
    handle.stop();
}

#[kansoku::track_api_request(method = "GET", endpoint = "/shops")]
async fn get_shops() -> Result<u32, std::io::Error> {
    tokio::task::yield_now().await;
    Ok(7)
}

// One thread: if a hanging webhook blocked it, nothing else could run.
#[tokio::test(flavor = "current_thread")]
async fn a_webhook_that_fails_then_hangs_is_tried_a_bounded_number_of_times() {
    let telemetry = Telemetry::builder().namespace("alerts").build().unwrap();
    let slack = WebhookListener::start(&[Answer::Status(500)], Answer::Hang).await;
    let queue = Arc::new(Queue::default());
    queue.set(1000);
    let _handle = queue_alert(&queue, Duration::from_hours(1))
        .slack(
            Slack::new(slack.url())
                .attempts(3)
                .timeout(Duration::from_millis(200))
                .backoff(Duration::from_millis(50)),
        )
        .spawn(&telemetry)
        .unwrap();
    slack.wait_for("three tries", LIMIT, |b| b.len() == 3).await;
    // while the third try hangs, the application serves requests and the alert keeps checking
    let served = telemetry
        .instrument(async {
            let mut served = 0;
            for _ in 0..200 {
                served += get_shops().await.unwrap();
            }
            served
        })
        .await;
    assert_eq!(served, 1400);
    queue.set(0);
    queue.checks(3).await;
    assert!(
        !telemetry.alerts()[0].firing,
        "the checks went on while the webhook hung"
    );
    assert_eq!(firing_gauge(&telemetry), 0.0);
    // the recovery notice gets its own three tries (they hang too), then nothing more: long
    // past the last try's timeout and any backoff, no seventh try
    slack
        .wait_for("three tries of the recovery", LIMIT, |b| b.len() == 6)
        .await;
    queue.checks(60).await;
    let bodies = slack.bodies();
    assert_eq!(bodies.len(), 6, "{bodies:#?}");
    assert!(bodies[..3].iter().all(|b| text(b).starts_with("[FIRING]")));
    assert!(bodies[3..]
        .iter()
        .all(|b| text(b).starts_with("[RESOLVED]")));
    let text = kansoku_tests::value(
        &telemetry.prometheus_text(),
        "alerts_api_requests_total{endpoint=\"/shops\",method=\"GET\",status=\"ok\"}",
    );
    assert_eq!(text, 200.0);
}

#[tokio::test]
async fn a_failing_or_panicking_value_source_is_reported_once() {
    let (telemetry, transport) = sentry_support::telemetry(0.0, &[]);
    let calls = Arc::new(AtomicUsize::new(0));
    let counter = calls.clone();
    let handle = Alert::new("flaky_source")
        .value(move || {
            let n = counter.fetch_add(1, Ordering::SeqCst);
            async move {
                match n {
                    0..20 => Err(std::io::Error::other("database is gone")),
                    20..25 | 45.. => Ok(1.0),
                    _ => panic!("the source panicked"),
                }
            }
        })
        .above(100.0)
        .every(Duration::from_millis(10))
        .sentry(kansoku::Level::Warning)
        .spawn(&telemetry)
        .unwrap();
    let deadline = tokio::time::Instant::now() + LIMIT;
    while calls.load(Ordering::SeqCst) < 50 {
        assert!(tokio::time::Instant::now() < deadline, "the checks stopped");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    // 20 errors in a row: one report; it works; 20 panics in a row: one report; it works
    assert_eq!(telemetry.alerts()[0].source_error, None);
    let sent = sentry_support::sent(&telemetry, &transport).await;
    let messages: Vec<String> = sent
        .events
        .iter()
        .filter_map(|e| {
            e.message
                .clone()
                .or_else(|| e.logentry.as_ref().map(|l| l.message.clone()))
        })
        .collect();
    assert_eq!(
        messages,
        [
            "kansoku alert flaky_source: the value source failed: database is gone",
            "kansoku alert flaky_source: the value source panicked"
        ],
        "{:#?}",
        sent.events
    );
    handle.stop();
}

#[tokio::test]
async fn firing_goes_to_sentry_with_value_and_threshold() {
    let (telemetry, transport) = sentry_support::telemetry(0.0, &[]);
    let queue = Arc::new(Queue::default());
    queue.set(130);
    let handle = queue_alert(&queue, Duration::from_hours(1))
        .sentry(kansoku::Level::Warning)
        .spawn(&telemetry)
        .unwrap();
    let deadline = tokio::time::Instant::now() + LIMIT;
    let event = loop {
        let sent = sentry_support::sent(&telemetry, &transport).await;
        if let Some(event) = sent.events.into_iter().next() {
            break event;
        }
        assert!(tokio::time::Instant::now() < deadline, "no Sentry message");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert_eq!(event.level, sentry::Level::Warning);
    let message = event
        .message
        .clone()
        .or_else(|| event.logentry.as_ref().map(|l| l.message.clone()));
    assert!(message
        .unwrap_or_default()
        .starts_with("[FIRING] reservation_queue: value 130"));
    assert_eq!(event.extra.get("value"), Some(&serde_json::json!(130.0)));
    assert_eq!(
        event.extra.get("threshold"),
        Some(&serde_json::json!(100.0))
    );
    assert_eq!(
        event.extra.get("alert"),
        Some(&serde_json::json!("reservation_queue"))
    );
    handle.stop();
}

#[tokio::test]
async fn bad_alerts_are_refused_with_a_clear_error() {
    let telemetry = Telemetry::builder().build().unwrap();
    let error = Alert::new("no source")
        .above(1.0)
        .spawn(&telemetry)
        .unwrap_err();
    assert!(error.to_string().contains("the name must be"), "{error}");
    let error = Alert::new("queue")
        .above(1.0)
        .spawn(&telemetry)
        .unwrap_err();
    assert!(error.to_string().contains("no value source"), "{error}");
    let error = Alert::new("queue")
        .value(|| async { Ok::<_, std::io::Error>(1.0) })
        .spawn(&telemetry)
        .unwrap_err();
    assert!(error.to_string().contains("no threshold"), "{error}");
    let error = Alert::new("queue")
        .value(|| async { Ok::<_, std::io::Error>(1.0) })
        .above(1.0)
        .slack(Slack::new("not a url"))
        .spawn(&telemetry)
        .unwrap_err();
    assert!(error.to_string().contains("not an http(s) URL"), "{error}");
    assert!(
        !error.to_string().contains("not a url"),
        "the URL is a secret: {error}"
    );
    // outside a runtime
    let error = std::thread::spawn(move || {
        Alert::new("queue")
            .value(|| async { Ok::<_, std::io::Error>(1.0) })
            .above(1.0)
            .spawn(&telemetry)
            .unwrap_err()
    })
    .join()
    .unwrap();
    assert!(error.to_string().contains("no tokio runtime"), "{error}");
}

#[tokio::test]
async fn a_hanging_value_source_is_cut_off_at_the_interval_and_reported_once() {
    let (telemetry, transport) = sentry_support::telemetry(0.0, &[]);
    let calls = Arc::new(AtomicUsize::new(0));
    let counter = calls.clone();
    let handle = Alert::new("hanging_source")
        .value(move || {
            let n = counter.fetch_add(1, Ordering::SeqCst);
            async move {
                if n < 10 {
                    std::future::pending::<()>().await;
                }
                Ok::<_, std::io::Error>(500.0)
            }
        })
        .above(100.0)
        .every(Duration::from_millis(20))
        .sentry(kansoku::Level::Warning)
        .spawn(&telemetry)
        .unwrap();
    // each hanging read is abandoned at the interval, so the checks go on and then succeed
    let deadline = tokio::time::Instant::now() + LIMIT;
    while !telemetry.alerts()[0].firing {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the checks stopped at a hanging source"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(calls.load(Ordering::SeqCst) > 10);
    let sent = sentry_support::sent(&telemetry, &transport).await;
    let reports: Vec<String> = sent
        .events
        .iter()
        .filter_map(|e| e.message.clone())
        .filter(|m| m.starts_with("kansoku alert hanging_source:"))
        .collect();
    assert_eq!(
        reports,
        ["kansoku alert hanging_source: the value source did not answer within 20ms"],
        "{:#?}",
        sent.events
    );
    handle.stop();
}

#[tokio::test]
async fn the_webhook_url_comes_from_the_environment() {
    // SAFETY-free: edition 2021, and no other test reads or writes this variable
    std::env::set_var(kansoku::alert::SLACK_WEBHOOK_ENV, "   ");
    assert!(Slack::from_env().is_none(), "a blank value counts as unset");
    let listener = WebhookListener::start(&[], Answer::Ok).await;
    std::env::set_var(kansoku::alert::SLACK_WEBHOOK_ENV, listener.url());
    let slack = Slack::from_env().expect("the variable is set");
    std::env::remove_var(kansoku::alert::SLACK_WEBHOOK_ENV);
    assert!(Slack::from_env().is_none());
    // the URL is a secret: its Debug form shows the host only
    let shown = format!("{slack:?}");
    assert!(
        shown.contains("127.0.0.1") && !shown.contains("secret"),
        "{shown}"
    );
    let telemetry = Telemetry::builder().namespace("alerts").build().unwrap();
    let queue = Arc::new(Queue::default());
    queue.set(101);
    let handle = queue_alert(&queue, Duration::from_hours(1))
        .slack(slack)
        .spawn(&telemetry)
        .unwrap();
    listener
        .wait_for("the firing message", LIMIT, |b| b.len() == 1)
        .await;
    handle.stop();
}
