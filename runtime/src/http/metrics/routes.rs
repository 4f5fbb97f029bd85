//! The layer's state: its telemetry, its threshold, and one entry per (route, method) holding
//! the handles a request needs, so that a request looks its series up once, by route, and the
//! attributes inside it not at all.

use std::sync::atomic::AtomicU64;
use std::sync::Arc;
use std::time::Duration;

use crate::context::Context;
use crate::http::route::{RouteCache, RouteNames};
use crate::serving::Served;

/// What every request of one (route, method) shares.
#[derive(Debug)]
pub(crate) struct Entry {
    pub(crate) served: Arc<Served>,
    pub(crate) series: super::series::RouteSeries,
    /// When this route's last slow-request warning went out (seconds since the layer began),
    /// plus one; 0 before the first.
    #[cfg_attr(not(feature = "sentry"), allow(dead_code))]
    pub(crate) slow_reported: AtomicU64,
}

#[derive(Debug)]
pub(crate) struct Shared {
    pub(crate) context: Arc<Context>,
    /// The layer's telemetry is the installed one: nothing to enter at each poll.
    pub(crate) global: bool,
    pub(crate) slow_nanos: u64,
    /// The application's names of routes axum's `MatchedPath` does not give.
    pub(crate) route_names: Option<RouteNames>,
    /// When the layer was made: the clock of the slow-request warnings' rate limit.
    #[cfg(feature = "sentry")]
    pub(crate) began: std::time::Instant,
    routes: RouteCache<Entry>,
}

impl Shared {
    pub(crate) fn new(
        context: Arc<Context>,
        slow: Duration,
        route_names: Option<RouteNames>,
    ) -> Shared {
        let global = crate::context::global().is_some_and(|g| Arc::ptr_eq(g, &context));
        Shared {
            context,
            global,
            slow_nanos: u64::try_from(slow.as_nanos()).unwrap_or(u64::MAX),
            route_names,
            #[cfg(feature = "sentry")]
            began: std::time::Instant::now(),
            routes: RouteCache::new(),
        }
    }

    /// The entry of `route` and `method` (a method label).
    pub(crate) fn entry(&self, route: &str, method: &'static str) -> Arc<Entry> {
        self.routes
            .get(route, method, |route, method| self.new_entry(route, method))
    }

    // without a metrics backend, an entry only names the request
    fn new_entry(&self, route: &str, method: &'static str) -> Entry {
        let (series, served) = super::series::RouteSeries::new(&self.context, route, method);
        Entry {
            served: Arc::new(served),
            series,
            slow_reported: AtomicU64::new(0),
        }
    }
}
