//! Reading the real-time buckets back: what every instance wrote over a window.

use std::fmt;
use std::time::Duration;

use super::batch::{Layout, INSTANCES, TABLES};
use crate::stats::{CallStats, RealtimeSnapshot};
use crate::Status;

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

/// Adds one hash field's count (`ok`, `le:0.005`, `sum_ns`…) to a series' statistics.
fn add_field(stats: &mut CallStats, metric: &str, n: u64) {
    if metric == "sum_ns" {
        stats.sum_nanos += n;
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
        match stats
            .buckets
            .iter_mut()
            .find(|(b, _)| b.to_bits() == bound.to_bits())
        {
            Some(bucket) => bucket.1 += n,
            None => stats.buckets.push((bound, n)),
        }
    } else if let Some(status) = Status::ALL.iter().find(|s| s.as_str() == metric) {
        stats.by_status[status.index()] += n;
    } else if let Some(class) = metric
        .strip_suffix("xx")
        .and_then(|class| class.parse::<usize>().ok())
        .and_then(|class| class.checked_sub(1))
        .and_then(|i| stats.by_class.get_mut(i))
    {
        *class += n;
    }
}

/// The bucket starts covering `window` up to `now_secs`, oldest first.
pub(crate) fn buckets_in(layout: &Layout, now_secs: u64, window: Duration) -> Vec<u64> {
    let current = layout.bucket_of(now_secs);
    let count = window.as_secs().div_ceil(layout.bucket_secs).max(1);
    (0..count)
        .rev()
        .filter_map(|back| current.checked_sub(back * layout.bucket_secs))
        .collect()
}

/// The fields of one bucket's tables, in [`TABLES`] order, then its [`INSTANCES`].
pub(crate) type BucketTables = [Vec<(String, u64)>; 6];

/// Adds up the tables of every bucket read.
pub(crate) fn assemble(window: Duration, read: Vec<BucketTables>) -> RealtimeSnapshot {
    let mut snapshot = RealtimeSnapshot {
        window,
        ..RealtimeSnapshot::default()
    };
    for tables in read {
        let [api, db, err, cnt, http, instances] = tables;
        for (instance, unix_secs) in instances {
            let wrote = std::time::UNIX_EPOCH + Duration::from_secs(unix_secs);
            let last = snapshot.instances.entry(instance).or_insert(wrote);
            *last = (*last).max(wrote);
        }
        for (target, rows) in [
            (&mut snapshot.endpoints, api),
            (&mut snapshot.queries, db),
            (&mut snapshot.routes, http),
        ] {
            for (field, n) in rows {
                let mut parts = field.rsplitn(3, '|');
                let (Some(metric), Some(b), Some(a)) = (parts.next(), parts.next(), parts.next())
                else {
                    continue;
                };
                let stats = target.entry((a.to_owned(), b.to_owned())).or_default();
                add_field(stats, metric, n);
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
        .chain(snapshot.routes.values_mut())
    {
        stats.finish(window);
    }
    snapshot
}

/// The keys of one bucket's tables, in [`TABLES`] order, then its [`INSTANCES`].
pub(crate) fn bucket_keys(layout: &Layout, bucket: u64) -> [String; 6] {
    let [api, db, err, cnt, http] = TABLES;
    [api, db, err, cnt, http, INSTANCES].map(|table| layout.key(bucket, table))
}

#[cfg(test)]
mod tests {
    use super::*;

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
                vec![
                    ("/shops/{id}|GET|ok".into(), 5),
                    ("/shops/{id}|GET|error".into(), 1),
                    ("/shops/{id}|GET|2xx".into(), 4),
                    ("/shops/{id}|GET|4xx".into(), 1),
                    ("/shops/{id}|GET|5xx".into(), 1),
                ],
                vec![("host:1:ab".into(), 1_700_000_000)],
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
        let route = &snap.routes[&("/shops/{id}".to_owned(), "GET".to_owned())];
        assert_eq!((route.requests, route.errors), (12, 2));
        assert_eq!(route.by_class, [0, 8, 0, 2, 2]);
        assert_eq!(
            snap.instances["host:1:ab"],
            std::time::UNIX_EPOCH + Duration::from_secs(1_700_000_000)
        );
    }
}
