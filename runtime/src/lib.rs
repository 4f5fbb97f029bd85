//! # kansoku (観測) — observation for async web services
//!
//! Three attributes instrument a service's handlers and queries; one [`Telemetry`] set up at
//! start-up decides where the observations go:
//!
//! ```
//! # #[derive(Debug)] struct CheckoutError;
//! # impl std::fmt::Display for CheckoutError { fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result { f.write_str("declined") } }
//! # impl std::error::Error for CheckoutError {}
//! #[kansoku::track_api_request(method = "POST", endpoint = "/checkout")]
//! async fn checkout(total: u64) -> Result<u64, CheckoutError> {
//!     if total == 0 { return Err(CheckoutError) }
//!     Ok(total)
//! }
//!
//! #[kansoku::track_database_query("select", "shops")]
//! fn fetch_shops() -> Result<Vec<String>, std::io::Error> {
//!     Ok(vec!["namba".to_owned()])
//! }
//!
//! # fn main() -> Result<(), kansoku::Error> {
//! let telemetry = kansoku::Telemetry::builder().namespace("shop").build()?;
//! let _scope = telemetry.enter();   // `install()` instead makes it the process-wide instance
//! futures::executor::block_on(checkout(12)).unwrap();
//! fetch_shops().unwrap();
//! # #[cfg(feature = "prometheus")] {
//! let text = telemetry.prometheus_text();          // what `/metrics` serves
//! assert!(text.contains(r#"shop_api_requests_total{endpoint="/checkout",method="POST",status="ok"} 1"#));
//! assert!(text.contains(r#"shop_database_queries_total{operation="select",status="ok",table="shops"} 1"#));
//! # }
//! # Ok(()) }
//! ```
//!
//! ## Backends (cargo features, all additive)
//!
//! | feature | what it turns on |
//! |---|---|
//! | `prometheus` | per-call-site metrics and business metrics in the Prometheus text format, plus an OpenTelemetry meter provider whose instruments appear in the same text (never made the global one unless asked: `TelemetryBuilder::set_global_meter_provider`) |
//! | `otlp` | `kansoku::otlp`: the same metric families pushed to a collector over OTLP/HTTP (protobuf) or OTLP/gRPC, cumulative or delta, and (with `sentry`, a DSN not needed) sampled requests, endpoints and queries as OpenTelemetry spans in the same trace as Sentry's; configured by the builder's `otlp_*` setters or the standard `OTEL_*` variables |
//! | `sentry` | transactions and spans from the attributes, error/panic/message capture with a scope per call, the scope API ([`set_tag`], [`capture_error`], [`start_transaction`]…); kansoku's own transport: errors queued apart and sent first, rate limits per category, every loss counted (`ns_sentry_events_dropped_total`) and reported to Sentry |
//! | `tracing` | (with `sentry`) `kansoku::tracing::layer()`: `tracing` events as breadcrumbs and events of the call running here, spans as child spans of its transaction; `kansoku::tracing::TraceIdFormat`: the call's trace id on each log line |
//! | `redis` | real-time counters in Redis, shared by every instance: [`Telemetry::realtime`](struct.Telemetry.html#method.realtime) |
//! | `axum` | [`http`](http/index.html): tower layers for request metrics and Sentry transactions by route template, trace propagation; [`http::ops_router`](http/fn.ops_router.html) with `/metrics`, `/health` and `/health/detailed` |
//! | `sqlx` (with `axum`) | [`http::SqlxCheck`](http/struct.SqlxCheck.html): a health check through the application's sqlx pool |
//! | `alert` | [`alert`](alert/index.html): periodic checks of the application's own values, to Sentry and Slack, with cooldown and recovery (needs a tokio runtime) |
//! | `deploy` | [`deploy`](deploy/index.html): Prometheus rules, a Grafana dashboard and an Alertmanager configuration generated from [`names`] (what `kansoku-cli` writes) |
//!
//! (The links to a feature's items lead nowhere in documentation built without it; docs.rs
//! builds every feature.)
//!
//! With no feature on, every attribute expands into calls that are empty and inlined: an
//! annotated function costs what a plain one costs.
//!
//! ## How the counters scale with cores
//!
//! A tracked call writes three counters of its call site (calls started, one bucket of its
//! status's histogram row, the duration sum) with relaxed atomics: no lock, no allocation, no
//! label look-up. A site starts with one set of counters, kept in its `static`. When two threads
//! write them at the same moment (the compare-and-swap that counts a start fails), the site
//! grows a table of stripes, sized to the machine (twice the cores, rounded up to a power of
//! two, 4 to 64 slots), and each thread writes the stripe its thread-local probe picks, on cache
//! lines of its own; a stripe is allocated when a thread first lands on it, and a thread that
//! still collides moves to another slot (the design of Java's `LongAdder`). A site that is never
//! contended keeps its inline counters and pays one null check; a hot one holds at most one
//! stripe (≈ 1 KiB) per slot. Run-time labelled series ([`metrics::record_api_request`]) use the
//! same counters. The exporter adds the stripes up, so totals, buckets, sums and the in-flight
//! gauge read out exactly as before. On a quiet 2-core machine (`bash bench/contention`, see
//! `BENCHMARKS.md`), a `#[track_api_request]` function called in a tight loop costs 29.1 ns per
//! call from one thread, 29.9 ns per call per thread from two at once (1.02×) and the same per
//! busy core from four; before striping, two threads cost 2.85× one. In the same run one shared
//! atomic add and two clock reads went from 54.9 to 114.1 ns (2.08×), the `metrics` crate's
//! counter and histogram handles 6.2× and the OpenTelemetry SDK's 2.9×.
//!
//! ## Outcomes
//!
//! Each call ends with one [`Status`]: `ok`, `error` (the function returned `Err`), `panic` (it
//! panicked; the panic is recorded, then continues unchanged) or `cancelled` (its future was
//! dropped before it finished). A future that is dropped before its first poll never started
//! and is not counted.
//!
//! ## Testing your own metrics
//!
//! [`TelemetryBuilder::build`] makes an instance that is not process-wide. Code run inside
//! [`Telemetry::enter`] (a thread) or [`Telemetry::instrument`] (a future, on whatever thread polls
//! it) records into that instance only, so tests running in parallel in one process each see
//! exactly what their own code recorded.
//!
//! ## Health
//!
//! [`Telemetry::health`] says how each backend is doing ([`BackendHealth`]: up, down or off,
//! its last error, what it dropped and why), for a `/health/detailed` endpoint or a `doctor`
//! command. [`Telemetry::local_stats`](struct.Telemetry.html#method.local_stats) (with a store:
//! `prometheus`, `otlp` or `redis`) gives this instance's own windowed numbers (rates,
//! error ratios, percentiles) without Redis.
//!
//! ## Inside (for contributors)
//!
//! The modules form layers; each imports only from those below it:
//!
//! 1. `site`: what an annotated function is (its `static` call site and counters) and how a
//!    call ended (`Outcome`, decided from the return value; `Ending`, decided once by the
//!    guard and handed to every backend). It knows no backend.
//! 2. `record`: the in-process store (run-time labelled series, business metrics) and its one
//!    read model, `Snapshot`, which every reader renders from (`record::export` turns it into
//!    the metric families both exporters encode); `stats`: windows of snapshots.
//! 3. `context` and `backend`: which telemetry a call belongs to, and the `Backend` trait
//!    (health, flush, shutdown) through which the handle drives its backends.
//!    `serving`: the HTTP request a call serves (its route template and method, and the
//!    series handles the layer cached for it), set by the HTTP layers at each poll and read
//!    by the attributes that name no endpoint.
//! 4. The backends: `prometheus` (the Prometheus text), `otlp` (pushed to a collector),
//!    `sentry_backend`, `redis`. Where code above them needs a backend's part only when its
//!    feature is on, that part is a module swapped for a twin that holds and does nothing
//!    (`api/{sentry,noop}.rs`, `metrics/{store,noop}.rs`, `call/{metrics,no_metrics}.rs`,
//!    `call/{sentry,no_sentry}.rs`, `http/sentry/{state,state_noop}.rs`,
//!    `http/metrics/{series,no_series}.rs`, `serving/{store,no_store}.rs`), as sentry-core's
//!    `scope/{real,noop}.rs`; the two compound conditions are named once in `build.rs`
//!    (`store`: `prometheus`, `otlp` or `redis`; `any_backend`: those or `sentry`).
//! 5. `call`: the guard the expansion starts, which hands a call to the store and Sentry.
//! 6. `telemetry`: the handle. **A new backend is a module implementing `Backend`, started in
//!    `telemetry/backends.rs`** (the one file that names every backend: its configuration,
//!    environment and start), with its builder setters beside it (in `telemetry/` or in the
//!    backend's own module, as `otlp/config.rs` has them). A backend reports its own counters
//!    through `Backend::counters` and, when it needs the whole telemetry (an exporter pushing
//!    every family), keeps the weak handle `Backend::attached` gives it.
//! 7. The public API (`api`, `metrics`) and `__private`, which only re-exports for the macros.
//! 8. `http` (feature `axum`): the tower layers, above everything: they start a request's
//!    series and Sentry scope through the layers below and make them current for the handler.

#![cfg_attr(docsrs, feature(doc_cfg))]
// The hot path (a few tiny functions called from every annotated function) is inlined into
// the user's crate on purpose; `bench/` measures it.
#![allow(clippy::inline_always)]

/// Opens a monitored endpoint: with the `sentry` feature a transaction (or a child span inside
/// one), with its own scope, its `Err` or panic captured (the panic then continues unchanged);
/// on `Err` or panic, one count in `ns_errors_total{endpoint, kind}`.
///
/// Arguments: `name = "…"` (default: the function's name, `Type::method` for a method, or the
/// endpoint of a `#[track_api_request]` stacked below), `op = "…"` (default `http.server`), and
/// `fields(arg, …)`: the named arguments' `Debug` form goes into the event's `arguments`
/// context (nothing is captured by default).
///
/// ```
/// #[kansoku::monitor_api_endpoint]                         // named `get_shops`
/// async fn get_shops() -> Result<(), std::io::Error> { Ok(()) }
///
/// #[kansoku::monitor_api_endpoint(name = "reserve", op = "http.server", fields(shop_id))]
/// fn reserve(shop_id: u32, card_number: &str) {}
/// ```
pub use kansoku_macros::monitor_api_endpoint;

/// Counts and times a request handler: `ns_api_requests_total{endpoint, method, status}`,
/// `ns_api_request_duration_seconds{endpoint, method}` and `ns_api_requests_in_flight{endpoint}`.
///
/// ```
/// #[kansoku::track_api_request(method = "GET", endpoint = "/shops")]
/// async fn get_shops() -> Result<Vec<u32>, std::io::Error> { Ok(vec![]) }
///
/// #[kansoku::track_api_request("POST", "/reservations")]      // positional, like the guide
/// async fn reserve() {}
///
/// #[kansoku::track_api_request]                               // endpoint `health`, method `ANY`
/// fn health() {}
/// ```
pub use kansoku_macros::track_api_request;

/// Counts and times a database query: `ns_database_queries_total{operation, table, status}` and
/// `ns_database_query_duration_seconds{operation, table}`.
///
/// ```
/// #[kansoku::track_database_query("select", "shops")]
/// async fn fetch_shops() -> Result<Vec<u32>, std::io::Error> { Ok(vec![]) }
///
/// #[kansoku::track_database_query(operation = "insert", table = "reservations")]
/// fn insert_reservation() -> Result<u64, std::io::Error> { Ok(1) }
/// ```
pub use kansoku_macros::track_database_query;

// The layers, lowest first: `site` (a call site and how a call ended), `record` (the
// in-process store and its one snapshot), `stats` (windows of snapshots), `context` and
// `backend` (which telemetry is current; the seam), the backends (`prometheus`, `sentry`, `redis`),
// `call` (the guard that hands a call to them), `telemetry` (the handle), and the public API
// and `__private` (re-exports).
mod error;
mod site;

mod api;
mod backend;
#[cfg(feature = "sentry")]
mod blocking;
mod call;
mod context;
#[cfg(any(
    feature = "sentry",
    feature = "otlp",
    feature = "axum",
    feature = "alert"
))]
mod https;
mod serving;
mod telemetry;
#[cfg(feature = "redis")]
mod tls;

#[cfg(feature = "axum")]
pub mod http;

pub mod metrics;
pub mod names;

#[cfg(feature = "deploy")]
pub mod deploy;

#[cfg(feature = "alert")]
mod board;

#[cfg(feature = "alert")]
pub mod alert;

#[cfg(store)]
mod record;

#[cfg(store)]
mod stats;

#[cfg(feature = "prometheus")]
mod prometheus_backend;

#[cfg(feature = "sentry")]
mod sentry_backend;

/// `tracing` inside kansoku's calls (feature `tracing`): [`layer()`](tracing::layer) makes
/// events breadcrumbs and Sentry events of the call running here and spans child spans of its
/// transaction; [`TraceIdFormat`](tracing::TraceIdFormat) puts the call's trace id on each
/// log line.
#[cfg(feature = "tracing")]
pub mod tracing {
    pub use crate::sentry_backend::tracing_layer::{
        default_event_filter, layer, EventFilter, Layer, TraceIdFormat,
    };
}

#[cfg(feature = "redis")]
mod redis;

/// The OTLP backend (feature `otlp`): every metric family pushed to a collector over
/// OTLP/HTTP (protobuf) or OTLP/gRPC, and (with `sentry`) sampled calls as spans. Configured by
/// the builder's `otlp_*` setters or the standard `OTEL_*` variables.
#[cfg(feature = "otlp")]
pub mod otlp;

#[doc(hidden)]
pub mod __private;

pub use api::{
    bind, capture_error, capture_message, continue_transaction, set_context, set_extra, set_tag,
    set_user, span_id, start_transaction, trace_context, trace_id, Carried, EventId, Level, Span,
    TraceContext, Transaction, TransactionBound, User, Value,
};
pub use backend::{BackendHealth, BackendState};
pub use error::Error;
#[cfg(feature = "redis")]
pub use redis::{Realtime, RealtimeError, DEFAULT_MAX_PENDING};
#[cfg(feature = "sentry")]
pub use sentry_backend::{
    sentry_transport, SamplingContext, SentryTransportFactory, TracesSampler,
};
pub use site::Status;
#[cfg(store)]
pub use stats::{CallStats, RealtimeSnapshot};
pub use telemetry::{Entered, Instrumented, Telemetry, TelemetryBuilder, DEFAULT_MAX_SERIES};
