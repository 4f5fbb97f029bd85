//! `/health/detailed`: every registered check run at once, each under its own timeout, the
//! result cached for a short time and shared by every request that arrives while it is made.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, SystemTime};

// tokio's clock (the std clock when not paused), so the tests can step time
use tokio::time::Instant;

use serde_json::{json, Value};

use super::check::{CheckError, HealthCheck};
use super::timestamp::rfc3339;
use crate::metrics::Gauge;
use crate::Telemetry;

static CHECK_UP: Gauge<1> = Gauge::new(
    "health_check_up",
    "Whether a dependency's health check passed (1) or failed (0) at its last run.",
    ["check"],
);
static CHECK_DURATION: Gauge<1> = Gauge::new(
    "health_check_duration_seconds",
    "How long a dependency's last health check took, in seconds.",
    ["check"],
);

/// A check as registered, with what its failure means.
#[derive(Clone)]
pub(crate) struct Registered {
    pub(crate) check: Arc<dyn HealthCheck>,
    pub(crate) critical: bool,
}

/// The overall state, as the guide names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Overall {
    Healthy,
    Degraded,
    Unhealthy,
}

impl Overall {
    fn as_str(self) -> &'static str {
        match self {
            Overall::Healthy => "healthy",
            Overall::Degraded => "degraded",
            Overall::Unhealthy => "unhealthy",
        }
    }
}

/// One check's result.
#[derive(Debug, Clone)]
pub(crate) struct CheckResult {
    pub(crate) name: String,
    pub(crate) critical: bool,
    pub(crate) elapsed: Duration,
    pub(crate) error: Option<CheckError>,
}

/// One run of every check.
#[derive(Debug, Clone)]
pub(crate) struct Report {
    pub(crate) status: Overall,
    pub(crate) checks: Vec<CheckResult>,
    pub(crate) at: SystemTime,
}

impl Report {
    /// The guide's JSON.
    pub(crate) fn to_json(&self, version: Option<&str>, environment: Option<&str>) -> Value {
        let checks: Vec<Value> = self
            .checks
            .iter()
            .map(|c| {
                json!({
                    "name": c.name,
                    "status": if c.error.is_none() { "healthy" } else { "unhealthy" },
                    "critical": c.critical,
                    // milliseconds with microsecond precision: fast checks are not all 0
                    "response_time_ms": (c.elapsed.as_secs_f64() * 1e6).round() / 1e3,
                    "error": c.error.as_ref().map(ToString::to_string),
                })
            })
            .collect();
        json!({
            "status": self.status.as_str(),
            "version": version,
            "environment": environment,
            "checks": checks,
            "timestamp": rfc3339(self.at),
        })
    }
}

/// The checks, the cache of their last run, and what makes concurrent callers share a run.
pub(crate) struct Health {
    checks: Vec<Registered>,
    default_timeout: Duration,
    ttl: Duration,
    telemetry: Telemetry,
    last: Mutex<Option<(Instant, Arc<Report>)>>,
    // held while a run is in progress; those who wait for it take its result
    running: tokio::sync::Mutex<()>,
}

impl Health {
    pub(crate) fn new(
        checks: Vec<Registered>,
        default_timeout: Duration,
        ttl: Duration,
        telemetry: Telemetry,
    ) -> Health {
        Health {
            checks,
            default_timeout,
            ttl,
            telemetry,
            last: Mutex::new(None),
            running: tokio::sync::Mutex::new(()),
        }
    }

    /// The last report if it is younger than the TTL or finished after `arrived`.
    fn cached(&self, arrived: Instant) -> Option<Arc<Report>> {
        let last = self.last.lock().unwrap_or_else(PoisonError::into_inner);
        last.as_ref()
            .filter(|(finished, _)| *finished >= arrived || finished.elapsed() < self.ttl)
            .map(|(_, report)| report.clone())
    }

    /// A report no older than the TTL. A storm of callers makes one run: the first runs the
    /// checks, the others wait for it (at most the longest check timeout) and share its result.
    pub(crate) async fn report(&self) -> Arc<Report> {
        let arrived = Instant::now();
        if let Some(report) = self.cached(arrived) {
            return report;
        }
        let _running = self.running.lock().await;
        if let Some(report) = self.cached(arrived) {
            return report;
        }
        let report = Arc::new(self.run().await);
        *self.last.lock().unwrap_or_else(PoisonError::into_inner) =
            Some((Instant::now(), report.clone()));
        report
    }

    /// Starts a run in the background when the last report is older than the TTL and none is
    /// running; never waits. What `/metrics` calls, so a hung dependency never slows a scrape:
    /// the gauges it exports are then those of the previous run.
    pub(crate) fn refresh_in_background(self: &Arc<Self>) {
        if self.cached(Instant::now()).is_some() || self.running.try_lock().is_err() {
            return;
        }
        let health = self.clone();
        tokio::spawn(async move {
            health.report().await;
        });
    }

    async fn run(&self) -> Report {
        let at = SystemTime::now();
        let runs = self.checks.iter().map(|registered| {
            let timeout = registered.check.timeout().unwrap_or(self.default_timeout);
            run_one(registered, timeout)
        });
        let checks = futures::future::join_all(runs).await;
        self.export(&checks);
        let status = if checks.iter().any(|c| c.critical && c.error.is_some()) {
            Overall::Unhealthy
        } else if checks.iter().any(|c| c.error.is_some()) {
            Overall::Degraded
        } else {
            Overall::Healthy
        };
        Report { status, checks, at }
    }

    fn export(&self, checks: &[CheckResult]) {
        let _current = self.telemetry.enter();
        for check in checks {
            CHECK_UP.set([&check.name], if check.error.is_none() { 1.0 } else { 0.0 });
            CHECK_DURATION.set([&check.name], check.elapsed.as_secs_f64());
        }
    }
}

async fn run_one(registered: &Registered, timeout: Duration) -> CheckResult {
    let started = Instant::now();
    // a check that panics is a failed check, not a failed health endpoint
    let guarded = std::panic::AssertUnwindSafe(async { registered.check.check().await });
    let outcome = tokio::time::timeout(timeout, futures::FutureExt::catch_unwind(guarded)).await;
    let error = match outcome {
        Ok(Ok(Ok(()))) => None,
        Ok(Ok(Err(error))) => Some(error),
        Ok(Err(_panic)) => Some(CheckError::new("the check panicked")),
        Err(_) => Some(CheckError::new(format_args!(
            "no answer within {} ms",
            timeout.as_millis()
        ))),
    };
    CheckResult {
        name: registered.check.name().to_owned(),
        critical: registered.critical,
        elapsed: started.elapsed(),
        error,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::CheckFuture;
    use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};

    /// A dependency whose answer the test sets, and which counts how often it was asked.
    struct Fake {
        name: &'static str,
        calls: Arc<AtomicUsize>,
        delay: Duration,
        fail: bool,
    }

    /// A check with a bug in it.
    struct Panics;

    impl HealthCheck for Panics {
        fn name(&self) -> &'static str {
            "buggy"
        }
        fn check(&self) -> CheckFuture<'_> {
            Box::pin(async { panic!("bug in a health check") })
        }
    }

    impl HealthCheck for Fake {
        fn name(&self) -> &str {
            self.name
        }
        fn check(&self) -> CheckFuture<'_> {
            Box::pin(async move {
                self.calls.fetch_add(1, SeqCst);
                tokio::time::sleep(self.delay).await;
                if self.fail {
                    Err(CheckError::new("refused"))
                } else {
                    Ok(())
                }
            })
        }
    }

    fn fake(
        name: &'static str,
        delay_ms: u64,
        fail: bool,
        critical: bool,
    ) -> (Registered, Arc<AtomicUsize>) {
        let calls = Arc::new(AtomicUsize::new(0));
        let check = Fake {
            name,
            calls: calls.clone(),
            delay: Duration::from_millis(delay_ms),
            fail,
        };
        (
            Registered {
                check: Arc::new(check),
                critical,
            },
            calls,
        )
    }

    fn health(checks: Vec<Registered>, timeout_ms: u64, ttl_ms: u64) -> Health {
        let telemetry = Telemetry::builder().namespace("ops_test").build().unwrap();
        Health::new(
            checks,
            Duration::from_millis(timeout_ms),
            Duration::from_millis(ttl_ms),
            telemetry,
        )
    }

    #[tokio::test]
    async fn a_critical_failure_is_unhealthy_a_degrading_one_degraded() {
        let (db, _) = fake("db", 0, false, true);
        let (search, _) = fake("search", 0, true, false);
        assert_eq!(
            health(vec![db.clone(), search], 1000, 0)
                .report()
                .await
                .status,
            Overall::Degraded
        );
        let (db_down, _) = fake("db", 0, true, true);
        assert_eq!(
            health(vec![db_down], 1000, 0).report().await.status,
            Overall::Unhealthy
        );
        assert_eq!(
            health(vec![db], 1000, 0).report().await.status,
            Overall::Healthy
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_hung_check_is_cut_at_its_timeout_and_others_still_report() {
        let (hung, _) = fake("hung", 3_600_000, false, false);
        let (fine, _) = fake("fine", 10, false, true);
        let report = health(vec![hung, fine], 250, 0).report().await;
        assert_eq!(report.status, Overall::Degraded);
        let hung = &report.checks[0];
        assert_eq!(
            hung.error.as_ref().unwrap().to_string(),
            "no answer within 250 ms"
        );
        assert!(
            hung.elapsed >= Duration::from_millis(250) && hung.elapsed < Duration::from_secs(1)
        );
        assert!(report.checks[1].error.is_none());
    }

    #[tokio::test(start_paused = true)]
    async fn a_storm_of_callers_makes_one_run_and_the_ttl_bounds_reuse() {
        let (slow, calls) = fake("db", 100, false, true);
        let health = Arc::new(health(vec![slow], 1000, 1000));
        let callers: Vec<_> = (0..50)
            .map(|_| {
                let health = health.clone();
                tokio::spawn(async move { health.report().await })
            })
            .collect();
        for caller in callers {
            caller.await.unwrap();
        }
        assert_eq!(calls.load(SeqCst), 1, "50 concurrent callers, one run");
        health.report().await;
        assert_eq!(
            calls.load(SeqCst),
            1,
            "within the TTL the cached report is served"
        );
        tokio::time::sleep(Duration::from_millis(1100)).await;
        health.report().await;
        assert_eq!(calls.load(SeqCst), 2, "after the TTL the checks run again");
    }

    #[tokio::test]
    async fn a_panicking_check_is_a_failed_check() {
        let buggy = Registered {
            check: Arc::new(Panics),
            critical: false,
        };
        let (fine, _) = fake("db", 0, false, true);
        let report = health(vec![buggy, fine], 1000, 0).report().await;
        assert_eq!(report.status, Overall::Degraded);
        assert_eq!(
            report.checks[0].error.as_ref().unwrap().to_string(),
            "the check panicked"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_background_refresh_never_waits_and_runs_once() {
        let (hung, calls) = fake("hung", 3_600_000, false, false);
        let health = Arc::new(health(vec![hung], 2000, 1000));
        health.refresh_in_background();
        tokio::task::yield_now().await;
        health.refresh_in_background();
        tokio::task::yield_now().await;
        assert_eq!(
            calls.load(SeqCst),
            1,
            "a second refresh joins the running one"
        );
        tokio::time::sleep(Duration::from_millis(2100)).await;
        let report = health.report().await;
        assert_eq!(calls.load(SeqCst), 1, "its result is the cached report");
        assert_eq!(report.status, Overall::Degraded);
    }

    #[test]
    fn the_json_has_the_guides_fields() {
        let report = Report {
            status: Overall::Degraded,
            checks: vec![CheckResult {
                name: "redis".into(),
                critical: false,
                elapsed: Duration::from_micros(1500),
                error: Some(CheckError::new("connection refused")),
            }],
            at: SystemTime::UNIX_EPOCH,
        };
        assert_eq!(
            report.to_json(Some("1.2.3"), None),
            json!({
                "status": "degraded", "version": "1.2.3", "environment": null,
                "checks": [{"name": "redis", "status": "unhealthy", "critical": false,
                            "response_time_ms": 1.5, "error": "connection refused"}],
                "timestamp": "1970-01-01T00:00:00.000Z",
            })
        );
    }
}
