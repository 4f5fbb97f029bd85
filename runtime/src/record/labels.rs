//! Series labelled at run time, with a bound on how many label sets one metric may hold.

use std::collections::HashMap;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, OnceLock, PoisonError, RwLock};

/// The label value of every label of a metric's overflow series.
pub(crate) const OVERFLOW_VALUE: &str = "__overflow__";

type Key = Box<[Box<str>]>;
/// Hash of the label values → the series with that hash.
type Series<V> = HashMap<u64, Vec<(Key, Arc<V>)>>;

/// Label values → series, holding at most `limit` label sets. Once full, a new label set is
/// recorded into one overflow series (every label `__overflow__`) and counted in `overflowed`,
/// so a label fed from data (a path, a user id, an error message) cannot grow memory without
/// bound.
#[derive(Debug)]
pub(crate) struct LabelMap<V> {
    arity: usize,
    limit: usize,
    series: RwLock<Series<V>>,
    len: AtomicU64,
    overflow: OnceLock<Arc<V>>,
    overflowed: AtomicU64,
}

fn hash(values: &[&str]) -> u64 {
    let mut hasher = DefaultHasher::new();
    for value in values {
        value.hash(&mut hasher);
    }
    hasher.finish()
}

impl<V> LabelMap<V> {
    pub(crate) fn new(arity: usize, limit: usize) -> LabelMap<V> {
        LabelMap {
            arity,
            limit,
            series: RwLock::new(HashMap::new()),
            len: AtomicU64::new(0),
            overflow: OnceLock::new(),
            overflowed: AtomicU64::new(0),
        }
    }

    /// The series of `values`, made with `make` if new and there is room, else the overflow
    /// series. `values` must have the map's arity.
    pub(crate) fn get(&self, values: &[&str], make: impl FnOnce() -> V) -> Arc<V> {
        debug_assert_eq!(values.len(), self.arity);
        let key_hash = hash(values);
        let matches = |key: &Key| key.iter().map(AsRef::as_ref).eq(values.iter().copied());
        {
            let series = self.series.read().unwrap_or_else(PoisonError::into_inner);
            if let Some(found) = series
                .get(&key_hash)
                .and_then(|bucket| bucket.iter().find(|(k, _)| matches(k)))
            {
                return found.1.clone();
            }
        }
        let mut series = self.series.write().unwrap_or_else(PoisonError::into_inner);
        let bucket = series.entry(key_hash).or_default();
        if let Some(found) = bucket.iter().find(|(k, _)| matches(k)) {
            return found.1.clone();
        }
        if self.len.load(Relaxed) >= self.limit as u64 {
            drop(series);
            self.overflowed.fetch_add(1, Relaxed);
            return self.overflow.get_or_init(|| Arc::new(make())).clone();
        }
        let value = Arc::new(make());
        bucket.push((
            values.iter().map(|v| Box::<str>::from(*v)).collect(),
            value.clone(),
        ));
        self.len.fetch_add(1, Relaxed);
        value
    }

    /// Every series with its label values, the overflow series last.
    pub(crate) fn for_each(&self, mut f: impl FnMut(&[&str], &V)) {
        let mut rows: Vec<(Vec<&str>, Arc<V>)> = Vec::new();
        let series = self.series.read().unwrap_or_else(PoisonError::into_inner);
        for (key, value) in series.values().flatten() {
            rows.push((key.iter().map(AsRef::as_ref).collect(), value.clone()));
        }
        rows.sort_by(|a, b| a.0.cmp(&b.0));
        for (labels, value) in &rows {
            f(labels, value);
        }
        if let Some(overflow) = self.overflow.get() {
            f(&vec![OVERFLOW_VALUE; self.arity], overflow);
        }
    }

    /// How many recordings went to the overflow series because the map was full.
    pub(crate) fn overflowed(&self) -> u64 {
        self.overflowed.load(Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn full_maps_send_new_label_sets_to_one_overflow_series() {
        let map: LabelMap<AtomicU64> = LabelMap::new(1, 2);
        for v in ["a", "b", "a", "c", "d", "b"] {
            map.get(&[v], || AtomicU64::new(0)).fetch_add(1, Relaxed);
        }
        let mut seen = Vec::new();
        map.for_each(|labels, n| seen.push((labels[0].to_owned(), n.load(Relaxed))));
        assert_eq!(
            seen,
            [("a".into(), 2), ("b".into(), 2), (OVERFLOW_VALUE.into(), 2)]
        );
        assert_eq!(map.overflowed(), 2);
    }
}
