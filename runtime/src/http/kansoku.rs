//! Both layers at once.

use std::time::Duration;

use tower_layer::Layer;

use super::{HttpMetrics, HttpMetricsLayer, Scrubber, SentryLayer, SentryService};
use crate::Telemetry;

/// The request-metrics layer around the Sentry layer: one `.layer(...)` gives a service both.
///
/// The metrics layer is outside, so its duration covers the Sentry work too, and it makes the
/// telemetry it was given current for the Sentry layer and the handler.
///
/// ```
/// use std::time::Duration;
/// use axum::{routing::get, Router};
///
/// # fn main() -> Result<(), kansoku::Error> {
/// let telemetry = kansoku::Telemetry::builder().namespace("shop").build()?;
/// let app: Router = Router::new()
///     .route("/shops/{id}", get(|| async { "namba" }))
///     .layer(
///         kansoku::http::KansokuLayer::new(&telemetry)
///             .slow_threshold(Duration::from_secs(2))
///             .capture_request_body(true),
///     );
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
#[must_use]
pub struct KansokuLayer {
    metrics: HttpMetricsLayer,
    sentry: SentryLayer,
}

/// The service [`KansokuLayer`] makes: the metrics service around the Sentry service.
///
/// ```
/// use tower_layer::Layer as _;
///
/// # let telemetry = kansoku::Telemetry::builder().build().unwrap();
/// let route: axum::routing::MethodRouter = axum::routing::get(|| async { "namba" });
/// let service: kansoku::http::KansokuService<_> = kansoku::http::KansokuLayer::new(&telemetry).layer(route);
/// ```
pub type KansokuService<S> = HttpMetrics<SentryService<S>>;

impl KansokuLayer {
    /// Both layers, recording into `telemetry`.
    ///
    /// ```
    /// # let telemetry = kansoku::Telemetry::builder().build().unwrap();
    /// let app: axum::Router = axum::Router::new()
    ///     .route("/health", axum::routing::get(|| async { "ok" }))
    ///     .layer(kansoku::http::KansokuLayer::new(&telemetry));
    /// ```
    pub fn new(telemetry: &Telemetry) -> KansokuLayer {
        KansokuLayer {
            metrics: HttpMetricsLayer::new(telemetry),
            sentry: SentryLayer::new(),
        }
    }

    /// See [`HttpMetricsLayer::slow_threshold`].
    ///
    /// ```
    /// # let telemetry = kansoku::Telemetry::builder().build().unwrap();
    /// let layer = kansoku::http::KansokuLayer::new(&telemetry).slow_threshold(std::time::Duration::from_millis(500));
    /// ```
    pub fn slow_threshold(mut self, threshold: Duration) -> KansokuLayer {
        self.metrics = self.metrics.slow_threshold(threshold);
        self
    }

    /// See [`SentryLayer::capture_request_body`].
    ///
    /// ```
    /// # let telemetry = kansoku::Telemetry::builder().build().unwrap();
    /// let layer = kansoku::http::KansokuLayer::new(&telemetry).capture_request_body(true);
    /// ```
    pub fn capture_request_body(mut self, capture: bool) -> KansokuLayer {
        self.sentry = self.sentry.capture_request_body(capture);
        self
    }

    /// See [`SentryLayer::max_body_size`].
    ///
    /// ```
    /// # let telemetry = kansoku::Telemetry::builder().build().unwrap();
    /// let layer = kansoku::http::KansokuLayer::new(&telemetry).max_body_size(4096);
    /// ```
    pub fn max_body_size(mut self, bytes: usize) -> KansokuLayer {
        self.sentry = self.sentry.max_body_size(bytes);
        self
    }

    /// See [`SentryLayer::scrubber`].
    ///
    /// ```
    /// # let telemetry = kansoku::Telemetry::builder().build().unwrap();
    /// let layer = kansoku::http::KansokuLayer::new(&telemetry)
    ///     .scrubber(kansoku::http::Scrubber::new().field("iban"));
    /// ```
    pub fn scrubber(mut self, scrubber: Scrubber) -> KansokuLayer {
        self.sentry = self.sentry.scrubber(scrubber);
        self
    }

    /// Names the route of requests axum's `MatchedPath` does not, for the metrics and the
    /// Sentry transaction alike: see [`HttpMetricsLayer::route_names`]. A router mounted with
    /// `nest_service` is the usual case (axum gives the layers around it no matched path, so
    /// its requests would count as [`UNMATCHED_ROUTE`](super::UNMATCHED_ROUTE)).
    ///
    /// ```
    /// # let telemetry = kansoku::Telemetry::builder().build().unwrap();
    /// let admin: axum::Router = axum::Router::new().route("/users", axum::routing::get(|| async { "" }));
    /// let app: axum::Router = axum::Router::new()
    ///     .nest_service("/admin", admin)
    ///     .layer(kansoku::http::KansokuLayer::new(&telemetry).route_names(|request| {
    ///         request.uri.path().starts_with("/admin/").then_some("/admin/{*rest}")
    ///     }));
    /// ```
    pub fn route_names(
        mut self,
        names: impl Fn(&super::RouteRequest<'_>) -> Option<&'static str> + Send + Sync + 'static,
    ) -> KansokuLayer {
        let names = std::sync::Arc::new(names);
        let for_sentry = names.clone();
        self.metrics = self.metrics.route_names(move |request| names(request));
        self.sentry = self.sentry.route_names(move |request| for_sentry(request));
        self
    }
}

impl<S> Layer<S> for KansokuLayer {
    type Service = KansokuService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        self.metrics.layer(self.sentry.layer(inner))
    }
}
