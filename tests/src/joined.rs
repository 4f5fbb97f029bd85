//! An application that set up Sentry itself (`sentry::init`, kansoku's transport to a loopback
//! ingest server) and installed kansoku without a DSN, served on a loopback port; and what its
//! handlers and tests read of Sentry's events. Used by `tests/sentry_joined*.rs`, each of which
//! installs its own `tracing` subscriber first.

use std::time::Duration;

use axum::response::IntoResponse;
use serde_json::{json, Value};

use crate::http_support::Server;
use crate::sentry_ingest::Ingest;

/// The running application.
#[allow(missing_debug_implementations)] // holds the ingest endpoint, which holds a closure
pub struct App {
    pub ingest: Ingest,
    pub telemetry: kansoku::Telemetry,
    pub runtime: tokio::runtime::Runtime,
    pub server: Server,
    _sentry: sentry::ClientInitGuard,
}

impl App {
    /// `sentry::init` with `options` (the DSN and kansoku's transport added), kansoku installed
    /// with `namespace` and no DSN, and `router(&telemetry)` served on four worker threads.
    ///
    /// # Panics
    /// If kansoku does not install or no loopback port can be bound.
    pub fn start(
        namespace: &str,
        options: sentry::ClientOptions,
        router: impl FnOnce(&kansoku::Telemetry) -> axum::Router,
    ) -> App {
        let ingest = Ingest::start();
        let guard = sentry::init(
            options
                .dsn(&ingest.dsn())
                .transport(kansoku::sentry_transport()),
        );
        let telemetry = kansoku::Telemetry::builder()
            .namespace(namespace)
            .install()
            .expect("kansoku installs beside the application's Sentry");
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(4)
            .enable_all()
            .build()
            .expect("a runtime");
        let server = runtime.block_on(Server::start(router(&telemetry)));
        App {
            ingest,
            telemetry,
            runtime,
            server,
            _sentry: guard,
        }
    }

    /// Waits until everything captured so far is sent.
    ///
    /// # Panics
    /// If it is not sent within 10 s.
    pub fn flush(&self) {
        assert!(
            self.runtime
                .block_on(self.telemetry.flush(Duration::from_secs(10))),
            "everything was sent in time"
        );
    }
}

/// An order's endpoint error: its `Display` is the event's exception, its response the trace
/// the handler saw.
#[derive(Debug)]
pub struct OrderFailed {
    pub id: u32,
    pub trace: Value,
}

impl std::fmt::Display for OrderFailed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "order {} failed", self.id)
    }
}

impl std::error::Error for OrderFailed {}

impl IntoResponse for OrderFailed {
    fn into_response(self) -> axum::response::Response {
        (
            http::StatusCode::INTERNAL_SERVER_ERROR,
            axum::Json(self.trace),
        )
            .into_response()
    }
}

/// What a handler sees of its trace: `kansoku::trace_context()`, `kansoku::trace_id()` and the
/// `sentry-trace` `inject_trace_headers` puts on an outgoing request.
///
/// # Panics
/// Outside a request.
pub fn seen_trace() -> Value {
    let context = kansoku::trace_context().expect("a trace inside the request");
    let mut headers = http::HeaderMap::new();
    kansoku::http::inject_trace_headers(&mut headers);
    json!({
        "trace_id": context.trace_id_hex(),
        "span_id": context.span_id_hex(),
        "sampled": context.sampled,
        "trace_id_fn": kansoku::trace_id(),
        "sentry_trace": headers.get("sentry-trace").and_then(|v| v.to_str().ok()),
    })
}

/// What a user reads to tell an event apart: its exception's value, else its message.
pub fn event_text(event: &Value) -> String {
    event["exception"]["values"][0]["value"]
        .as_str()
        .or_else(|| event["message"].as_str())
        .or_else(|| event["logentry"]["message"].as_str())
        .unwrap_or_default()
        .to_owned()
}

/// The message of each breadcrumb of an event, in order.
pub fn breadcrumbs(event: &Value) -> Vec<String> {
    event["breadcrumbs"]["values"]
        .as_array()
        .map(|values| {
            values
                .iter()
                .filter_map(|b| b["message"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}
