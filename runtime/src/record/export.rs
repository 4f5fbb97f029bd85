//! The metric families every exporter writes, built from one [`Snapshot`]: names, help, kinds,
//! labels and values, in no wire format. The Prometheus text (`prometheus_backend.rs`) and OTLP (`otlp/`)
//! each encode these, so both show the same series with the same values.

use std::collections::BTreeMap;

use super::{Bounds, FamilyValues, Snapshot, TimedSnapshot};
use crate::backend::CounterFamily;
use crate::names::{self, Kind};

/// One metric family.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Family {
    /// The name after the namespace (`api_requests_total`).
    pub(crate) name: &'static str,
    pub(crate) help: &'static str,
    pub(crate) kind: Kind,
    pub(crate) series: Vec<Series>,
}

/// One series of a family: its labels, in the family's order, and its value.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Series {
    pub(crate) labels: Vec<(&'static str, String)>,
    pub(crate) value: Value,
}

/// A series' value; a counter's and a histogram's are totals since the recorder began.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Value {
    Counter(u64),
    Gauge(f64),
    Histogram(Histogram),
}

/// An explicit-bucket histogram.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Histogram {
    /// Upper bounds in seconds; `buckets` has one more count, for `+Inf`.
    pub(crate) bounds: &'static [f64],
    /// Counts per bucket, not cumulative.
    pub(crate) buckets: Vec<u64>,
    pub(crate) count: u64,
    /// Seconds.
    pub(crate) sum: f64,
}

impl Family {
    fn new(family: names::Family, series: Vec<Series>) -> Family {
        Family {
            name: family.name,
            help: family.help,
            kind: family.kind,
            series,
        }
    }
}

fn series<const N: usize>(labels: [(&'static str, &str); N], value: Value) -> Series {
    Series {
        labels: labels
            .into_iter()
            .map(|(name, value)| (name, value.to_owned()))
            .collect(),
        value,
    }
}

#[allow(clippy::cast_precision_loss)] // sums above 2^53 ns (104 days) lose precision anyway
fn histogram(snap: &TimedSnapshot, bounds: &'static Bounds) -> Value {
    Value::Histogram(Histogram {
        bounds: &bounds.seconds,
        buckets: snap.buckets.clone(),
        count: snap.count(),
        sum: snap.sum_nanos as f64 / 1e9,
    })
}

/// Every family of `snapshot`, in a fixed order; `namespace` names the metrics in
/// `metric_series_overflow_total`'s `metric` label. A family may have no series.
pub(crate) fn families(snapshot: &Snapshot, namespace: &str) -> Vec<Family> {
    let mut out = Vec::new();
    api(snapshot, &mut out);
    db(snapshot, &mut out);
    http(snapshot, &mut out);
    labelled(snapshot, namespace, &mut out);
    out
}

/// The counters every backend of `context` keeps about itself (what it dropped…), as
/// families: shown beside the store's by every exporter.
pub(crate) fn backend_counters(context: &crate::context::Context) -> Vec<Family> {
    context
        .backends
        .iter()
        .flat_map(|backend| backend.counters())
        .map(|family| counter_family(&family))
        .collect()
}

fn counter_family(family: &CounterFamily) -> Family {
    Family::new(
        family.family,
        family
            .values
            .iter()
            .map(|(values, count)| Series {
                labels: family
                    .family
                    .labels
                    .iter()
                    .copied()
                    .zip(values.iter().map(|value| (*value).to_owned()))
                    .collect(),
                value: Value::Counter(*count),
            })
            .collect(),
    )
}

#[allow(clippy::cast_precision_loss)]
fn api(snapshot: &Snapshot, out: &mut Vec<Family>) {
    let mut requests = Vec::new();
    let mut durations = Vec::new();
    let mut in_flight: BTreeMap<&str, u64> = BTreeMap::new();
    for ((endpoint, method), snap) in &snapshot.api {
        for status in crate::Status::ALL {
            let n = snap.by_status[status.index()];
            if n > 0 {
                requests.push(series(
                    [
                        ("endpoint", endpoint),
                        ("method", method),
                        ("status", status.as_str()),
                    ],
                    Value::Counter(n),
                ));
            }
        }
        if snap.count() > 0 {
            durations.push(series(
                [("endpoint", endpoint), ("method", method)],
                histogram(snap, snapshot.api_bounds),
            ));
        }
        *in_flight.entry(endpoint).or_default() += snap.in_flight;
    }
    let in_flight = in_flight
        .into_iter()
        .map(|(endpoint, n)| series([("endpoint", endpoint)], Value::Gauge(n as f64)))
        .collect();
    out.push(Family::new(names::API_REQUESTS, requests));
    out.push(Family::new(names::API_DURATION, durations));
    out.push(Family::new(names::API_IN_FLIGHT, in_flight));
}

#[allow(clippy::cast_precision_loss)]
fn db(snapshot: &Snapshot, out: &mut Vec<Family>) {
    let mut queries = Vec::new();
    let mut durations = Vec::new();
    for ((operation, table), snap) in &snapshot.db {
        for status in crate::Status::ALL {
            let n = snap.by_status[status.index()];
            if n > 0 {
                queries.push(series(
                    [
                        ("operation", operation),
                        ("table", table),
                        ("status", status.as_str()),
                    ],
                    Value::Counter(n),
                ));
            }
        }
        if snap.count() > 0 {
            durations.push(series(
                [("operation", operation), ("table", table)],
                histogram(snap, snapshot.db_bounds),
            ));
        }
    }
    out.push(Family::new(names::DB_QUERIES, queries));
    out.push(Family::new(names::DB_DURATION, durations));
    if let Some((used, max)) = snapshot.pool {
        let gauge = |n: u64| vec![series([], Value::Gauge(n as f64))];
        out.push(Family::new(names::DB_CONNECTIONS_USED, gauge(used)));
        out.push(Family::new(names::DB_CONNECTIONS_MAX, gauge(max)));
    }
}

/// `ns_http_*`: families are written only once the layer has seen a request, so a service
/// without it exports none.
#[allow(clippy::cast_precision_loss)]
fn http(snapshot: &Snapshot, out: &mut Vec<Family>) {
    if snapshot.http.is_empty() {
        return;
    }
    let (mut requests, mut durations, mut in_flight, mut slow, mut incomplete, mut grpc) = (
        Vec::new(),
        Vec::new(),
        Vec::new(),
        Vec::new(),
        Vec::new(),
        Vec::new(),
    );
    for ((method, route), snap) in &snapshot.http {
        let pairs = [("method", method.as_str()), ("route", route.as_str())];
        for (code, n) in &snap.codes {
            let code = code.to_string();
            requests.push(series(
                [pairs[0], pairs[1], ("status_code", &code)],
                Value::Counter(*n),
            ));
        }
        if snap.cancelled() > 0 {
            requests.push(series(
                [pairs[0], pairs[1], ("status_code", "cancelled")],
                Value::Counter(snap.cancelled()),
            ));
        }
        if snap.timed.count() > 0 {
            durations.push(series(pairs, histogram(&snap.timed, snapshot.api_bounds)));
        }
        in_flight.push(series(pairs, Value::Gauge(snap.timed.in_flight as f64)));
        slow.push(series(pairs, Value::Counter(snap.slow)));
        for why in crate::record::Incomplete::ALL {
            let n = snap.incomplete[why as usize];
            if n > 0 {
                incomplete.push(series(
                    [pairs[0], pairs[1], ("reason", why.name())],
                    Value::Counter(n),
                ));
            }
        }
        for (code, n) in snap.grpc.iter().enumerate() {
            if *n > 0 {
                let code = code.to_string();
                grpc.push(series(
                    [pairs[0], pairs[1], ("grpc_status", &code)],
                    Value::Counter(*n),
                ));
            }
        }
    }
    out.push(Family::new(names::HTTP_REQUESTS, requests));
    out.push(Family::new(names::HTTP_DURATION, durations));
    out.push(Family::new(names::HTTP_IN_FLIGHT, in_flight));
    out.push(Family::new(names::HTTP_SLOW, slow));
    out.push(Family::new(names::HTTP_INCOMPLETE, incomplete));
    out.push(Family::new(names::HTTP_GRPC, grpc));
}

fn labelled(snapshot: &Snapshot, namespace: &str, out: &mut Vec<Family>) {
    let mut overflow = Vec::new();
    let mut note_overflow = |metric: &str, n: u64| {
        if n > 0 {
            overflow.push(series(
                [("metric", &format!("{namespace}_{metric}"))],
                Value::Counter(n),
            ));
        }
    };
    let errors = snapshot
        .errors
        .iter()
        .map(|((endpoint, kind), n)| {
            series([("endpoint", endpoint), ("kind", kind)], Value::Counter(*n))
        })
        .collect();
    out.push(Family::new(names::ERRORS, errors));
    note_overflow(names::ERRORS.name, snapshot.overflow.errors);
    note_overflow(names::API_REQUESTS.name, snapshot.overflow.api);
    note_overflow(names::DB_QUERIES.name, snapshot.overflow.db);
    note_overflow(names::HTTP_REQUESTS.name, snapshot.overflow.http);
    for family in &snapshot.families {
        let labels = |values: &[String]| {
            family
                .label_names
                .iter()
                .copied()
                .zip(values.iter().cloned())
                .collect()
        };
        let (kind, series) = match &family.values {
            FamilyValues::Counter(values) => (
                Kind::Counter,
                values
                    .iter()
                    .map(|(values, n)| Series {
                        labels: labels(values),
                        value: Value::Counter(*n),
                    })
                    .collect(),
            ),
            FamilyValues::Gauge(values) => (
                Kind::Gauge,
                values
                    .iter()
                    .map(|(values, v)| Series {
                        labels: labels(values),
                        value: Value::Gauge(*v),
                    })
                    .collect(),
            ),
        };
        out.push(Family {
            name: family.name,
            help: family.help,
            kind,
            series,
        });
        note_overflow(family.name, family.overflowed);
    }
    out.push(Family::new(names::SERIES_OVERFLOW, overflow));
}
