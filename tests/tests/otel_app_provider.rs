//! An application that exports its own OpenTelemetry metrics keeps them after kansoku is
//! installed: kansoku never replaces the global meter provider the application set.
//!
//! The application's exporter here is opentelemetry-prometheus on its own registry (what a
//! service serving its own `/metrics` has); its text is what the application would serve.

// Counts are exact integers in the text format: comparing them as floats is exact.
#![allow(clippy::float_cmp)]

use kansoku::Telemetry;
use opentelemetry::metrics::Meter;

#[kansoku::track_api_request(method = "GET", endpoint = "/orders")]
fn list_orders(shop: u32) -> Result<u32, std::io::Error> {
    if shop == 0 {
        return Err(std::io::Error::other("no such shop"));
    }
    Ok(3)
}

fn count(meter: &Meter, name: &'static str) {
    meter.u64_counter(name).build().add(1, &[]);
}

fn text_of(registry: &prometheus::Registry) -> String {
    let mut text = Vec::new();
    prometheus::Encoder::encode(
        &prometheus::TextEncoder::new(),
        &registry.gather(),
        &mut text,
    )
    .unwrap();
    String::from_utf8(text).unwrap()
}

#[test]
fn the_applications_meter_provider_keeps_its_instruments_after_install() {
    // the application's own set-up, before kansoku
    let registry = prometheus::Registry::new();
    let reader = opentelemetry_prometheus::exporter()
        .with_registry(registry.clone())
        .without_target_info()
        .scope_info_enabled(false)
        .build()
        .unwrap();
    let provider = opentelemetry_sdk::metrics::SdkMeterProvider::builder()
        .with_reader(reader)
        .build();
    opentelemetry::global::set_meter_provider(provider.clone());
    count(
        &opentelemetry::global::meter("app"),
        "app_orders_before_install",
    );

    // kansoku pushes its own families over OTLP too (to the receiver standing in for a
    // collector), beside the application's exporter
    let collector = kansoku_tests::otlp_receiver::Receiver::start();
    let telemetry = Telemetry::builder()
        .namespace("shops")
        .otlp_endpoint(collector.endpoint())
        .otlp_export_interval(std::time::Duration::from_hours(1))
        .install()
        .unwrap();

    // instruments the application makes after install() still go to its own exporter
    count(
        &opentelemetry::global::meter("app"),
        "app_orders_after_install",
    );
    count(&telemetry.meter("app"), "through_kansoku");
    list_orders(1).unwrap();

    let app = text_of(&registry);
    assert!(app.contains("app_orders_before_install_total 1"), "{app}");
    assert!(app.contains("app_orders_after_install_total 1"), "{app}");
    assert!(!app.contains("through_kansoku"), "{app}");
    assert!(!app.contains("shops_api_requests_total"), "{app}");

    let ours = telemetry.prometheus_text();
    assert!(!ours.contains("app_orders"), "{ours}");
    assert!(ours.contains("shops_through_kansoku_total 1"), "{ours}");
    let requests = r#"shops_api_requests_total{endpoint="/orders",method="GET",status="ok"}"#;
    assert_eq!(kansoku_tests::value(&ours, requests), 1.0, "{ours}");
    // what kansoku pushes is its own, none of the application's
    assert!(futures::executor::block_on(
        telemetry.flush(std::time::Duration::from_secs(5))
    ));
    let pushed = collector.accepted().pop().expect("a push").samples();
    assert_eq!(pushed.get(requests), Some(&1.0), "{pushed:?}");
    assert!(
        pushed.keys().all(|series| !series.contains("app_orders")),
        "{pushed:?}"
    );
    futures::executor::block_on(telemetry.shutdown());
    // kansoku's shutdown leaves the application's provider working
    count(
        &opentelemetry::global::meter("app"),
        "app_orders_after_shutdown",
    );
    assert!(text_of(&registry).contains("app_orders_after_shutdown_total 1"));
}
