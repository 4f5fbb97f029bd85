use std::sync::Arc;
use std::task::{Context, Poll};

use tower_service::Service;

use super::routes::Entry;
use super::routes::Shared;
use super::HttpMetricsFuture;
use crate::http::route::{method_index, method_label, route_of, ByMethod};

/// The entries this service used, by method: axum makes one service per route, which then
/// only ever sees that route's template, so a request finds its entry here without the
/// layer's lock and hash.
type Recent = Arc<ByMethod<Entry>>;

/// The service of [`HttpMetricsLayer`](super::HttpMetricsLayer), for any `http` service.
///
/// ```
/// use tower_layer::Layer as _;
///
/// # let telemetry = kansoku::Telemetry::builder().build().unwrap();
/// let route: axum::routing::MethodRouter = axum::routing::get(|| async { "namba" });
/// let service: kansoku::http::HttpMetrics<_> =
///     kansoku::http::HttpMetricsLayer::new(&telemetry).layer(route);
/// ```
#[derive(Debug, Clone)]
pub struct HttpMetrics<S> {
    inner: S,
    shared: Arc<Shared>,
    recent: Recent,
}

impl<S> HttpMetrics<S> {
    pub(super) fn new(inner: S, shared: Arc<Shared>) -> HttpMetrics<S> {
        HttpMetrics {
            inner,
            shared,
            recent: Arc::new(std::array::from_fn(|_| std::sync::OnceLock::new())),
        }
    }
}

impl<S, ReqBody, ResBody> Service<http::Request<ReqBody>> for HttpMetrics<S>
where
    S: Service<http::Request<ReqBody>, Response = http::Response<ResBody>>,
    ResBody: http_body::Body<Data = bytes::Bytes> + Send + 'static,
    ResBody::Error: Into<axum::BoxError>,
{
    type Response = http::Response<axum::body::Body>;
    type Error = S::Error;
    type Future = HttpMetricsFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: http::Request<ReqBody>) -> Self::Future {
        let route = route_of(&request, self.shared.route_names.as_ref());
        let method = method_label(request.method());
        let slot = &self.recent[method_index(method)];
        let entry = match slot.get() {
            Some(entry) if entry.served.route == route => entry.clone(),
            _ => {
                let entry = self.shared.entry(route, method);
                let _ = slot.set(entry.clone());
                entry
            }
        };
        let in_flight = super::future::InFlight::start(entry, self.shared.clone());
        let future = {
            let _entered = in_flight.enter();
            self.inner.call(request)
        };
        HttpMetricsFuture::new(future, in_flight)
    }
}
