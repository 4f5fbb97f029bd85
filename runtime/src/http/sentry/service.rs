use std::sync::Arc;
use std::task::{Context, Poll};

use tower_service::Service;

use super::future::SentryFuture;
use super::layer::Config;
use super::state::RequestState;
use crate::http::route::{method_index, method_label, route_of, ByMethod, RouteCache};
use crate::serving::Served;

/// The service of [`SentryLayer`](super::SentryLayer), for services taking axum's body. It
/// takes a request with any body (hyper's `Incoming`, tonic's), handed on as axum's `Body`
/// (no allocation when it is one already), so the layers also wrap a service served by hyper
/// or any tower HTTP server, named by [`route_names`](super::SentryLayer::route_names).
///
/// ```
/// use tower_layer::Layer as _;
///
/// let route: axum::routing::MethodRouter = axum::routing::get(|| async { "namba" });
/// let service: kansoku::http::SentryService<_> = kansoku::http::SentryLayer::new().layer(route);
/// ```
#[derive(Debug, Clone)]
pub struct SentryService<S> {
    inner: S,
    config: Arc<Config>,
    /// Names of routes, for a layer used without the metrics layer around it.
    routes: Arc<RouteCache<Served>>,
    /// The names this service used, by method (one service per route: see `HttpMetrics`).
    recent: Arc<ByMethod<Served>>,
}

impl<S> SentryService<S> {
    pub(super) fn new(
        inner: S,
        config: Arc<Config>,
        routes: Arc<RouteCache<Served>>,
    ) -> SentryService<S> {
        SentryService {
            inner,
            config,
            routes,
            recent: Arc::new(std::array::from_fn(|_| std::sync::OnceLock::new())),
        }
    }
}

impl<S, ReqBody, ResBody> Service<http::Request<ReqBody>> for SentryService<S>
where
    S: Service<http::Request<axum::body::Body>, Response = http::Response<ResBody>>,
    ReqBody: http_body::Body<Data = bytes::Bytes> + Send + 'static,
    ReqBody::Error: Into<axum::BoxError>,
    ResBody: http_body::Body<Data = bytes::Bytes> + Send + 'static,
    ResBody::Error: Into<axum::BoxError>,
{
    type Response = http::Response<axum::body::Body>;
    type Error = S::Error;
    type Future = SentryFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: http::Request<ReqBody>) -> Self::Future {
        let request = request.map(axum::body::Body::new);
        // the metrics layer around this one already named the request
        let own = crate::serving::with_current(|_| ()).is_none().then(|| {
            let route = route_of(&request, self.config.route_names.as_ref());
            let method = method_label(request.method());
            let slot = &self.recent[method_index(method)];
            match slot.get() {
                Some(served) if served.route == route => served.clone(),
                _ => {
                    let served = self.routes.get(route, method, |route, method| {
                        Served::new(route, method, crate::serving::Series::none())
                    });
                    let _ = slot.set(served.clone());
                    served
                }
            }
        });
        let served_guard = own.as_ref().map(crate::serving::enter);
        let (state, request) = RequestState::start(request, &self.config);
        let future = {
            let _entered = state.enter();
            self.inner.call(request)
        };
        drop(served_guard);
        SentryFuture::new(future, state, own)
    }
}
