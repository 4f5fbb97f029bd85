//! What changed since the last look: a recorder's cumulative counters, read off the hot path
//! as one [`Snapshot`], minus what was taken the time before. The Redis flusher sends these
//! deltas; the in-process window keeps them.

use std::collections::HashMap;
use std::fmt::Write as _;

use crate::record::{FamilyValues, Snapshot, TimedSnapshot};

/// One series, as the deltas name it (and the Redis backend writes it).
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
    /// `(route, method)` of the HTTP layer: timed as a request series.
    Http(String, String),
    /// `(route, method)` of the HTTP layer: answers by status-code class, `[1xx … 5xx]`.
    HttpClass(String, String),
}

/// The values of a timed series: `[ok, error, panic, cancelled, bucket 0 … +Inf, sum_nanos]`;
/// of a counter: `[n]`. Deltas have the same layout.
pub(crate) type Values = Vec<u64>;

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

/// Every cumulative series of a snapshot, in the layout of [`Values`].
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
    for ((method, route), snap) in &snapshot.http {
        out.push((
            SeriesKey::Http(route.clone(), method.clone()),
            timed_values(&snap.timed),
        ));
        let mut classes = vec![0; 5];
        for (code, n) in &snap.codes {
            if let Some(class) = (usize::from(*code) / 100)
                .checked_sub(1)
                .and_then(|i| classes.get_mut(i))
            {
                *class += n;
            }
        }
        out.push((SeriesKey::HttpClass(route.clone(), method.clone()), classes));
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
            if let Some(delta) = delta(&now, taken) {
                *taken = now;
                deltas.push((key, delta));
            }
        }
        deltas
    }

    /// What changed in `snapshot` since the last harvest, without taking it.
    pub(crate) fn peek(&self, snapshot: &Snapshot) -> Vec<(SeriesKey, Values)> {
        read(snapshot)
            .into_iter()
            .filter_map(|(key, now)| {
                let taken = self.taken.get(&key).map_or(&[][..], Vec::as_slice);
                delta(&now, taken).map(|delta| (key, delta))
            })
            .collect()
    }
}

/// `now - taken`, value by value (a value not taken yet counts from 0); `None` when nothing
/// grew.
fn delta(now: &[u64], taken: &[u64]) -> Option<Values> {
    let taken = taken.iter().copied().chain(std::iter::repeat(0));
    let delta: Values = now
        .iter()
        .zip(taken)
        .map(|(n, t)| n.saturating_sub(t))
        .collect();
    delta.iter().any(|d| *d > 0).then_some(delta)
}
