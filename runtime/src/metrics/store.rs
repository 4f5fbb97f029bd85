//! The metrics API's side that records into the store (`prometheus` or `redis`). Its twin `noop.rs`
//! has the same items doing nothing, so that the public module names no feature.

use std::time::Duration;

use super::{Counter, Gauge};
use crate::__private::SiteKind;
use crate::record::FamilyKind;
use crate::Status;

pub(super) fn add<const N: usize>(counter: &'static Counter<N>, values: [&str; N], n: u64) {
    crate::context::with_recorder(|recorder| {
        if let Some(family) = recorder.family(
            counter.name,
            FamilyKind::Counter,
            counter.help,
            &counter.labels,
        ) {
            family
                .series
                .get(&values, Default::default)
                .fetch_add(n, std::sync::atomic::Ordering::Relaxed);
        }
    });
}

pub(super) fn set<const N: usize>(gauge: &'static Gauge<N>, values: [&str; N], value: f64) {
    crate::context::with_recorder(|recorder| {
        if let Some(family) =
            recorder.family(gauge.name, FamilyKind::Gauge, gauge.help, &gauge.labels)
        {
            family
                .series
                .get(&values, Default::default)
                .store(value.to_bits(), std::sync::atomic::Ordering::Relaxed);
        }
    });
}

pub(super) fn set_db_connections(used: u64, max: u64) {
    crate::context::with_recorder(|recorder| recorder.set_pool(used, max));
}

pub(super) fn record_timed(kind: SiteKind, labels: [&str; 2], status: Status, elapsed: Duration) {
    crate::context::with_recorder(|recorder| {
        recorder.record_timed(kind, labels, status, elapsed);
    });
}

pub(super) fn record_error(endpoint: &str, kind: &str) {
    crate::context::with_recorder(|recorder| recorder.record_error(endpoint, kind));
}

/// A request started by `start_api_request`: its series, buckets and start.
#[derive(Debug)]
pub(super) struct Started(
    Option<(
        std::sync::Arc<crate::site::counters::TimedState>,
        &'static crate::site::bounds::Bounds,
        std::time::Instant,
    )>,
);

impl Started {
    pub(super) fn start(endpoint: &str, method: &str) -> Started {
        Started(crate::context::with_recorder(|recorder| {
            let (state, bounds) =
                recorder.labelled_series(SiteKind::TrackApiRequest, [endpoint, method]);
            state.begin();
            (state, bounds, std::time::Instant::now())
        }))
    }

    pub(super) fn end(&mut self, status: Status) {
        if let Some((state, bounds, start)) = self.0.take() {
            let nanos = crate::site::bounds::duration_nanos(start.elapsed());
            state.end(status, bounds.index(nanos), nanos);
        }
    }
}
