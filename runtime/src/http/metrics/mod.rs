//! The request-metrics layer: `ns_http_*` by method and route template.

mod future;
mod layer;
mod routes;
mod service;
#[cfg(feature = "sentry")]
mod slow;

pub use future::HttpMetricsFuture;
pub use layer::HttpMetricsLayer;
pub use service::HttpMetrics;
