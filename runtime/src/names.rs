//! The metric families kansoku exports, by name: the one list that the exporter renders and
//! the rule and dashboard generator (`kansoku::deploy`, feature `deploy`) builds its
//! queries from, so a generated query never names a series that is not exported.
//!
//! A family's exported name is `namespace_name`:
//!
//! ```
//! use kansoku::names;
//! assert_eq!(names::API_REQUESTS.exported("osakamenesu"), "osakamenesu_api_requests_total");
//! assert_eq!(names::API_REQUESTS.labels, ["endpoint", "method", "status"]);
//! ```

/// What kind of series a family holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Only goes up; query it with `rate`.
    Counter,
    /// Goes up and down.
    Gauge,
    /// `_bucket{le}`, `_sum` and `_count` series.
    Histogram,
}

/// One metric family: its name under the namespace, kind, help text and label names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Family {
    /// The name after `namespace_`.
    pub name: &'static str,
    /// Counter, gauge or histogram.
    pub kind: Kind,
    /// The `# HELP` text.
    pub help: &'static str,
    /// The label names, sorted as they are printed.
    pub labels: &'static [&'static str],
}

impl Family {
    /// The name as exported under `namespace`.
    ///
    /// ```
    /// assert_eq!(kansoku::names::ALERT_FIRING.exported("shop"), "shop_alert_firing");
    /// ```
    pub fn exported(&self, namespace: &str) -> String {
        format!("{namespace}_{}", self.name)
    }
}

const fn family(
    name: &'static str,
    kind: Kind,
    help: &'static str,
    labels: &'static [&'static str],
) -> Family {
    Family {
        name,
        kind,
        help,
        labels,
    }
}

/// `#[track_api_request]`: calls by endpoint, method and outcome ([`Status`](crate::Status)).
pub const API_REQUESTS: Family = family(
    "api_requests_total",
    Kind::Counter,
    "API requests, by endpoint, method and outcome.",
    &["endpoint", "method", "status"],
);
/// `#[track_api_request]`: latency.
pub const API_DURATION: Family = family(
    "api_request_duration_seconds",
    Kind::Histogram,
    "API request duration in seconds.",
    &["endpoint", "method"],
);
/// `#[track_api_request]`: calls started and not yet finished.
pub const API_IN_FLIGHT: Family = family(
    "api_requests_in_flight",
    Kind::Gauge,
    "API requests in progress.",
    &["endpoint"],
);
/// `#[monitor_api_endpoint]`: errors and panics by error type.
pub const ERRORS: Family = family(
    "errors_total",
    Kind::Counter,
    "Errors and panics of monitored endpoints, by error type.",
    &["endpoint", "kind"],
);
/// `#[track_database_query]`: queries by operation, table and outcome.
pub const DB_QUERIES: Family = family(
    "database_queries_total",
    Kind::Counter,
    "Database queries, by operation, table and outcome.",
    &["operation", "status", "table"],
);
/// `#[track_database_query]`: latency.
pub const DB_DURATION: Family = family(
    "database_query_duration_seconds",
    Kind::Histogram,
    "Database query duration in seconds.",
    &["operation", "table"],
);
/// [`metrics::set_db_connections`](crate::metrics::set_db_connections): connections in use.
pub const DB_CONNECTIONS_USED: Family = family(
    "database_connections_used",
    Kind::Gauge,
    "Database connections in use.",
    &[],
);
/// [`metrics::set_db_connections`](crate::metrics::set_db_connections): the pool's size.
pub const DB_CONNECTIONS_MAX: Family = family(
    "database_connections_max",
    Kind::Gauge,
    "Database connections the pool may open.",
    &[],
);
/// Recordings folded into a metric's `__overflow__` series.
pub const SERIES_OVERFLOW: Family = family(
    "metric_series_overflow_total",
    Kind::Counter,
    "Recordings sent to a metric's __overflow__ series because it held its maximum of label sets.",
    &["metric"],
);
/// Recordings the `redis` backend could not hold for an unreachable Redis.
pub const REALTIME_DROPPED: Family = family(
    "realtime_dropped_total",
    Kind::Counter,
    "Recordings left out of the real-time counters in Redis: more series were held for an unreachable Redis than realtime_max_pending.",
    &[],
);
/// The HTTP middleware: requests by route template and status code.
pub const HTTP_REQUESTS: Family = family(
    "http_requests_total",
    Kind::Counter,
    "HTTP requests, by method, route template and status code (`cancelled`: the client went away).",
    &["method", "route", "status_code"],
);
/// The HTTP middleware: latency.
pub const HTTP_DURATION: Family = family(
    "http_request_duration_seconds",
    Kind::Histogram,
    "HTTP request duration in seconds, to the end of the response body.",
    &["method", "route"],
);
/// The HTTP middleware: requests in progress.
pub const HTTP_IN_FLIGHT: Family = family(
    "http_requests_in_flight",
    Kind::Gauge,
    "HTTP requests in progress.",
    &["method", "route"],
);
/// The HTTP middleware: requests slower than its threshold.
pub const HTTP_SLOW: Family = family(
    "http_slow_requests_total",
    Kind::Counter,
    "HTTP requests slower than the layer's threshold.",
    &["method", "route"],
);
/// The HTTP middleware: responses whose body ended early (a stream the client left, a body
/// that failed after the head went out); the head's status code is in `http_requests_total`.
pub const HTTP_INCOMPLETE: Family = family(
    "http_responses_incomplete_total",
    Kind::Counter,
    "HTTP responses whose body ended early, by reason: client_gone, body_error.",
    &["method", "route", "reason"],
);
/// The HTTP middleware: gRPC calls by their `grpc-status` (0 `OK` to 16), read from the
/// trailers or a trailers-only head; the HTTP status code (`200`) is in `http_requests_total`.
pub const HTTP_GRPC: Family = family(
    "grpc_responses_total",
    Kind::Counter,
    "gRPC calls served through the HTTP middleware, by grpc-status (0 is OK; any other is a failure).",
    &["method", "route", "grpc_status"],
);
/// The ops router's health checks: 1 when the check passed.
pub const HEALTH_CHECK_UP: Family = family(
    "health_check_up",
    Kind::Gauge,
    "Whether a dependency's health check passed (1) or failed (0) at its last run.",
    &["check"],
);
/// The ops router's health checks: how long a check took.
pub const HEALTH_CHECK_DURATION: Family = family(
    "health_check_duration_seconds",
    Kind::Gauge,
    "How long a dependency's last health check took, in seconds.",
    &["check"],
);
/// `kansoku::alert`: 1 while an application alert fires.
pub const ALERT_FIRING: Family = family(
    "alert_firing",
    Kind::Gauge,
    "1 while the application alert fires, 0 when it does not.",
    &["alert"],
);
/// Sentry events, transactions and spans not delivered (the `sentry` backend).
pub const SENTRY_EVENTS_DROPPED: Family = family(
    "sentry_events_dropped_total",
    Kind::Counter,
    "Sentry events, transactions and spans that were not delivered, by data category and Sentry's client-report discard reason.",
    &["category", "reason"],
);

/// Pushes of the metrics over OTLP that failed, by reason (the `otlp` backend). Nothing is lost
/// by one: the next push carries the totals (cumulative) or the deltas since the last accepted
/// push (delta).
pub const OTLP_EXPORTS_FAILED: Family = family(
    "otlp_exports_failed_total",
    Kind::Counter,
    "Pushes over OTLP (metrics or spans) that failed, by reason: network, timeout, rejected (4xx), unavailable (429, 5xx).",
    &["reason"],
);

/// Sampled spans that never reached the OTLP collector, by reason: the queue was full (the
/// collector slower than the calls, or away longer than the queue holds), or it refused them.
pub const OTLP_SPANS_DROPPED: Family = family(
    "otlp_spans_dropped_total",
    Kind::Counter,
    "Sampled spans dropped before reaching the OTLP collector, by reason: queue_full, rejected.",
    &["reason"],
);

/// Every family, in the order above.
pub const ALL: [Family; 22] = [
    API_REQUESTS,
    API_DURATION,
    API_IN_FLIGHT,
    ERRORS,
    DB_QUERIES,
    DB_DURATION,
    DB_CONNECTIONS_USED,
    DB_CONNECTIONS_MAX,
    SERIES_OVERFLOW,
    REALTIME_DROPPED,
    HTTP_REQUESTS,
    HTTP_DURATION,
    HTTP_IN_FLIGHT,
    HTTP_SLOW,
    HTTP_INCOMPLETE,
    HTTP_GRPC,
    HEALTH_CHECK_UP,
    HEALTH_CHECK_DURATION,
    ALERT_FIRING,
    SENTRY_EVENTS_DROPPED,
    OTLP_EXPORTS_FAILED,
    OTLP_SPANS_DROPPED,
];

/// The upper bounds (seconds) of `api_request_duration_seconds` when the builder sets none:
/// 5 ms … 10 s, the Prometheus clients' defaults.
pub const DEFAULT_API_BUCKETS: [f64; 11] = [
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];
/// The upper bounds (seconds) of `database_query_duration_seconds` when the builder sets none:
/// 1 ms … 5 s.
pub const DEFAULT_DB_BUCKETS: [f64; 12] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
];
