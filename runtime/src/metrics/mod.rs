//! Business metrics and series labelled at run time.
//!
//! The attributes cover requests and queries. What the business itself counts (the guide's
//! reservations and active users) goes through [`Counter`] and [`Gauge`]: declare one as a
//! `static`, record with one line. They appear under the same namespace as everything else.
//!
//! ```
//! use kansoku::metrics::{Counter, Gauge};
//!
//! static RESERVATIONS: Counter<2> =
//!     Counter::new("reservations_total", "Reservations made, by status and source", ["status", "source"]);
//! static ACTIVE_USERS: Gauge<1> = Gauge::new("active_users", "Users active now, by type", ["user_type"]);
//!
//! fn record_reservation(status: &str, source: &str) {
//!     RESERVATIONS.increment([status, source]);
//! }
//! fn record_active_users(user_type: &str, count: u64) {
//!     ACTIVE_USERS.set([user_type], count as f64);
//! }
//! # let telemetry = kansoku::Telemetry::builder().namespace("osakamenesu").build().unwrap();
//! # let _scope = telemetry.enter();
//! record_reservation("confirmed", "web");
//! record_active_users("member", 42);
//! # #[cfg(feature = "prometheus")] {
//! let text = telemetry.prometheus_text();
//! assert!(text.contains(r#"osakamenesu_reservations_total{source="web",status="confirmed"} 1"#));
//! assert!(text.contains(r#"osakamenesu_active_users{user_type="member"} 42"#));
//! # }
//! ```
//!
//! Label values come from data, so each metric keeps at most
//! [`TelemetryBuilder::max_series_per_metric`](crate::TelemetryBuilder::max_series_per_metric)
//! label sets; later new ones are added into one series whose labels are all `__overflow__`,
//! and counted in `ns_metric_series_overflow_total{metric}`.
//!
//! Everything here records into the current [`Telemetry`](crate::Telemetry): the one entered
//! on this thread or future, else the installed one; with none, nothing is recorded.

use std::time::Duration;

use crate::__private::SiteKind;
use crate::Status;

// The side that records into the store, or its twin that does nothing: the only place this
// module names a feature.
#[cfg_attr(store, path = "store.rs")]
#[cfg_attr(not(store), path = "noop.rs")]
mod imp;

/// A counter with `N` labels, for `static`s.
#[derive(Debug)]
#[cfg_attr(not(store), allow(dead_code))]
pub struct Counter<const N: usize> {
    name: &'static str,
    help: &'static str,
    labels: [&'static str; N],
}

/// A gauge with `N` labels, for `static`s.
#[derive(Debug)]
#[cfg_attr(not(store), allow(dead_code))]
pub struct Gauge<const N: usize> {
    name: &'static str,
    help: &'static str,
    labels: [&'static str; N],
}

impl<const N: usize> Counter<N> {
    /// `name` is exported as `ns_name`; end a counter's name in `_total`.
    pub const fn new(
        name: &'static str,
        help: &'static str,
        labels: [&'static str; N],
    ) -> Counter<N> {
        Counter { name, help, labels }
    }

    /// Adds one to the series of `values` (in the order of the label names).
    pub fn increment(&'static self, values: [&str; N]) {
        self.add(values, 1);
    }

    /// Adds `n` to the series of `values`.
    pub fn add(&'static self, values: [&str; N], n: u64) {
        imp::add(self, values, n);
    }
}

impl<const N: usize> Gauge<N> {
    /// `name` is exported as `ns_name`.
    pub const fn new(
        name: &'static str,
        help: &'static str,
        labels: [&'static str; N],
    ) -> Gauge<N> {
        Gauge { name, help, labels }
    }

    /// Sets the series of `values` to `value`.
    pub fn set(&'static self, values: [&str; N], value: f64) {
        imp::set(self, values, value);
    }
}

/// Reports the database pool: `ns_database_connections_used` and `ns_database_connections_max`.
/// Call it from a periodic task or before each scrape, with what your pool reports.
pub fn set_db_connections(used: u64, max: u64) {
    imp::set_db_connections(used, max);
}

/// Records one request whose endpoint is known only at run time (a router's route template,
/// for instance). The same series as `#[track_api_request]`, bounded in label sets.
pub fn record_api_request(endpoint: &str, method: &str, status: Status, elapsed: Duration) {
    imp::record_timed(
        SiteKind::TrackApiRequest,
        [endpoint, method],
        status,
        elapsed,
    );
}

/// Starts a request whose endpoint is known only at run time (the route a router matched):
/// it is in flight (`ns_api_requests_in_flight`) until [`RequestGuard::finish`], and counted
/// with its duration then. Dropped without `finish`, it counts as `panic` when the thread is
/// unwinding and `cancelled` otherwise, as an annotated call does. The same series as
/// `#[track_api_request]`, bounded in label sets.
///
/// ```
/// use kansoku::Status;
///
/// let telemetry = kansoku::Telemetry::builder().namespace("shop").build().unwrap();
/// let _scope = telemetry.enter();
/// let request = kansoku::metrics::start_api_request("/shops/{id}", "GET");
/// // … the handler runs …
/// request.finish(Status::Ok);
/// # #[cfg(feature = "prometheus")]
/// assert!(telemetry.prometheus_text().contains(
///     r#"shop_api_requests_total{endpoint="/shops/{id}",method="GET",status="ok"} 1"#
/// ));
/// ```
pub fn start_api_request(endpoint: &str, method: &str) -> RequestGuard {
    RequestGuard {
        started: imp::Started::start(endpoint, method),
    }
}

/// A request in flight, made by [`start_api_request`].
#[derive(Debug)]
#[must_use = "a request is counted when it is finished or dropped"]
pub struct RequestGuard {
    started: imp::Started,
}

impl RequestGuard {
    /// The request ended with `status`.
    pub fn finish(mut self, status: Status) {
        self.started.end(status);
    }
}

impl Drop for RequestGuard {
    fn drop(&mut self) {
        let status = if std::thread::panicking() {
            Status::Panic
        } else {
            Status::Cancelled
        };
        self.started.end(status);
    }
}

/// Records one query whose operation or table is known only at run time. The same series as
/// `#[track_database_query]`, bounded in label sets.
pub fn record_db_query(operation: &str, table: &str, status: Status, elapsed: Duration) {
    imp::record_timed(
        SiteKind::TrackDatabaseQuery,
        [operation, table],
        status,
        elapsed,
    );
}

/// Counts one error in `ns_errors_total{endpoint, kind}`, as `#[monitor_api_endpoint]` does
/// for an `Err` or a panic.
pub fn record_error(endpoint: &str, kind: &str) {
    imp::record_error(endpoint, kind);
}
