//! The recording rules: one name and one expression for each rate, ratio and quantile that the
//! alerts and the dashboard share, built from the exported family names (`crate::names`).
//!
//! Naming follows Prometheus' `level:metric:operations` convention. Every ratio divides by a
//! denominator filtered to `> 0`, so an endpoint without traffic has no ratio (a gap) instead
//! of `NaN` or a division by zero, and an endpoint without errors has a ratio of 0.

use super::config::{Config, Slo, SloKind};
use crate::names::{self, Family};
use crate::Status;

/// One recording rule.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recording {
    /// The recorded series' name.
    pub record: String,
    /// Its expression.
    pub expr: String,
    /// Labels added to it.
    pub labels: Vec<(String, String)>,
}

/// The windows of the SRE workbook's multi-window, multi-burn-rate alerts.
pub(crate) const SLO_WINDOWS: [&str; 4] = ["5m", "30m", "1h", "6h"];

/// The names of the recorded series, for one namespace.
#[derive(Debug, Clone)]
pub(crate) struct Series<'a> {
    ns: &'a str,
}

/// The `status` values counted as failures: the call returned `Err` or panicked.
pub(crate) fn failed_statuses() -> String {
    format!("{}|{}", Status::Error.as_str(), Status::Panic.as_str())
}

impl<'a> Series<'a> {
    pub(crate) fn new(config: &'a Config) -> Series<'a> {
        Series {
            ns: &config.namespace,
        }
    }

    pub(crate) fn family(&self, family: Family) -> String {
        family.exported(self.ns)
    }

    pub(crate) fn requests_rate(&self, window: &str) -> String {
        let total = self.family(names::API_REQUESTS);
        // the convention drops `_total` once a rate is taken
        let name = total.strip_suffix("_total").unwrap_or(&total);
        format!("endpoint:{name}:rate{window}")
    }

    pub(crate) fn errors_rate(&self, window: &str) -> String {
        format!("endpoint:{}_api_errors:rate{window}", self.ns)
    }

    pub(crate) fn error_ratio(&self, window: &str) -> String {
        format!("endpoint:{}_api_errors:ratio_rate{window}", self.ns)
    }

    pub(crate) fn latency(&self, quantile: &str, window: &str) -> String {
        format!(
            "endpoint:{}:{quantile}_rate{window}",
            self.family(names::API_DURATION)
        )
    }

    pub(crate) fn pool_use(&self) -> String {
        format!("{}:database_connections:use_ratio", self.ns)
    }

    pub(crate) fn sli_errors(&self, window: &str) -> String {
        format!("slo:{}_sli_errors:ratio_rate{window}", self.ns)
    }

    pub(crate) fn budget_remaining(&self) -> String {
        format!("slo:{}_error_budget:remaining_ratio", self.ns)
    }
}

/// The windows the request rules are recorded over: the alerts' and the dashboard's.
fn request_windows(config: &Config) -> Vec<&str> {
    let t = &config.alerts;
    let mut windows = vec![
        t.rate_window.as_str(),
        t.error_window.as_str(),
        t.error_short_window.as_str(),
    ];
    windows.dedup();
    let mut unique = Vec::new();
    for w in windows {
        if !unique.contains(&w) {
            unique.push(w);
        }
    }
    unique
}

fn rule(record: String, expr: String) -> Recording {
    Recording {
        record,
        expr,
        labels: Vec::new(),
    }
}

/// The per-endpoint request, error, latency and pool rules.
pub(crate) fn service_rules(config: &Config) -> Vec<Recording> {
    let s = Series::new(config);
    let requests = s.family(names::API_REQUESTS);
    let failed = failed_statuses();
    let mut rules = Vec::new();
    for w in request_windows(config) {
        rules.push(rule(
            s.requests_rate(w),
            format!("sum by (endpoint) (rate({requests}[{w}]))"),
        ));
        rules.push(rule(
            s.errors_rate(w),
            format!("sum by (endpoint) (rate({requests}{{status=~\"{failed}\"}}[{w}]))"),
        ));
        // `or … * 0`: an endpoint that never failed has no error series, and its ratio is 0.
        rules.push(rule(
            s.error_ratio(w),
            format!(
                "({errors} or {all} * 0) / ({all} > 0)",
                errors = s.errors_rate(w),
                all = s.requests_rate(w)
            ),
        ));
    }
    let w = &config.alerts.rate_window;
    let buckets = format!("{}_bucket", s.family(names::API_DURATION));
    for (name, q) in [("p50", "0.5"), ("p95", "0.95"), ("p99", "0.99")] {
        // The quantile of the buckets' rates, never of the raw cumulative buckets.
        rules.push(rule(
            s.latency(name, w),
            format!("histogram_quantile({q}, sum by (le, endpoint) (rate({buckets}[{w}])))"),
        ));
    }
    rules.push(rule(
        s.pool_use(),
        format!(
            "{used} / ({max} > 0)",
            used = s.family(names::DB_CONNECTIONS_USED),
            max = s.family(names::DB_CONNECTIONS_MAX)
        ),
    ));
    rules
}

/// How far back, across scrape gaps, the last value of a panic counter is looked for.
const CRASH_LOOKBACK: &str = "1h";

/// The series of the counter `selector` that changed within `window`. `increase` needs two
/// samples, so a series that appears with its first count (a first panic: the exporter prints
/// a counter from 1) is not in it; the other arms count it:
/// 1. it grew within the window;
/// 2. it differs from its last value before the window, looked for across a scrape gap (so
///    it also grew during the gap, or its process restarted and counted again);
/// 3. it had no value at all in the hour before the window: it is new;
/// 4. it had none just before the window although its target was scraped then: it appeared,
///    say its first panic after a restart with the count the last process ended on. A failed
///    scrape (`up == 0`) also leaves no value there, and is not an appearance.
fn changed_within(selector: &str, window: &str) -> String {
    let before = format!("last_over_time({selector}[{CRASH_LOOKBACK}] offset {window})");
    format!(
        "{selector} > 0 and (\n\
         \x20   increase({selector}[{window}]) > 0\n\
         \x20   or {selector} != {before}\n\
         \x20   or ({selector} unless {before})\n\
         \x20   or ({selector} unless {selector} offset {window} unless on (job, instance) (up offset {window} == 0))\n\
         \x20 )"
    )
}

/// The endpoints a call of panicked within `window`, one series per endpoint with
/// `kind="panic"`: from `ns_errors_total{kind="panic"}` (`#[monitor_api_endpoint]`), or else
/// from `ns_api_requests_total{status="panic"}` (`#[track_api_request]`); with both on one
/// function, the endpoint is there once.
pub(crate) fn new_panics(config: &Config, window: &str) -> String {
    let s = Series::new(config);
    let panic = Status::Panic.as_str();
    let errors = format!("{}{{kind=\"{panic}\"}}", s.family(names::ERRORS));
    let requests = format!("{}{{status=\"{panic}\"}}", s.family(names::API_REQUESTS));
    format!(
        "count by (endpoint, kind) (\n  {}\n)\n\
         or\n\
         label_replace(count by (endpoint) (\n  {}\n), \"kind\", \"{panic}\", \"\", \"\")",
        changed_within(&errors, window),
        changed_within(&requests, window)
    )
}

/// The share of bad requests of `slo` over `window`.
fn sli_errors_expr(config: &Config, slo: &Slo, window: &str) -> String {
    let s = Series::new(config);
    let re = &slo.endpoints;
    match slo.kind {
        SloKind::Availability => {
            let requests = s.family(names::API_REQUESTS);
            let failed = failed_statuses();
            format!(
                "(sum(rate({requests}{{endpoint=~\"{re}\",status=~\"{failed}\"}}[{window}])) or vector(0))\n\
                 / (sum(rate({requests}{{endpoint=~\"{re}\"}}[{window}])) > 0)"
            )
        }
        SloKind::Latency => {
            let hist = s.family(names::API_DURATION);
            let le = le_matcher(slo.threshold_seconds.unwrap_or_default());
            format!(
                "(\n  sum(rate({hist}_count{{endpoint=~\"{re}\"}}[{window}]))\n  \
                 - sum(rate({hist}_bucket{{endpoint=~\"{re}\",{le}}}[{window}]))\n)\n\
                 / (sum(rate({hist}_count{{endpoint=~\"{re}\"}}[{window}])) > 0)"
            )
        }
    }
}

/// The `le` matcher of a bucket bound. The exporter prints bounds in Rust's shortest form
/// (`0.5`, `1`); Prometheus 3 normalises whole numbers to `1.0` when it ingests them. Both
/// forms are matched, so the rules survive an upgrade.
fn le_matcher(bound: f64) -> String {
    let printed = bound.to_string();
    if bound.fract() == 0.0 {
        format!("le=~\"{printed}|{printed}\\\\.0\"")
    } else {
        format!("le=\"{printed}\"")
    }
}

/// The rules of one objective: its bad-request ratio over each burn-rate window and over the
/// SLO period, and the share of its error budget left.
pub(crate) fn slo_rules(config: &Config, slo: &Slo) -> Vec<Recording> {
    let s = Series::new(config);
    let label = vec![("slo".to_owned(), slo.name.clone())];
    let period = config.alerts.slo_period.as_str();
    let mut rules: Vec<Recording> = SLO_WINDOWS
        .iter()
        .copied()
        .chain([period])
        .map(|w| Recording {
            record: s.sli_errors(w),
            expr: sli_errors_expr(config, slo, w),
            labels: label.clone(),
        })
        .collect();
    rules.push(Recording {
        record: s.budget_remaining(),
        expr: format!(
            "1 - {ratio}{{slo=\"{name}\"}} / {budget}",
            ratio = s.sli_errors(period),
            name = slo.name,
            budget = error_budget(slo)
        ),
        labels: label,
    });
    rules
}

/// `1 - objective`, printed without binary noise (0.001, not 0.0010000000000000009).
pub(crate) fn error_budget(slo: &Slo) -> String {
    number(1.0 - slo.objective)
}

/// A float printed short: at most 10 significant decimals, trailing zeros cut.
pub(crate) fn number(value: f64) -> String {
    let text = format!("{value:.10}");
    let text = text.trim_end_matches('0').trim_end_matches('.');
    text.to_owned()
}

#[cfg(test)]
mod tests {
    use super::{le_matcher, number};

    #[test]
    fn bucket_bounds_match_as_exported_and_as_prometheus_3_normalises_them() {
        assert_eq!(le_matcher(0.5), r#"le="0.5""#);
        assert_eq!(le_matcher(1.0), r#"le=~"1|1\\.0""#);
        assert_eq!(le_matcher(10.0), r#"le=~"10|10\\.0""#);
    }

    #[test]
    fn numbers_print_without_binary_noise() {
        assert_eq!(number(1.0 - 0.999), "0.001");
        assert_eq!(number(14.4), "14.4");
        assert_eq!(number(3.0), "3");
    }
}
