//! The seam between a [`Telemetry`](crate::Telemetry) and what it feeds.
//!
//! A backend (the Prometheus exporter, Sentry, Redis; next the HTTP layer, health checks and
//! alerts) is one module that implements [`Backend`] and is started in one place,
//! `telemetry/backends.rs`, which is the only file that names them all. The telemetry handle
//! flushes, shuts down and reports the health of its backends through this trait alone; a
//! module that needs its own backend of the current telemetry finds it with
//! [`Context::backend`](crate::context::Context::backend).

use std::any::Any;
use std::collections::BTreeMap;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, SystemTime};

/// A boxed future, as the trait's async methods return it.
pub(crate) type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send + 'static>>;

/// One running backend of a telemetry instance.
pub(crate) trait Backend: Any + Send + Sync + fmt::Debug {
    /// How it is doing now.
    fn health(&self) -> BackendHealth;

    /// The instance became the process-wide one (`install`), which can no longer fail.
    fn installed(&self) {}

    /// The telemetry this backend runs in now exists (`build` or `install`): a backend that
    /// reads all of it (an exporter pushing every family, other backends' counters included)
    /// keeps a weak handle.
    fn attached(&self, context: &Arc<crate::context::Context>) {
        let _ = context;
    }

    /// Sends what it buffers, waiting at most `timeout`; `false` if something was not sent.
    /// Never blocks the caller's thread.
    fn flush(self: Arc<Self>, timeout: Duration) -> BoxFuture<bool> {
        let _ = timeout;
        Box::pin(std::future::ready(true))
    }

    /// Sends what it buffers and stops, within its own bounded time.
    fn shutdown(self: Arc<Self>) -> BoxFuture<()> {
        Box::pin(std::future::ready(()))
    }

    /// Counters about itself (what it dropped…) for the exporters to show beside the
    /// application's metrics; read when scraped.
    #[cfg_attr(not(feature = "prometheus"), allow(dead_code))]
    fn counters(&self) -> Vec<CounterFamily> {
        Vec::new()
    }
}

/// A counter a backend keeps about itself: an exporter renders it under
/// the telemetry's namespace (`ns_` + `name`).
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(not(feature = "prometheus"), allow(dead_code))]
pub(crate) struct CounterFamily {
    /// Its name after the namespace, help and label names, as [`crate::names`] lists it.
    pub(crate) family: crate::names::Family,
    /// Each series: its label values (as many as the family's labels) and its count.
    pub(crate) values: Vec<(Vec<&'static str>, u64)>,
}

/// How one backend is doing: what `/health/detailed` and a `doctor` command show.
///
/// ```
/// let telemetry = kansoku::Telemetry::builder().build().unwrap();
/// for backend in telemetry.health() {
///     println!("{}: {:?}", backend.backend, backend.state);
/// }
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct BackendHealth {
    /// `prometheus`, `sentry` or `redis`.
    pub backend: &'static str,
    /// Up, down, or off.
    pub state: BackendState,
    /// One line about it: where it sends, or why it is off. Secrets are never in it.
    pub detail: String,
    /// The last error it met, if any, and when.
    pub last_error: Option<(SystemTime, String)>,
    /// What it could not deliver since start-up, by reason (`queue_full`, `backlog_full`…).
    pub dropped: BTreeMap<&'static str, u64>,
}

/// Whether a backend works.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum BackendState {
    /// Working: its last attempt to deliver succeeded (or it has nothing to reach).
    Up,
    /// Running, but its last attempt to reach its server failed; it holds or drops what it
    /// cannot deliver, as its `dropped` counts say.
    Down,
    /// Not running: its feature is on but it is not configured.
    Off,
}

// Each backend uses the parts it needs; with fewer backends on, some are unused.
#[cfg_attr(not(all(feature = "sentry", feature = "redis")), allow(dead_code))]
impl BackendHealth {
    /// The report of a backend that is not running.
    pub(crate) fn off(backend: &'static str, why: &str) -> BackendHealth {
        BackendHealth {
            backend,
            state: BackendState::Off,
            detail: why.to_owned(),
            last_error: None,
            dropped: BTreeMap::new(),
        }
    }
}

/// What a backend notes about its health as it runs, for [`Backend::health`]: written from
/// its own threads (never on a request's path but for a drop count), read by whoever asks.
#[derive(Debug)]
pub(crate) struct HealthCell {
    down: AtomicBool,
    last_error: Mutex<Option<(SystemTime, String)>>,
    dropped: Mutex<BTreeMap<&'static str, Arc<AtomicU64>>>,
}

impl Default for HealthCell {
    fn default() -> Self {
        HealthCell {
            down: AtomicBool::new(false),
            last_error: Mutex::new(None),
            dropped: Mutex::new(BTreeMap::new()),
        }
    }
}

#[cfg_attr(not(all(feature = "sentry", feature = "redis")), allow(dead_code))]
impl HealthCell {
    /// The last attempt to reach the server succeeded.
    pub(crate) fn reached(&self) {
        self.down.store(false, Relaxed);
    }

    /// An attempt failed with `error`.
    pub(crate) fn failed(&self, error: impl fmt::Display) {
        self.down.store(true, Relaxed);
        *self
            .last_error
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = Some((SystemTime::now(), error.to_string()));
    }

    /// The counter of what was dropped for `reason`, in the report while it is not zero; hold
    /// it to count without a lock.
    #[cfg_attr(not(feature = "redis"), allow(dead_code))]
    pub(crate) fn drop_counter(&self, reason: &'static str) -> Arc<AtomicU64> {
        self.dropped
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .entry(reason)
            .or_default()
            .clone()
    }

    /// The report, with `detail` as its one line.
    pub(crate) fn report(&self, backend: &'static str, detail: String) -> BackendHealth {
        BackendHealth {
            backend,
            state: if self.down.load(Relaxed) {
                BackendState::Down
            } else {
                BackendState::Up
            },
            detail,
            last_error: self
                .last_error
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .clone(),
            dropped: self
                .dropped
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .iter()
                .map(|(reason, count)| (*reason, count.load(Relaxed)))
                .filter(|(_, count)| *count > 0)
                .collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_health_cell_reports_state_errors_and_drops() {
        let cell = HealthCell::default();
        let queue_full = cell.drop_counter("queue_full");
        queue_full.fetch_add(3, Relaxed);
        assert_eq!(cell.report("x", String::new()).state, BackendState::Up);
        cell.failed("connection refused");
        let report = cell.report("x", "to somewhere".into());
        assert_eq!(report.state, BackendState::Down);
        assert_eq!(
            report.last_error.map(|(_, e)| e).as_deref(),
            Some("connection refused")
        );
        assert_eq!(report.dropped.get("queue_full"), Some(&3));
        cell.reached();
        assert_eq!(cell.report("x", String::new()).state, BackendState::Up);
    }
}
