//! The installed (process-wide) instance with Sentry: the main hub gets the client, so the
//! application's own `sentry::` calls share it; panics outside endpoints are captured too.
//! One install per process, so this file is its own test binary.

use std::time::Duration;

use kansoku::Telemetry;
use sentry::test::TestTransport;

#[kansoku::monitor_api_endpoint(name = "checkout")]
fn checkout(total: u32) -> Result<u32, std::io::Error> {
    kansoku::set_tag("cart.total", total.to_string());
    if total == 0 {
        return Err(std::io::Error::other("empty cart"));
    }
    Ok(total)
}

#[test]
fn the_installed_instance_captures_through_the_main_hub() {
    let transport = TestTransport::new();
    let sink = transport.clone();
    let telemetry = Telemetry::builder()
        .sentry_dsn("https://public@sentry.invalid/1")
        .release("shops@9.9.9")
        .environment("production")
        .sentry_options(move |options| options.transport(sink.clone()))
        .install()
        .unwrap();

    checkout(3).unwrap();
    checkout(0).unwrap_err();
    // the application's own sentry calls use the same client
    sentry::capture_message("direct from the app", sentry::Level::Info);
    // a panic outside any endpoint is captured by kansoku's hook, then reported as usual
    std::thread::spawn(|| panic!("background job failed"))
        .join()
        .unwrap_err();

    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    assert!(runtime.block_on(telemetry.flush(Duration::from_secs(5))));
    let events = transport.fetch_and_clear_events();
    assert_eq!(events.len(), 3, "{events:#?}");
    let error = events
        .iter()
        .find(|e| e.transaction.as_deref() == Some("checkout"))
        .unwrap();
    assert_eq!(
        error.exception.values[0].value.as_deref(),
        Some("empty cart")
    );
    assert_eq!(error.tags.get("cart.total").map(String::as_str), Some("0"));
    assert!(events
        .iter()
        .any(|e| e.message.as_deref() == Some("direct from the app")));
    let panic = events
        .iter()
        .find(|e| e.exception.values.first().is_some_and(|x| x.ty == "panic"))
        .unwrap();
    assert!(panic.exception.values[0]
        .value
        .as_deref()
        .unwrap()
        .contains("background job failed"));
    for event in &events {
        assert_eq!(event.release.as_deref(), Some("shops@9.9.9"));
        assert_eq!(event.environment.as_deref(), Some("production"));
    }
    runtime.block_on(telemetry.shutdown());
}
