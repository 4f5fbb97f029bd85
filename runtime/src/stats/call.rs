//! Statistics of calls over a window, whatever the window was read from: rate, error ratio,
//! mean and quantiles interpolated from histogram buckets.

use std::collections::BTreeMap;
use std::time::Duration;

use crate::site::Status;

/// What was recorded over a recent window: by every instance writing to the same Redis and
/// namespace (`Realtime::snapshot`, feature `redis`), or by this instance alone
/// ([`Telemetry::local_stats`](crate::Telemetry::local_stats)).
///
/// From Redis, the window is covered by whole time buckets (see `TelemetryBuilder::realtime_bucket`):
/// the current one and as many before it as the window needs. In process, it is covered by
/// the samples kept (see [`Telemetry::local_stats`](crate::Telemetry::local_stats)).
#[derive(Debug, Clone, Default, PartialEq)]
#[non_exhaustive]
pub struct RealtimeSnapshot {
    /// The window the numbers cover; rates are per second of it. From Redis, the window asked
    /// for; in process, the span really covered by the samples kept.
    pub window: Duration,
    /// Requests by `(endpoint, method)`.
    pub endpoints: BTreeMap<(String, String), CallStats>,
    /// Queries by `(operation, table)`.
    pub queries: BTreeMap<(String, String), CallStats>,
    /// `ns_errors_total` by `(endpoint, kind)`: errors and panics of monitored endpoints.
    pub errors: BTreeMap<(String, String), u64>,
    /// Business counter increments by series, written `name{label="value",…}`.
    pub counters: BTreeMap<String, u64>,
    /// Requests through the HTTP layers by `(route, method)`, annotated or not, with their
    /// answers by status-code class ([`CallStats::by_class`]).
    pub routes: BTreeMap<(String, String), CallStats>,
    /// From Redis: each instance that wrote in the window (its id, `host:pid:random`) and when
    /// it last did, by the Redis server's clock. Empty in process.
    pub instances: BTreeMap<String, std::time::SystemTime>,
}

/// Calls of one endpoint or query over a window (across instances, when read from Redis).
#[derive(Debug, Clone, Default, PartialEq)]
#[non_exhaustive]
pub struct CallStats {
    /// Calls that ended, whatever their status.
    pub requests: u64,
    /// Calls by status, indexed like `Status::ALL`; read with [`CallStats::calls`].
    pub(crate) by_status: [u64; Status::COUNT],
    /// Calls that returned `Err` or panicked.
    pub errors: u64,
    /// `errors / requests` (0 without requests).
    pub error_ratio: f64,
    /// Requests per second over the window.
    pub rate: f64,
    /// Mean latency.
    pub mean: Option<Duration>,
    /// Median latency, interpolated within its histogram bucket.
    pub p50: Option<Duration>,
    /// 95th percentile latency.
    pub p95: Option<Duration>,
    /// 99th percentile latency.
    pub p99: Option<Duration>,
    /// Latency histogram: (upper bound in seconds, calls in that bucket), non-cumulative; the
    /// last bound is infinite.
    pub buckets: Vec<(f64, u64)>,
    /// HTTP routes only: answers by status-code class, `[1xx, 2xx, 3xx, 4xx, 5xx]` (a request
    /// the client left before its head is in none).
    pub by_class: [u64; 5],
    pub(crate) sum_nanos: u64,
}

impl CallStats {
    /// Calls that ended with `status`.
    pub fn calls(&self, status: Status) -> u64 {
        self.by_status[status.index()]
    }

    /// The latency at quantile `q` (0.0 to 1.0), interpolated linearly within the bucket it
    /// falls in, as Prometheus' `histogram_quantile` does; a quantile in the `+Inf` bucket is
    /// the largest finite bound.
    pub fn quantile(&self, q: f64) -> Option<Duration> {
        quantile(&self.buckets, q)
    }

    #[allow(clippy::cast_precision_loss)]
    /// Fills in the derived fields from the counts, for a window of `window`.
    pub(crate) fn finish(&mut self, window: Duration) {
        self.requests = self.by_status.iter().sum();
        self.errors = self.by_status[Status::Error.index()] + self.by_status[Status::Panic.index()];
        if self.requests > 0 {
            self.error_ratio = self.errors as f64 / self.requests as f64;
            self.mean = Some(Duration::from_nanos(self.sum_nanos / self.requests));
        }
        self.rate = self.requests as f64 / window.as_secs_f64().max(f64::MIN_POSITIVE);
        self.buckets
            .sort_by(|a, b| a.0.partial_cmp(&b.0).unwrap_or(std::cmp::Ordering::Equal));
        self.p50 = self.quantile(0.5);
        self.p95 = self.quantile(0.95);
        self.p99 = self.quantile(0.99);
    }
}

#[allow(clippy::cast_precision_loss)]
fn quantile(buckets: &[(f64, u64)], q: f64) -> Option<Duration> {
    let total: u64 = buckets.iter().map(|b| b.1).sum();
    if total == 0 {
        return None;
    }
    let rank = q.clamp(0.0, 1.0) * total as f64;
    let mut below = 0u64;
    let mut lower = 0.0;
    for (upper, n) in buckets {
        if (below + n) as f64 >= rank && *n > 0 {
            if upper.is_infinite() {
                return Some(Duration::from_secs_f64(lower));
            }
            let within = (rank - below as f64) / *n as f64;
            return Some(Duration::from_secs_f64(lower + (upper - lower) * within));
        }
        below += n;
        if upper.is_finite() {
            lower = *upper;
        }
    }
    Some(Duration::from_secs_f64(lower))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_interpolate_within_the_bucket() {
        let buckets = [(0.01, 50), (0.1, 50), (f64::INFINITY, 0)];
        let p50 = quantile(&buckets, 0.5).unwrap().as_secs_f64();
        assert!((p50 - 0.01).abs() < 1e-9, "{p50}");
        let p75 = quantile(&buckets, 0.75).unwrap().as_secs_f64();
        assert!((p75 - 0.055).abs() < 1e-9, "{p75}");
        assert_eq!(
            quantile(&[(0.5, 0), (f64::INFINITY, 3)], 0.9),
            Some(Duration::from_millis(500))
        );
        assert_eq!(quantile(&[(0.5, 0)], 0.9), None);
    }
}
