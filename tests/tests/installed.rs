//! The process-wide instance (one per process, so this file is its own test binary).

// Counts are exact integers in the text format: comparing them as floats is exact.
#![allow(clippy::float_cmp, clippy::cast_precision_loss)]

use kansoku::Telemetry;
use kansoku_tests::{samples, value};

#[kansoku::track_api_request(method = "DELETE", endpoint = "/reservations/{id}")]
fn cancel_reservation(id: u32) -> Result<u32, std::io::Error> {
    if id == 0 {
        return Err(std::io::Error::other("no such reservation"));
    }
    Ok(id)
}

#[test]
fn the_installed_instance_sees_every_call_outside_local_scopes() {
    let global = Telemetry::builder()
        .namespace("app")
        .install()
        .expect("first install");
    assert_eq!(
        Telemetry::builder()
            .namespace("again")
            .install()
            .unwrap_err(),
        kansoku::Error::AlreadyInstalled
    );

    cancel_reservation(1).unwrap();
    cancel_reservation(0).unwrap_err();
    // from another thread too: the installed instance is process-wide
    std::thread::spawn(|| cancel_reservation(2).unwrap())
        .join()
        .unwrap();

    // a test-local instance takes the calls made inside its scope, and only those
    let local = Telemetry::builder().namespace("app").build().unwrap();
    {
        let _current = local.enter();
        cancel_reservation(3).unwrap();
    }

    let ok = r#"app_api_requests_total{endpoint="/reservations/{id}",method="DELETE",status="ok"}"#;
    let error =
        r#"app_api_requests_total{endpoint="/reservations/{id}",method="DELETE",status="error"}"#;
    let text = global.prometheus_text();
    assert_eq!(value(&text, ok), 2.0);
    assert_eq!(value(&text, error), 1.0);
    let local_text = local.prometheus_text();
    assert_eq!(value(&local_text, ok), 1.0);
    assert!(!samples(&local_text).contains_key(error), "{local_text}");

    futures::executor::block_on(global.shutdown());
    assert_eq!(
        value(&global.prometheus_text(), ok),
        2.0,
        "metrics stay readable after shutdown"
    );
}
