//! A short-lived application for the exit tests (`tests/sentry_exit.rs`): a burst of endpoint
//! calls at sample rate 1.0, then one way of ending, then `std::process::exit(0)` at once, so
//! that nothing runs after it (no destructor, no guard).
//!
//! `exit_app MODE DSN CALLS`:
//!
//! - `flush`: kansoku's own client; `telemetry.flush(90 s)`, then exit.
//! - `client-flush`: the application's `sentry::init` with kansoku's transport; the client's
//!   own `flush(90 s)` (not kansoku's), then exit.
//! - `client-close`: the same client, closed by dropping the `sentry::init` guard, then exit.
//!
//! It prints `flushed BOOL` (the flush's answer) or `closed`, and every
//! `exit_sentry_events_dropped_total` series of the Prometheus text, one a line.

use std::time::Duration;

use kansoku::Telemetry;
use kansoku_tests::exit_calls::burst;

const WAIT: Duration = Duration::from_secs(90);

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let [_, mode, dsn, calls] = &args[..] else {
        panic!("usage: exit_app flush|client-flush|client-close DSN CALLS");
    };
    let calls: u32 = calls.parse().expect("CALLS is a number");
    let builder = Telemetry::builder().namespace("exit");
    let (telemetry, guard) = match mode.as_str() {
        "flush" => (
            builder
                .sentry_dsn(dsn.as_str())
                .traces_sample_rate(1.0)
                .sentry_shutdown_timeout(WAIT)
                .install()
                .expect("kansoku starts"),
            None,
        ),
        "client-flush" | "client-close" => {
            let guard = sentry::init(
                sentry::ClientOptions::new()
                    .dsn(dsn.as_str())
                    .traces_sample_rate(1.0)
                    .shutdown_timeout(WAIT)
                    .transport(kansoku::sentry_transport()),
            );
            (builder.install().expect("kansoku starts"), Some(guard))
        }
        other => panic!("unknown mode {other:?}"),
    };
    burst(&telemetry, calls).await;
    match (mode.as_str(), guard) {
        ("flush", _) => println!("flushed {}", telemetry.flush(WAIT).await),
        ("client-flush", Some(guard)) => {
            let client = sentry::Hub::main()
                .client()
                .expect("the application's client");
            println!("flushed {}", client.flush(Some(WAIT)));
            // never closed: the process ends with it open
            std::mem::forget(guard);
        }
        (_, guard) => {
            // the guard closes the client, as at the end of an application's `main`
            drop(guard);
            println!("closed");
        }
    }
    for (series, value) in kansoku_tests::series_of(
        &telemetry.prometheus_text(),
        "exit_sentry_events_dropped_total",
    ) {
        println!("{series} {value}");
    }
    std::process::exit(0);
}
