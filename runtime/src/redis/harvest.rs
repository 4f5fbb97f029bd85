//! What changed since the last flush: the recorder's cumulative counters, read off the hot
//! path as one [`Snapshot`], minus what the flusher took the time before.

use std::collections::HashMap;
use std::fmt::Write as _;

use crate::record::{FamilyValues, Snapshot, TimedSnapshot};

/// One series as the Redis backend writes it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) enum SeriesKey {
    /// `(endpoint, method)`.
    Api(String, String),
    /// `(operation, table)`.
    Db(String, String),
    /// `(endpoint, kind)` of `ns_errors_total`.
    Error(String, String),
    /// A business counter, as `name{label="value",…}`.
    Counter(String),
}

/// The values of a timed series: `[ok, error, panic, cancelled, bucket 0 … +Inf, sum_nanos]`;
/// of a counter: `[n]`. Deltas have the same layout.
pub(crate) type Values = Vec<u64>;

/// How many recordings (calls, increments) a delta holds: what is lost when it is dropped.
pub(crate) fn recordings(key: &SeriesKey, values: &[u64]) -> u64 {
    match key {
        SeriesKey::Api(..) | SeriesKey::Db(..) => values.iter().take(4).sum(),
        SeriesKey::Error(..) | SeriesKey::Counter(_) => values.iter().sum(),
    }
}

fn timed_values(snap: &TimedSnapshot) -> Values {
    let mut values = Vec::with_capacity(snap.buckets.len() + 5);
    values.extend_from_slice(&snap.by_status);
    values.extend_from_slice(&snap.buckets);
    values.push(snap.sum_nanos);
    values
}

/// `name{a="x",b="y"}`, label values escaped as in the Prometheus text format.
pub(crate) fn counter_series(name: &str, label_names: &[&str], values: &[&str]) -> String {
    let mut series = String::from(name);
    series.push('{');
    for (i, (label, value)) in label_names.iter().zip(values).enumerate() {
        if i > 0 {
            series.push(',');
        }
        let escaped = value
            .replace('\\', "\\\\")
            .replace('"', "\\\"")
            .replace('\n', "\\n");
        let _ = write!(series, "{label}=\"{escaped}\"");
    }
    series.push('}');
    series
}

/// Every cumulative series of a snapshot, as the Redis backend writes them.
fn read(snapshot: &Snapshot) -> Vec<(SeriesKey, Values)> {
    let mut out: Vec<(SeriesKey, Values)> =
        Vec::with_capacity(snapshot.api.len() + snapshot.db.len());
    for ((endpoint, method), snap) in &snapshot.api {
        out.push((
            SeriesKey::Api(endpoint.clone(), method.clone()),
            timed_values(snap),
        ));
    }
    for ((operation, table), snap) in &snapshot.db {
        out.push((
            SeriesKey::Db(operation.clone(), table.clone()),
            timed_values(snap),
        ));
    }
    for ((endpoint, kind), n) in &snapshot.errors {
        out.push((SeriesKey::Error(endpoint.clone(), kind.clone()), vec![*n]));
    }
    for family in &snapshot.families {
        // gauges are a level, not a count over time: Prometheus has them
        let FamilyValues::Counter(series) = &family.values else {
            continue;
        };
        for (values, n) in series {
            let values: Vec<&str> = values.iter().map(String::as_str).collect();
            out.push((
                SeriesKey::Counter(counter_series(family.name, family.label_names, &values)),
                vec![*n],
            ));
        }
    }
    out
}

/// The cumulative values taken so far, by series.
#[derive(Debug, Default)]
pub(crate) struct Harvester {
    taken: HashMap<SeriesKey, Values>,
}

impl Harvester {
    /// What changed in `snapshot` since the last call, series by series (unchanged ones left
    /// out); from now on that is counted as taken.
    pub(crate) fn harvest(&mut self, snapshot: &Snapshot) -> Vec<(SeriesKey, Values)> {
        let mut deltas = Vec::new();
        for (key, now) in read(snapshot) {
            let taken = self.taken.entry(key.clone()).or_default();
            if taken.len() < now.len() {
                taken.resize(now.len(), 0);
            }
            let delta: Values = now
                .iter()
                .zip(taken.iter())
                .map(|(n, t)| n.saturating_sub(*t))
                .collect();
            if delta.iter().any(|d| *d > 0) {
                *taken = now;
                deltas.push((key, delta));
            }
        }
        deltas
    }
}
