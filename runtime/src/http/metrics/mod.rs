//! The request-metrics layer: `ns_http_*` by method and route template.

mod future;
mod layer;
mod routes;
// A route's series in the store, or its twin that records nothing.
#[cfg_attr(store, path = "series.rs")]
#[cfg_attr(not(store), path = "no_series.rs")]
mod series;
mod service;
#[cfg(feature = "sentry")]
mod slow;

pub use future::HttpMetricsFuture;
pub use layer::HttpMetricsLayer;
pub use service::HttpMetrics;
