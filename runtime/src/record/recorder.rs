//! One [`Recorder`] per `Telemetry`: everything it records that is not a call site's static.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::time::Duration;

use super::http::HttpSeries;
use super::labels::LabelMap;
use crate::site::bounds::{duration_nanos, Bounds};
use crate::site::counters::{for_each_global_site, TimedState};
use crate::site::Status;
use crate::site::{Site, SiteKind};

/// What a recorder needs from the builder.
#[derive(Debug, Clone)]
pub(crate) struct RecorderConfig {
    pub(crate) api_bounds: &'static Bounds,
    pub(crate) db_bounds: &'static Bounds,
    pub(crate) max_series: usize,
}

impl RecorderConfig {
    pub(crate) fn bounds_for(&self, kind: SiteKind) -> &'static Bounds {
        match kind {
            SiteKind::TrackDatabaseQuery => self.db_bounds,
            SiteKind::TrackApiRequest | SiteKind::MonitorApiEndpoint => self.api_bounds,
        }
    }
}

/// A business metric's kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FamilyKind {
    /// Monotonic `u64`.
    Counter,
    /// `f64` stored as bits.
    Gauge,
}

/// A business metric: a counter or gauge with run-time label values.
#[derive(Debug)]
pub(crate) struct Family {
    pub(super) kind: FamilyKind,
    pub(super) help: &'static str,
    pub(super) label_names: &'static [&'static str],
    pub(crate) series: LabelMap<AtomicU64>,
}

const UNSET: u64 = u64::MAX;

/// A test-local recorder's own counters of each call site, by the site's address.
type LocalSites = Mutex<HashMap<usize, (&'static Site, Arc<TimedState>)>>;

/// The record of one `Telemetry`.
#[derive(Debug)]
pub(crate) struct Recorder {
    pub(crate) config: RecorderConfig,
    /// `None` for the process-wide recorder, whose call-site counters are the sites' statics.
    local_sites: Option<LocalSites>,
    // The maps are read only through `Recorder::snapshot` (`snapshot.rs`), the one read model.
    pub(super) errors: LabelMap<AtomicU64>,
    pub(super) api: LabelMap<TimedState>,
    pub(super) db: LabelMap<TimedState>,
    /// `ns_http_*` by `[method, route]`, from the HTTP layer.
    pub(super) http: LabelMap<HttpSeries>,
    families: RwLock<BTreeMap<&'static str, Arc<Family>>>,
    pool_used: AtomicU64,
    pool_max: AtomicU64,
}

impl Recorder {
    pub(crate) fn new(config: RecorderConfig, global: bool) -> Recorder {
        let limit = config.max_series;
        Recorder {
            local_sites: (!global).then(|| Mutex::new(HashMap::new())),
            errors: LabelMap::new(2, limit),
            api: LabelMap::new(2, limit),
            db: LabelMap::new(2, limit),
            http: LabelMap::new(2, limit),
            families: RwLock::new(BTreeMap::new()),
            pool_used: AtomicU64::new(UNSET),
            pool_max: AtomicU64::new(UNSET),
            config,
        }
    }

    /// This (test-local) recorder's counters for `site`; `None` for the process-wide recorder.
    pub(crate) fn local_state(&self, site: &'static Site) -> Option<Arc<TimedState>> {
        let sites = self.local_sites.as_ref()?;
        let mut sites = sites.lock().unwrap_or_else(PoisonError::into_inner);
        let entry = sites
            .entry(std::ptr::from_ref(site) as usize)
            .or_insert_with(|| (site, Arc::new(TimedState::new())));
        Some(entry.1.clone())
    }

    /// Every call site with counters in this recorder.
    pub(crate) fn for_each_site(&self, mut f: impl FnMut(&'static Site, &TimedState)) {
        match &self.local_sites {
            None => for_each_global_site(|site| f(site, &site.counters.state)),
            Some(sites) => {
                let sites: Vec<_> = sites
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .values()
                    .cloned()
                    .collect();
                for (site, state) in sites {
                    f(site, &state);
                }
            }
        }
    }

    pub(crate) fn record_error(&self, endpoint: &str, kind: &str) {
        self.errors
            .get(&[endpoint, kind], || AtomicU64::new(0))
            .fetch_add(1, Relaxed);
    }

    pub(crate) fn record_timed(
        &self,
        kind: SiteKind,
        labels: [&str; 2],
        status: Status,
        elapsed: Duration,
    ) {
        let (state, bounds) = self.labelled_series(kind, labels);
        let nanos = duration_nanos(elapsed);
        state.record(status, bounds.index(nanos), nanos);
    }

    /// The counters of the series labelled at run time `labels` (`[endpoint, method]`, or
    /// `[operation, table]` for queries), made on first use within the label-set bound, and
    /// its histogram bounds.
    pub(crate) fn labelled_series(
        &self,
        kind: SiteKind,
        labels: [&str; 2],
    ) -> (Arc<TimedState>, &'static Bounds) {
        let (map, bounds) = match kind {
            SiteKind::TrackDatabaseQuery => (&self.db, self.config.db_bounds),
            _ => (&self.api, self.config.api_bounds),
        };
        (map.get(&labels, TimedState::new), bounds)
    }

    /// The `ns_http_*` series of `method` and `route`, made on first use within the
    /// label-set bound.
    #[cfg_attr(not(feature = "axum"), allow(dead_code))]
    pub(crate) fn http_series(&self, method: &str, route: &str) -> Arc<HttpSeries> {
        self.http.get(&[method, route], HttpSeries::new)
    }

    /// The family `name`, made on first use. A later use with another kind or other label
    /// names gets `None` (and a warning once), so one name never means two metrics.
    pub(crate) fn family(
        &self,
        name: &'static str,
        kind: FamilyKind,
        help: &'static str,
        label_names: &'static [&'static str],
    ) -> Option<Arc<Family>> {
        let found = self
            .families
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .get(name)
            .cloned();
        let family = match found {
            Some(family) => family,
            None => self
                .families
                .write()
                .unwrap_or_else(PoisonError::into_inner)
                .entry(name)
                .or_insert_with(|| {
                    Arc::new(Family {
                        kind,
                        help,
                        label_names,
                        series: LabelMap::new(label_names.len(), self.config.max_series),
                    })
                })
                .clone(),
        };
        if family.kind == kind && family.label_names == label_names {
            Some(family)
        } else {
            warn_conflict(name);
            None
        }
    }

    pub(super) fn for_each_family(&self, mut f: impl FnMut(&'static str, &Family)) {
        let families: Vec<_> = self
            .families
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
            .map(|(name, family)| (*name, family.clone()))
            .collect();
        for (name, family) in families {
            f(name, &family);
        }
    }

    pub(crate) fn set_pool(&self, used: u64, max: u64) {
        self.pool_used.store(used.min(UNSET - 1), Relaxed);
        self.pool_max.store(max.min(UNSET - 1), Relaxed);
    }

    /// `(used, max)` connections, once the application has reported them.
    pub(super) fn pool(&self) -> Option<(u64, u64)> {
        let used = self.pool_used.load(Relaxed);
        let max = self.pool_max.load(Relaxed);
        (used != UNSET && max != UNSET).then_some((used, max))
    }
}

/// Says once per metric that a second declaration with other labels records nothing.
fn warn_conflict(name: &'static str) {
    use std::collections::HashSet;
    use std::sync::{Mutex, PoisonError};
    static WARNED: Mutex<Option<HashSet<&'static str>>> = Mutex::new(None);
    let mut warned = WARNED.lock().unwrap_or_else(PoisonError::into_inner);
    if warned.get_or_insert_with(HashSet::new).insert(name) {
        tracing::warn!(
            metric = name,
            "kansoku: metric `{name}` was declared twice with different kinds or label names; \
             the later declaration records nothing"
        );
    }
}
