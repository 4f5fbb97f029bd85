//! HTTP: tower layers for an axum 0.8 service (feature `axum`).
//!
//! - [`HttpMetricsLayer`]: `ns_http_requests_total{method, route, status_code}`,
//!   `ns_http_request_duration_seconds{method,route}`, `ns_http_requests_in_flight{method,route}`
//!   and `ns_http_slow_requests_total{method,route}`. `route` is the matched route template
//!   (`/shops/{id}`, from axum's [`MatchedPath`](axum::extract::MatchedPath)), never the raw
//!   path: requests that match no route share the label [`UNMATCHED_ROUTE`], and methods
//!   outside the standard nine share [`OTHER_METHOD`], so a scanner cannot grow the label set.
//! - [`SentryLayer`]: each request is a Sentry transaction named `GET /shops/{id}` with its own
//!   kansoku call scope; it continues an incoming `sentry-trace`/`baggage` trace (or a W3C
//!   `traceparent` one), marks 5xx
//!   responses, and scrubs what it reports ([`Scrubber`]).
//! - [`KansokuLayer`]: both, in the right order.
//! - [`inject_trace_headers`]: the current trace's headers for an outgoing request.
//! - [`ops_router`]: `/metrics` (token-guarded, or loopback only), `/health` and
//!   `/health/detailed` (concurrent, bounded, cached [`HealthCheck`]s), configured by
//!   [`OpsConfig`].
//!
//! Inside these layers, `#[track_api_request]` and `#[monitor_api_endpoint]` written without
//! an endpoint take the method and route template of the request they serve, and their spans
//! nest under the request's transaction. A client that disconnects mid-request (the response
//! future is dropped) is recorded as `cancelled` everywhere: `status_code="cancelled"`, span
//! status `cancelled`, and `status="cancelled"` for the attributes inside.
//!
//! ```
//! use axum::{routing::get, Router};
//! use kansoku::http::KansokuLayer;
//!
//! # fn main() -> Result<(), kansoku::Error> {
//! let telemetry = kansoku::Telemetry::builder().namespace("shop").build()?;
//! let app: Router = Router::new()
//!     .route("/shops/{id}", get(|| async { "namba" }))
//!     .layer(KansokuLayer::new(&telemetry)); // after the routes: the route template is known
//! # Ok(()) }
//! ```

mod kansoku;
// the page shows what the recorder holds: with neither `prometheus` nor `redis` nothing is recorded
#[cfg(store)]
mod live;
mod metrics;
mod ops;
mod propagation;
mod route;
mod scrub;
mod sentry;
mod stream;

pub use kansoku::{KansokuLayer, KansokuService};
pub use metrics::{HttpMetrics, HttpMetricsFuture, HttpMetricsLayer};
#[cfg(feature = "redis")]
pub use ops::RedisCheck;
#[cfg(feature = "sqlx")]
pub use ops::SqlxCheck;
pub use ops::{
    ops_router, CheckError, CheckFuture, HealthCheck, HttpCheck, OpsConfig, DEFAULT_CACHE_TTL,
    DEFAULT_CHECK_TIMEOUT,
};
pub use propagation::inject_trace_headers;
pub use route::{grpc_methods, RouteRequest, OTHER_METHOD, UNMATCHED_ROUTE};
pub use scrub::Scrubber;
pub use sentry::{CapturedBody, SentryFuture, SentryLayer, SentryService};

/// The default of [`HttpMetricsLayer::slow_threshold`]: requests slower than this count in
/// `ns_http_slow_requests_total` (the guide's 3 seconds).
///
/// ```
/// assert_eq!(kansoku::http::DEFAULT_SLOW_THRESHOLD, std::time::Duration::from_secs(3));
/// ```
pub const DEFAULT_SLOW_THRESHOLD: std::time::Duration = std::time::Duration::from_secs(3);

/// The default of [`SentryLayer::max_body_size`]: at most this many bytes of a request body
/// are kept for Sentry when body capture is on.
///
/// ```
/// assert_eq!(kansoku::http::DEFAULT_MAX_BODY_SIZE, 16 * 1024);
/// ```
pub const DEFAULT_MAX_BODY_SIZE: usize = 16 * 1024;
