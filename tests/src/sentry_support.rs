//! Telemetry instances whose Sentry client sends into the `sentry` crate's test transport,
//! and readers for what it received.

use std::sync::Arc;
use std::time::Duration;

use sentry::protocol::{Envelope, EnvelopeItem, Event, Transaction};
use sentry::test::TestTransport;

/// A built (not installed) telemetry with a Sentry client sending to a test transport.
pub fn telemetry(rate: f32, ignore: &[&str]) -> (kansoku::Telemetry, Arc<TestTransport>) {
    let transport = TestTransport::new();
    let sink = transport.clone();
    let telemetry = kansoku::Telemetry::builder()
        .namespace("sentry_test")
        .sentry_dsn("https://public@sentry.invalid/1")
        .release("shops@1.2.3")
        .environment("test")
        .traces_sample_rate(rate)
        .ignore_errors(ignore.iter().copied())
        .sentry_options(move |options| options.transport(sink.clone()))
        .build()
        .expect("valid configuration");
    (telemetry, transport)
}

/// Everything sent so far: transactions and events.
#[derive(Debug, Default)]
pub struct Sent {
    /// Transactions, in the order they were sent.
    pub transactions: Vec<Transaction<'static>>,
    /// Error and message events.
    pub events: Vec<Event<'static>>,
}

/// Flushes `telemetry` and takes what the transport received.
///
/// # Panics
/// If the flush does not finish in 10 s.
pub async fn sent(telemetry: &kansoku::Telemetry, transport: &TestTransport) -> Sent {
    assert!(
        telemetry.flush(Duration::from_secs(10)).await,
        "flush timed out"
    );
    let mut sent = Sent::default();
    for envelope in transport.fetch_and_clear_envelopes() {
        collect(&envelope, &mut sent);
    }
    sent
}

fn collect(envelope: &Envelope, sent: &mut Sent) {
    for item in envelope.items() {
        match item {
            EnvelopeItem::Transaction(t) => sent.transactions.push((**t).clone()),
            EnvelopeItem::Event(e) => sent.events.push((**e).clone()),
            _ => {}
        }
    }
}
