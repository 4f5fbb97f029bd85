use std::sync::Arc;

use tower_layer::Layer;

use super::SentryService;
use crate::http::route::{RouteCache, RouteNames, RouteRequest};
use crate::http::{Scrubber, DEFAULT_MAX_BODY_SIZE};
use crate::serving::Served;

/// Makes each request a Sentry transaction named after its method and route template
/// (`GET /shops/{id}`), run in a kansoku call scope of its own: tags set and errors captured
/// while serving it belong to it alone, and `#[monitor_api_endpoint]`/`#[track_database_query]`
/// spans inside it are its children.
///
/// - An incoming `sentry-trace` header (and `baggage`) is continued: the transaction joins the
///   caller's trace under the caller's span, and the caller's sampling decision stands
///   (`-0` means not sampled here either). Without one, a W3C `traceparent` is continued the
///   same way (its `sampled` flag decides). A malformed header is ignored: a new trace starts.
/// - The transaction's status follows the response (`internal_error` for a 5xx,
///   `not_found` for a 404…), or `cancelled` when the client went away first.
/// - Events and transactions carry the request (method, URL, headers, query string, and with
///   [`capture_request_body`](SentryLayer::capture_request_body) the body), scrubbed by the
///   layer's [`Scrubber`] before they leave the process.
///
/// The telemetry is the current one (a [`KansokuLayer`](crate::http::KansokuLayer) makes its
/// own current; alone, this layer uses the installed one). Without a Sentry backend, it only
/// passes requests through.
///
/// ```
/// use axum::{routing::post, Router};
///
/// let app: Router = Router::new()
///     .route("/reservations", post(|body: String| async move { body.len().to_string() }))
///     .layer(kansoku::http::SentryLayer::new().capture_request_body(true));
/// ```
#[derive(Debug, Clone)]
#[must_use]
pub struct SentryLayer {
    pub(super) config: Arc<Config>,
    /// Names of routes, for a layer used without the metrics layer around it; shared by the
    /// services the layer makes.
    routes: Arc<RouteCache<Served>>,
}

#[derive(Debug, Clone)]
pub(super) struct Config {
    /// The application's names of routes axum's `MatchedPath` does not give (used when no
    /// metrics layer around this one named the request).
    pub(super) route_names: Option<RouteNames>,
    pub(super) capture_body: bool,
    pub(super) max_body_size: usize,
    pub(super) scrubber: Arc<Scrubber>,
}

impl Default for SentryLayer {
    fn default() -> Self {
        SentryLayer::new()
    }
}

impl SentryLayer {
    /// A layer with body capture off and the default [`Scrubber`].
    ///
    /// ```
    /// let layer = kansoku::http::SentryLayer::new();
    /// ```
    pub fn new() -> SentryLayer {
        SentryLayer {
            config: Arc::new(Config {
                route_names: None,
                capture_body: false,
                max_body_size: DEFAULT_MAX_BODY_SIZE,
                scrubber: Arc::new(Scrubber::new()),
            }),
            routes: Arc::new(RouteCache::new()),
        }
    }

    fn with(mut self, change: impl FnOnce(&mut Config)) -> SentryLayer {
        change(Arc::make_mut(&mut self.config));
        self
    }

    /// Keeps the first [`max_body_size`](SentryLayer::max_body_size) bytes of each request
    /// body, as the handler reads them, for the request's events and transaction: JSON and
    /// form bodies scrubbed field by field, others only by size. Off by default. The handler
    /// still receives the whole body, streamed as it comes.
    ///
    /// ```
    /// let layer = kansoku::http::SentryLayer::new().capture_request_body(true);
    /// ```
    pub fn capture_request_body(self, capture: bool) -> SentryLayer {
        self.with(|config| config.capture_body = capture)
    }

    /// At most this many bytes of a body are kept (default
    /// [`DEFAULT_MAX_BODY_SIZE`](crate::http::DEFAULT_MAX_BODY_SIZE), 16 KiB); the rest is
    /// passed on to the handler and not kept, and the kept part says it was truncated.
    ///
    /// ```
    /// let layer = kansoku::http::SentryLayer::new().capture_request_body(true).max_body_size(2048);
    /// ```
    pub fn max_body_size(self, bytes: usize) -> SentryLayer {
        self.with(|config| config.max_body_size = bytes)
    }

    /// What is scrubbed from requests before they leave the process.
    ///
    /// ```
    /// let layer = kansoku::http::SentryLayer::new()
    ///     .scrubber(kansoku::http::Scrubber::new().header("x-tenant-key").field("iban"));
    /// ```
    pub fn scrubber(self, scrubber: Scrubber) -> SentryLayer {
        self.with(|config| config.scrubber = Arc::new(scrubber))
    }

    /// See [`HttpMetricsLayer::route_names`](crate::http::HttpMetricsLayer::route_names): the
    /// transaction's name when this layer runs without the metrics layer around it.
    ///
    /// ```
    /// let layer = kansoku::http::SentryLayer::new()
    ///     .route_names(|request| request.uri.path().starts_with("/admin/").then_some("/admin/{*rest}"));
    /// ```
    pub fn route_names(
        self,
        names: impl Fn(&RouteRequest<'_>) -> Option<&'static str> + Send + Sync + 'static,
    ) -> SentryLayer {
        let names = RouteNames::new(names);
        self.with(|config| config.route_names = Some(names))
    }
}

impl<S> Layer<S> for SentryLayer {
    type Service = SentryService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        SentryService::new(inner, self.config.clone(), self.routes.clone())
    }
}
