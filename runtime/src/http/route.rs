//! The `method` and `route` labels of a request: bounded sets, whatever the client sends.

use std::collections::HashMap;
use std::sync::{Arc, OnceLock, PoisonError, RwLock};

use http::Method;

/// The `route` label of a request that matched no route (a 404 from the router, a fallback).
///
/// ```
/// assert_eq!(kansoku::http::UNMATCHED_ROUTE, "__unmatched__");
/// ```
pub const UNMATCHED_ROUTE: &str = "__unmatched__";

/// The `method` label of a request whose method is not one of the nine standard ones
/// (`GET`, `POST`, `PUT`, `DELETE`, `PATCH`, `HEAD`, `OPTIONS`, `CONNECT`, `TRACE`).
///
/// ```
/// assert_eq!(kansoku::http::OTHER_METHOD, "_OTHER");
/// ```
pub const OTHER_METHOD: &str = "_OTHER";

/// The label of `method`: its name for the nine standard methods, else [`OTHER_METHOD`].
pub(crate) fn method_label(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::DELETE => "DELETE",
        Method::PATCH => "PATCH",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        Method::CONNECT => "CONNECT",
        Method::TRACE => "TRACE",
        _ => OTHER_METHOD,
    }
}

/// What a route-naming function ([`KansokuLayer::route_names`](super::KansokuLayer::route_names))
/// sees of a request: its head, before the handler runs.
#[derive(Debug)]
#[non_exhaustive]
pub struct RouteRequest<'a> {
    /// The request's method.
    pub method: &'a Method,
    /// Its URI (for a tonic service, `/package.Service/Method`).
    pub uri: &'a http::Uri,
    /// Its headers.
    pub headers: &'a http::HeaderMap,
    /// Its extensions (what layers before this one put there).
    pub extensions: &'a http::Extensions,
}

/// The application's route names: a request's route template when it knows one (a service
/// under `nest_service`, a tonic method, any tower service axum's `MatchedPath` does not
/// name). Templates are `&'static str`: they become labels and cached entries, so they must
/// come from a fixed set, never from what a client sends.
#[derive(Clone)]
pub(crate) struct RouteNames(Arc<NameRoute>);

/// The function behind [`RouteNames`].
type NameRoute = dyn Fn(&RouteRequest<'_>) -> Option<&'static str> + Send + Sync;

impl RouteNames {
    pub(crate) fn new(
        names: impl Fn(&RouteRequest<'_>) -> Option<&'static str> + Send + Sync + 'static,
    ) -> RouteNames {
        RouteNames(Arc::new(names))
    }
}

impl std::fmt::Debug for RouteNames {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RouteNames(..)")
    }
}

/// A route-naming function for a gRPC server (tonic's, say), for
/// [`KansokuLayer::route_names`](super::KansokuLayer::route_names): a request whose path is one
/// of `methods` (`/package.Service/Method`, as tonic routes it) is named by that path; any
/// other path is left to the next name (axum's matched path, else
/// [`UNMATCHED_ROUTE`]), so a client's made-up method never becomes a label.
///
/// ```
/// # let telemetry = kansoku::Telemetry::builder().build().unwrap();
/// const METHODS: &[&str] = &["/greeter.Greeter/SayHello", "/greeter.Greeter/Countdown"];
/// let layer = kansoku::http::KansokuLayer::new(&telemetry)
///     .route_names(kansoku::http::grpc_methods(METHODS));
/// // tonic::transport::Server::builder().layer(layer).add_service(…)
/// ```
pub fn grpc_methods(
    methods: &'static [&'static str],
) -> impl Fn(&RouteRequest<'_>) -> Option<&'static str> + Clone + Send + Sync + 'static {
    move |request| {
        let path = request.uri.path();
        methods.iter().copied().find(|method| *method == path)
    }
}

/// The route template of a request: the application's name for it when `names` gives one,
/// else the one axum matched, else [`UNMATCHED_ROUTE`].
pub(crate) fn route_of<'a, B>(
    request: &'a http::Request<B>,
    names: Option<&RouteNames>,
) -> &'a str {
    if let Some(names) = names {
        let seen = RouteRequest {
            method: request.method(),
            uri: request.uri(),
            headers: request.headers(),
            extensions: request.extensions(),
        };
        if let Some(route) = (names.0)(&seen) {
            return route;
        }
    }
    request
        .extensions()
        .get::<axum::extract::MatchedPath>()
        .map_or(UNMATCHED_ROUTE, axum::extract::MatchedPath::as_str)
}

/// The nine standard methods and [`OTHER_METHOD`], in the order of [`RouteCache`]'s slots.
const METHODS: [&str; 10] = [
    "GET",
    "POST",
    "PUT",
    "DELETE",
    "PATCH",
    "HEAD",
    "OPTIONS",
    "CONNECT",
    "TRACE",
    OTHER_METHOD,
];

/// One slot per method label, in the order of [`method_index`].
pub(crate) type ByMethod<T> = [OnceLock<Arc<T>>; METHODS.len()];

/// The slot of a [`method_label`] in a [`ByMethod`].
pub(crate) fn method_index(method: &str) -> usize {
    METHODS
        .iter()
        .position(|m| *m == method)
        .unwrap_or(METHODS.len() - 1)
}

/// A layer's per-(route, method) state, made on a route's first request. Keys are route
/// templates (a router's, plus [`UNMATCHED_ROUTE`]) and method labels: a bounded set.
#[derive(Debug)]
pub(crate) struct RouteCache<T> {
    routes: RwLock<HashMap<Box<str>, Arc<ByMethod<T>>>>,
}

impl<T> RouteCache<T> {
    pub(crate) fn new() -> RouteCache<T> {
        RouteCache {
            routes: RwLock::new(HashMap::new()),
        }
    }

    /// The state of `route` and `method` (a [`method_label`]), made by `make` the first time.
    pub(crate) fn get(
        &self,
        route: &str,
        method: &'static str,
        make: impl FnOnce(&str, &'static str) -> T,
    ) -> Arc<T> {
        let index = method_index(method);
        let found = self
            .routes
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .get(route)
            .cloned();
        let by_method = match found {
            Some(by_method) => by_method,
            None => self
                .routes
                .write()
                .unwrap_or_else(PoisonError::into_inner)
                .entry(route.into())
                .or_insert_with(|| Arc::new(std::array::from_fn(|_| OnceLock::new())))
                .clone(),
        };
        by_method[index]
            .get_or_init(|| Arc::new(make(route, METHODS[index])))
            .clone()
    }
}
