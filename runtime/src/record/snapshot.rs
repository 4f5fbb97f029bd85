//! The read model: one [`Snapshot`] of everything a [`Recorder`] holds, read at once.
//!
//! Every reader (the Prometheus collector, the Redis harvester, the in-process windowed
//! statistics, and later health, alerts and the live page) renders from this value rather than
//! walking the recorder's maps and atomics itself, so what a series means (how sites merge
//! with run-time series, which overflow counts exist, how gauges are stored) is decided here,
//! once. Building one costs a walk of the sites and the labelled maps: it is done at read time,
//! never on the hot path.

use std::collections::BTreeMap;
use std::sync::atomic::Ordering::Relaxed;

use super::{Bounds, FamilyKind, HttpSnapshot, Recorder, TimedSnapshot};
use crate::site::Attribute;

/// The timed series of one kind, merged by label set (two functions may share an endpoint):
/// `(endpoint, method)` for requests, `(operation, table)` for queries.
pub(crate) type Timed = BTreeMap<(String, String), TimedSnapshot>;

/// Everything a [`Recorder`] held when [`Recorder::snapshot`] read it. Counters are
/// cumulative since the recorder was made (a site's statics: since the process started).
#[derive(Debug, Clone)]
pub(crate) struct Snapshot {
    /// Requests by `(endpoint, method)`: call sites and run-time series merged.
    pub(crate) api: Timed,
    /// Queries by `(operation, table)`.
    pub(crate) db: Timed,
    /// The histogram bounds `api`'s buckets are counted in (the last bucket, `+Inf`, is extra).
    pub(crate) api_bounds: &'static Bounds,
    /// The histogram bounds of `db`.
    pub(crate) db_bounds: &'static Bounds,
    /// `ns_http_*` by `(method, route)`, the overflow series last; counted in `api_bounds`.
    pub(crate) http: Vec<((String, String), HttpSnapshot)>,
    /// `ns_errors_total` by `(endpoint, kind)`, sorted, the overflow series last.
    pub(crate) errors: Vec<((String, String), u64)>,
    /// Business counters and gauges, by name.
    pub(crate) families: Vec<FamilySnapshot>,
    /// `(used, max)` database connections, once the application reported them.
    pub(crate) pool: Option<(u64, u64)>,
    /// Recordings sent to an overflow series because the map was full.
    pub(crate) overflow: Overflow,
}

/// Recordings sent to the `__overflow__` series of the built-in labelled metrics (a business
/// metric's own count is in its [`FamilySnapshot`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Overflow {
    /// Of `ns_errors_total`.
    pub(crate) errors: u64,
    /// Of the run-time request series (`ns_api_requests_total`).
    pub(crate) api: u64,
    /// Of the run-time query series (`ns_database_queries_total`).
    pub(crate) db: u64,
    /// Of the HTTP layer's series (`ns_http_requests_total`).
    pub(crate) http: u64,
}

/// One business metric.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct FamilySnapshot {
    /// Without the namespace.
    pub(crate) name: &'static str,
    pub(crate) help: &'static str,
    pub(crate) label_names: &'static [&'static str],
    pub(crate) values: FamilyValues,
    /// Recordings sent to its `__overflow__` series.
    pub(crate) overflowed: u64,
}

/// The series of a business metric, by label values (in the order of its label names),
/// sorted, the overflow series last.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum FamilyValues {
    Counter(Vec<(Vec<String>, u64)>),
    Gauge(Vec<(Vec<String>, f64)>),
}

fn owned(labels: &[&str]) -> Vec<String> {
    labels.iter().map(|l| (*l).to_owned()).collect()
}

impl Recorder {
    /// Reads everything now. Each series is read with relaxed loads, so counters recorded
    /// meanwhile may or may not be in it; a series' in-flight count is never negative.
    pub(crate) fn snapshot(&self) -> Snapshot {
        let (api, db) = self.timed_series();
        let mut errors = Vec::new();
        self.errors.for_each(|l, n| {
            errors.push(((l[0].to_owned(), l[1].to_owned()), n.load(Relaxed)));
        });
        let mut families = Vec::new();
        self.for_each_family(|name, family| {
            let values = match family.kind {
                FamilyKind::Counter => {
                    let mut series = Vec::new();
                    family
                        .series
                        .for_each(|l, cell| series.push((owned(l), cell.load(Relaxed))));
                    FamilyValues::Counter(series)
                }
                FamilyKind::Gauge => {
                    let mut series = Vec::new();
                    family.series.for_each(|l, cell| {
                        series.push((owned(l), f64::from_bits(cell.load(Relaxed))));
                    });
                    FamilyValues::Gauge(series)
                }
            };
            families.push(FamilySnapshot {
                name,
                help: family.help,
                label_names: family.label_names,
                values,
                overflowed: family.series.overflowed(),
            });
        });
        let mut http = Vec::new();
        self.http.for_each(|l, series| {
            http.push((
                (l[0].to_owned(), l[1].to_owned()),
                series.snapshot(self.config.api_bounds),
            ));
        });
        Snapshot {
            api,
            db,
            http,
            api_bounds: self.config.api_bounds,
            db_bounds: self.config.db_bounds,
            errors,
            families,
            pool: self.pool(),
            overflow: Overflow {
                errors: self.errors.overflowed(),
                api: self.api.overflowed(),
                db: self.db.overflowed(),
                http: self.http.overflowed(),
            },
        }
    }

    /// Every request series and every query series, call sites and run-time labelled series
    /// alike, read now.
    fn timed_series(&self) -> (Timed, Timed) {
        let config = &self.config;
        let (mut api, mut db) = (Timed::new(), Timed::new());
        self.for_each_site(|site, state| {
            let (target, key) = match site.attribute {
                Attribute::TrackApiRequest { method, .. } => {
                    (&mut api, (site.name().to_owned(), method.to_owned()))
                }
                Attribute::TrackDatabaseQuery { operation, table } => {
                    (&mut db, (operation.to_owned(), table.to_owned()))
                }
                Attribute::MonitorApiEndpoint { .. } => return,
            };
            let snap = state.snapshot(config.bounds_for(site.kind()));
            target.entry(key).or_default().merge(&snap);
        });
        self.api.for_each(|l, state| {
            api.entry((l[0].to_owned(), l[1].to_owned()))
                .or_default()
                .merge(&state.snapshot(config.api_bounds));
        });
        self.db.for_each(|l, state| {
            db.entry((l[0].to_owned(), l[1].to_owned()))
                .or_default()
                .merge(&state.snapshot(config.db_bounds));
        });
        (api, db)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::Ordering::Relaxed;
    use std::time::Duration;

    use super::*;
    use crate::record::{RecorderConfig, DEFAULT_API_BOUNDS, DEFAULT_DB_BOUNDS};
    use crate::site::Status;
    use crate::site::{FnInfo, Site, SiteKind};

    const INFO: FnInfo = FnInfo {
        function: "list_shops",
        module_path: "tests",
        file: "snapshot.rs",
        line: 1,
        is_method: false,
    };
    static LIST_SHOPS: Site = Site::track_api_request(INFO, Some("/shops"), "GET");

    fn recorder(max_series: usize) -> Recorder {
        let bounds = |s: &[f64]| Bounds::new(s).unwrap().leak();
        Recorder::new(
            RecorderConfig {
                api_bounds: bounds(&DEFAULT_API_BOUNDS),
                db_bounds: bounds(&DEFAULT_DB_BOUNDS),
                max_series,
            },
            false,
        )
    }

    #[test]
    fn a_site_and_a_run_time_series_with_the_same_labels_are_one_series() {
        let recorder = recorder(10);
        LIST_SHOPS.resolved_name(None);
        let state = recorder.local_state(&LIST_SHOPS).unwrap();
        state.record(Status::Ok, 0, 3_000_000); // 3 ms: the 5 ms bucket
        state.begin(); // one call still running
        let ms = Duration::from_millis;
        recorder.record_timed(
            SiteKind::TrackApiRequest,
            ["/shops", "GET"],
            Status::Error,
            ms(20),
        );
        recorder.record_timed(
            SiteKind::TrackDatabaseQuery,
            ["select", "shops"],
            Status::Ok,
            ms(2),
        );

        let snap = recorder.snapshot();
        let shops = &snap.api[&("/shops".to_owned(), "GET".to_owned())];
        assert_eq!(shops.by_status, [1, 1, 0, 0]);
        assert_eq!(shops.buckets[..4], [1, 0, 1, 0]); // 5 ms, 10 ms, 25 ms, 50 ms
        assert_eq!(shops.buckets.len(), DEFAULT_API_BOUNDS.len() + 1);
        assert_eq!(shops.sum_nanos, 23_000_000);
        assert_eq!(shops.in_flight, 1);
        let select = &snap.db[&("select".to_owned(), "shops".to_owned())];
        assert_eq!(select.by_status, [1, 0, 0, 0]);
        assert_eq!(select.buckets[1], 1); // 2 ms: the 2.5 ms bucket
        assert_eq!(snap.api_bounds.seconds, DEFAULT_API_BOUNDS);
        assert_eq!(snap.db_bounds.seconds, DEFAULT_DB_BOUNDS);
        assert_eq!(snap.pool, None);
    }

    #[test]
    fn errors_business_metrics_pool_and_overflow_are_read() {
        let recorder = recorder(2);
        for (endpoint, kind) in [("/a", "E"), ("/a", "E"), ("/b", "panic"), ("/c", "E")] {
            recorder.record_error(endpoint, kind);
        }
        let counter = recorder
            .family("made_total", FamilyKind::Counter, "Made.", &["by"])
            .unwrap();
        counter
            .series
            .get(&["web"], Default::default)
            .fetch_add(3, Relaxed);
        let gauge = recorder
            .family("level", FamilyKind::Gauge, "Level.", &["of"])
            .unwrap();
        gauge
            .series
            .get(&["tank"], Default::default)
            .store(2.5_f64.to_bits(), Relaxed);
        recorder.set_pool(4, 10);

        let snap = recorder.snapshot();
        let key = |a: &str, b: &str| (a.to_owned(), b.to_owned());
        assert_eq!(
            snap.errors,
            [
                (key("/a", "E"), 2),
                (key("/b", "panic"), 1),
                (key("__overflow__", "__overflow__"), 1),
            ]
        );
        assert_eq!(
            snap.overflow,
            Overflow {
                errors: 1,
                api: 0,
                db: 0,
                http: 0
            }
        );
        let families: Vec<_> = snap.families.iter().map(|f| (f.name, &f.values)).collect();
        assert_eq!(
            families,
            [
                (
                    "level",
                    &FamilyValues::Gauge(vec![(vec!["tank".into()], 2.5)])
                ),
                (
                    "made_total",
                    &FamilyValues::Counter(vec![(vec!["web".into()], 3)])
                ),
            ]
        );
        assert_eq!(snap.families[1].label_names, ["by"]);
        assert_eq!(snap.families[1].help, "Made.");
        assert_eq!(snap.pool, Some((4, 10)));
    }
}
