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

/// The route template axum matched, or [`UNMATCHED_ROUTE`].
pub(crate) fn route_of<B>(request: &http::Request<B>) -> &str {
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
