//! Reading the real-time buckets back: what every instance wrote over a window.

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

use super::batch::{Layout, TABLES};
use crate::Status;

/// What every instance writing to the same Redis and namespace recorded over a recent window;
/// made by [`Realtime::snapshot`](crate::Realtime::snapshot).
///
/// The window is covered by whole time buckets (see
/// [`TelemetryBuilder::realtime_bucket`](crate::TelemetryBuilder::realtime_bucket)): the
/// current one and as many before it as the window needs.
#[derive(Debug, Clone, Default, PartialEq)]
#[non_exhaustive]
pub struct RealtimeSnapshot {
    /// The window asked for; rates are per second of it.
    pub window: Duration,
    /// Requests by `(endpoint, method)`.
    pub endpoints: BTreeMap<(String, String), CallStats>,
    /// Queries by `(operation, table)`.
    pub queries: BTreeMap<(String, String), CallStats>,
    /// `ns_errors_total` by `(endpoint, kind)`: errors and panics of monitored endpoints.
    pub errors: BTreeMap<(String, String), u64>,
    /// Business counter increments by series, written `name{label="value",…}`.
    pub counters: BTreeMap<String, u64>,
}

/// Calls of one endpoint or query over the window, across instances.
#[derive(Debug, Clone, Default, PartialEq)]
#[non_exhaustive]
pub struct CallStats {
    /// Calls that ended, whatever their status.
    pub requests: u64,
    /// Calls by [`Status`], indexed like [`Status::ALL`]: ok, error, panic, cancelled.
    pub by_status: [u64; 4],
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
    sum_nanos: u64,
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
    fn finish(&mut self, window: Duration) {
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

    fn add(&mut self, metric: &str, n: u64) {
        if metric == "sum_ns" {
            self.sum_nanos += n;
        } else if let Some(le) = metric.strip_prefix("le:") {
            let bound = if le == "+Inf" {
                f64::INFINITY
            } else {
                match le.parse() {
                    Ok(bound) => bound,
                    Err(_) => return,
                }
            };
            // bounds are parsed from the same text every time: equal text, equal bits
            match self
                .buckets
                .iter_mut()
                .find(|(b, _)| b.to_bits() == bound.to_bits())
            {
                Some(bucket) => bucket.1 += n,
                None => self.buckets.push((bound, n)),
            }
        } else if let Some(status) = Status::ALL.iter().find(|s| s.as_str() == metric) {
            self.by_status[status.index()] += n;
        }
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

/// Why a real-time snapshot could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum RealtimeError {
    /// The `Telemetry` has no Redis URL.
    NotConfigured,
    /// The backend was shut down.
    Stopped,
    /// Redis could not be reached or answered with an error.
    Redis(String),
}

impl fmt::Display for RealtimeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RealtimeError::NotConfigured => {
                f.write_str("no Redis URL is configured (redis_url or KANSOKU_REDIS_URL)")
            }
            RealtimeError::Stopped => f.write_str("the Redis backend was shut down"),
            RealtimeError::Redis(why) => write!(f, "Redis: {why}"),
        }
    }
}

impl std::error::Error for RealtimeError {}

/// The bucket starts covering `window` up to `now_secs`, oldest first.
pub(crate) fn buckets_in(layout: &Layout, now_secs: u64, window: Duration) -> Vec<u64> {
    let current = layout.bucket_of(now_secs);
    let count = window.as_secs().div_ceil(layout.bucket_secs).max(1);
    (0..count)
        .rev()
        .filter_map(|back| current.checked_sub(back * layout.bucket_secs))
        .collect()
}

/// The fields of one bucket's tables, in [`TABLES`] order.
pub(crate) type BucketTables = [Vec<(String, u64)>; 4];

/// Adds up the tables of every bucket read.
pub(crate) fn assemble(window: Duration, read: Vec<BucketTables>) -> RealtimeSnapshot {
    let mut snapshot = RealtimeSnapshot {
        window,
        ..RealtimeSnapshot::default()
    };
    for tables in read {
        let [api, db, err, cnt] = tables;
        for (target, rows) in [(&mut snapshot.endpoints, api), (&mut snapshot.queries, db)] {
            for (field, n) in rows {
                let mut parts = field.rsplitn(3, '|');
                let (Some(metric), Some(b), Some(a)) = (parts.next(), parts.next(), parts.next())
                else {
                    continue;
                };
                target
                    .entry((a.to_owned(), b.to_owned()))
                    .or_default()
                    .add(metric, n);
            }
        }
        for (field, n) in err {
            if let Some((endpoint, kind)) = field.rsplit_once('|') {
                *snapshot
                    .errors
                    .entry((endpoint.to_owned(), kind.to_owned()))
                    .or_default() += n;
            }
        }
        for (series, n) in cnt {
            *snapshot.counters.entry(series).or_default() += n;
        }
    }
    for stats in snapshot
        .endpoints
        .values_mut()
        .chain(snapshot.queries.values_mut())
    {
        stats.finish(window);
    }
    snapshot
}

/// The keys of one bucket's tables, in [`TABLES`] order.
pub(crate) fn bucket_keys(layout: &Layout, bucket: u64) -> [String; 4] {
    TABLES.map(|table| layout.key(bucket, table))
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

    #[test]
    fn fields_are_added_across_buckets() {
        let bucket = || -> BucketTables {
            [
                vec![
                    ("/a|b|GET|ok".into(), 3),
                    ("/a|b|GET|error".into(), 1),
                    ("/a|b|GET|le:0.01".into(), 4),
                    ("/a|b|GET|sum_ns".into(), 8_000_000),
                ],
                vec![],
                vec![("/a|b|DbError".into(), 1)],
                vec![("c{x=\"1\"}".into(), 2)],
            ]
        };
        let snap = assemble(Duration::from_secs(4), vec![bucket(), bucket()]);
        let stats = &snap.endpoints[&("/a|b".to_owned(), "GET".to_owned())];
        assert_eq!(stats.requests, 8);
        assert_eq!(stats.errors, 2);
        assert!((stats.rate - 2.0).abs() < 1e-9);
        assert_eq!(stats.mean, Some(Duration::from_millis(2)));
        assert_eq!(snap.errors[&("/a|b".to_owned(), "DbError".to_owned())], 2);
        assert_eq!(snap.counters["c{x=\"1\"}"], 4);
    }
}
