use std::sync::Arc;
use std::time::Duration;

use tower_layer::Layer;

use super::routes::Shared;
use super::HttpMetrics;
use crate::http::route::{RouteNames, RouteRequest};
use crate::Telemetry;

/// Counts and times every request by method and route template:
/// `ns_http_requests_total{method,route,status_code}`,
/// `ns_http_request_duration_seconds{method,route}` (to the response head),
/// `ns_http_requests_in_flight{method,route}` and `ns_http_slow_requests_total{method,route}`.
///
/// `route` is axum's [`MatchedPath`](axum::extract::MatchedPath), so apply the layer with
/// `Router::layer` after the routes; requests that match none share
/// [`UNMATCHED_ROUTE`](super::super::UNMATCHED_ROUTE), and non-standard methods share
/// [`OTHER_METHOD`](super::super::OTHER_METHOD). `status_code` is the response's code, or
/// `cancelled` when the client went away before the answer (the response future was dropped).
/// A handler that panics counts as `500`. With the `sentry` feature, a slow request is also
/// reported as one warning per route and minute at most, with its route and duration.
///
/// Requests are recorded into the telemetry the layer was made with, and it is current while
/// the request runs: the attributes of the handlers record there too, and those without an
/// endpoint take this request's method and route template.
///
/// ```
/// use axum::{routing::get, Router};
///
/// # fn main() -> Result<(), kansoku::Error> {
/// let telemetry = kansoku::Telemetry::builder().namespace("shop").build()?;
/// let app: Router = Router::new()
///     .route("/shops/{id}", get(|| async { "namba" }))
///     .layer(kansoku::http::HttpMetricsLayer::new(&telemetry));
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
#[must_use]
pub struct HttpMetricsLayer {
    shared: Arc<Shared>,
}

impl HttpMetricsLayer {
    /// A layer recording into `telemetry`, with the default slow threshold
    /// ([`DEFAULT_SLOW_THRESHOLD`](super::super::DEFAULT_SLOW_THRESHOLD), 3 s).
    ///
    /// ```
    /// let telemetry = kansoku::Telemetry::builder().namespace("shop").build().unwrap();
    /// let layer = kansoku::http::HttpMetricsLayer::new(&telemetry);
    /// ```
    pub fn new(telemetry: &Telemetry) -> HttpMetricsLayer {
        HttpMetricsLayer {
            shared: Arc::new(Shared::new(
                telemetry.context().clone(),
                super::super::DEFAULT_SLOW_THRESHOLD,
                None,
            )),
        }
    }

    /// Requests slower than `threshold` count in `ns_http_slow_requests_total` (and, with
    /// `sentry`, are reported as a rate-limited warning).
    ///
    /// ```
    /// # let telemetry = kansoku::Telemetry::builder().build().unwrap();
    /// let layer = kansoku::http::HttpMetricsLayer::new(&telemetry)
    ///     .slow_threshold(std::time::Duration::from_millis(800));
    /// ```
    pub fn slow_threshold(self, threshold: Duration) -> HttpMetricsLayer {
        HttpMetricsLayer {
            shared: Arc::new(Shared::new(
                self.shared.context.clone(),
                threshold,
                self.shared.route_names.clone(),
            )),
        }
    }

    /// Names the route of requests axum's `MatchedPath` does not (a service mounted with
    /// `nest_service`, a fallback you want to tell apart, any tower service that is not an
    /// axum router): `names` gives a request's route template, or `None` for the usual one.
    /// Templates are `&'static str` from a fixed set: they become the `route` label and the
    /// Sentry transaction's name, never what a client sends.
    ///
    /// ```
    /// # let telemetry = kansoku::Telemetry::builder().build().unwrap();
    /// let admin: axum::Router = axum::Router::new().route("/users", axum::routing::get(|| async { "" }));
    /// let app: axum::Router = axum::Router::new()
    ///     .nest_service("/admin", admin)
    ///     .layer(kansoku::http::HttpMetricsLayer::new(&telemetry).route_names(|request| {
    ///         request.uri.path().starts_with("/admin/").then_some("/admin/{*rest}")
    ///     }));
    /// ```
    pub fn route_names(
        self,
        names: impl Fn(&RouteRequest<'_>) -> Option<&'static str> + Send + Sync + 'static,
    ) -> HttpMetricsLayer {
        HttpMetricsLayer {
            shared: Arc::new(Shared::new(
                self.shared.context.clone(),
                Duration::from_nanos(self.shared.slow_nanos),
                Some(RouteNames::new(names)),
            )),
        }
    }
}

impl<S> Layer<S> for HttpMetricsLayer {
    type Service = HttpMetrics<S>;

    fn layer(&self, inner: S) -> Self::Service {
        HttpMetrics::new(inner, self.shared.clone())
    }
}
