//! The in-process record every metrics backend reads: per-call-site atomics written on the hot
//! path, and per-[`Recorder`] maps for what is labelled at run time.
//!
//! The hot path of a tracked call is: one thread-local read (is a test-local recorder active?),
//! one relaxed `fetch_add` when it starts, two TSC clock reads, a bucket search and two relaxed
//! `fetch_add`s when it ends. No lock, no allocation, no label look-up. Counts, the histogram
//! and the in-flight gauge are all derived from those atomics when the exporter collects:
//! requests by status = the sum of that status's buckets; in flight = started − finished.

// A build with `redis` alone reads neither the in-flight gauge nor the pool or gauges.
#![cfg_attr(not(feature = "prometheus"), allow(dead_code, unused_imports))]

pub(crate) mod export;
mod http;
mod labels;
mod recorder;
mod snapshot;

pub(crate) use crate::site::bounds::{Bounds, DEFAULT_API_BOUNDS, DEFAULT_DB_BOUNDS};
pub(crate) use crate::site::counters::TimedSnapshot;
#[cfg_attr(not(feature = "axum"), allow(unused_imports))]
pub(crate) use http::{HttpSeries, HttpSnapshot, Incomplete};
pub(crate) use recorder::{FamilyKind, Recorder, RecorderConfig};
#[cfg(test)]
pub(crate) use snapshot::{FamilySnapshot, Overflow};
pub(crate) use snapshot::{FamilyValues, Snapshot};

use std::sync::atomic::AtomicPtr;
use std::sync::atomic::Ordering::{Acquire, Release};
use std::sync::OnceLock;

use crate::site::SiteKind;

/// The clock of the hot path: the TSC where it is invariant (two reads cost a few ns), else
/// the OS monotonic clock.
#[inline(always)]
pub(crate) fn clock() -> &'static quanta::Clock {
    static CLOCK: OnceLock<quanta::Clock> = OnceLock::new();
    CLOCK.get_or_init(quanta::Clock::new)
}

static API_BOUNDS: AtomicPtr<Bounds> = AtomicPtr::new(std::ptr::null_mut());
static DB_BOUNDS: AtomicPtr<Bounds> = AtomicPtr::new(std::ptr::null_mut());

/// The process-wide histogram bounds for a kind of site (set by `install`, else the defaults).
#[inline(always)]
pub(crate) fn global_bounds(kind: SiteKind) -> &'static Bounds {
    let slot = if kind == SiteKind::TrackDatabaseQuery {
        &DB_BOUNDS
    } else {
        &API_BOUNDS
    };
    // SAFETY: the slot only ever holds null or a leaked, never-freed `Bounds`.
    match unsafe { slot.load(Acquire).as_ref() } {
        Some(bounds) => bounds,
        None => default_bounds(kind),
    }
}

#[cold]
fn default_bounds(kind: SiteKind) -> &'static Bounds {
    static API: OnceLock<&'static Bounds> = OnceLock::new();
    static DB: OnceLock<&'static Bounds> = OnceLock::new();
    let (cell, seconds): (_, &[f64]) = if kind == SiteKind::TrackDatabaseQuery {
        (&DB, &DEFAULT_DB_BOUNDS)
    } else {
        (&API, &DEFAULT_API_BOUNDS)
    };
    cell.get_or_init(|| {
        Bounds::new(seconds)
            .expect("default bounds are valid")
            .leak()
    })
}

pub(crate) fn set_global_bounds(api: &'static Bounds, db: &'static Bounds) {
    API_BOUNDS.store(std::ptr::from_ref(api).cast_mut(), Release);
    DB_BOUNDS.store(std::ptr::from_ref(db).cast_mut(), Release);
}
