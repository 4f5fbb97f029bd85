//! The Prometheus rule file: the recording rules of `promql`, then the alerts built on them.

use std::fmt::Write as _;

use super::config::{Config, Severity, Slo, SloKind};
use super::promql::{self, number, Recording, Series};
use super::yaml::quote;

/// One alerting rule.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlertRule {
    /// The `alertname`.
    pub name: String,
    /// The condition.
    pub expr: String,
    /// How long it must hold before the alert fires.
    pub for_: String,
    /// `severity` and `kansoku_namespace`, then any others.
    pub labels: Vec<(String, String)>,
    /// `summary`, `description`, `runbook_url` (templates over `$labels`).
    pub annotations: Vec<(String, String)>,
}

/// The SRE workbook's pairs: (long window, short window, burn rate, name suffix).
const BURN_RATES: [(&str, &str, f64, &str); 2] =
    [("1h", "5m", 14.4, "Fast"), ("6h", "30m", 6.0, "Slow")];

/// The name of the target-down alert (the source of an inhibition).
pub(crate) const TARGET_DOWN: &str = "ScrapeTargetDown";

/// The name of the crash alert.
pub(crate) const CRASH: &str = "EndpointPanicked";

fn percent(ratio: f64) -> String {
    format!("{}%", number(ratio * 100.0))
}

impl AlertRule {
    fn new(config: &Config, name: &str, severity: Severity, expr: String, for_: &str) -> Self {
        AlertRule {
            name: name.to_owned(),
            expr,
            for_: for_.to_owned(),
            labels: vec![
                ("severity".to_owned(), severity.as_str().to_owned()),
                ("kansoku_namespace".to_owned(), config.namespace.clone()),
            ],
            annotations: vec![(
                "runbook_url".to_owned(),
                format!("{}#{}", config.runbook_url, name.to_ascii_lowercase()),
            )],
        }
    }

    fn describe(mut self, summary: String, description: String) -> Self {
        self.annotations
            .insert(0, ("description".to_owned(), description));
        self.annotations.insert(0, ("summary".to_owned(), summary));
        self
    }
}

/// The alerts, in the order they are written.
pub fn alert_rules(config: &Config) -> Vec<AlertRule> {
    let s = Series::new(config);
    let t = &config.alerts;
    let ns = &config.namespace;
    let mut alerts = vec![
        AlertRule::new(
            config,
            "HighErrorRatio",
            t.error_severity,
            format!(
                "{long} > {r}\nand\n{short} > {r}",
                long = s.error_ratio(&t.error_window),
                short = s.error_ratio(&t.error_short_window),
                r = number(t.error_ratio)
            ),
            &t.error_for,
        )
        .describe(
            format!("{ns}: more than {} of requests to {{{{ $labels.endpoint }}}} fail", percent(t.error_ratio)),
            format!(
                "Over the last {} (and the last {}), more than {} of the calls of endpoint {{{{ $labels.endpoint }}}} \
                 ended in an error or a panic, for {}. The dashboard's error-ratio panel shows the value; Sentry shows the errors.",
                t.error_window, t.error_short_window, percent(t.error_ratio), t.error_for
            ),
        ),
        crash_alert(config),
        AlertRule::new(
            config,
            "HighLatencyP95",
            t.latency_severity,
            format!("{} > {}", s.latency("p95", &t.rate_window), number(t.latency_p95_seconds)),
            &t.latency_for,
        )
        .describe(
            format!("{ns}: p95 latency of {{{{ $labels.endpoint }}}} above {}s", number(t.latency_p95_seconds)),
            format!(
                "The 95th percentile of the latency of endpoint {{{{ $labels.endpoint }}}} over the last {} \
                 has been above {}s for {}. Look at the latency and database panels for the slow part.",
                t.rate_window, number(t.latency_p95_seconds), t.latency_for
            ),
        ),
        AlertRule::new(
            config,
            "DatabasePoolSaturated",
            t.pool_severity,
            format!("{} > {}", s.pool_use(), number(t.pool_use)),
            &t.pool_for,
        )
        .describe(
            format!("{ns}: database pool more than {} used on {{{{ $labels.instance }}}}", percent(t.pool_use)),
            format!(
                "More than {} of the database connections of {{{{ $labels.instance }}}} have been in use for {}; \
                 requests will soon wait for a connection. Look for slow queries, or grow the pool.",
                percent(t.pool_use), t.pool_for
            ),
        ),
        AlertRule::new(
            config,
            TARGET_DOWN,
            t.target_down_severity,
            format!("up{{job=\"{}\"}} == 0", config.job()),
            &t.target_down_for,
        )
        .describe(
            format!("{ns}: Prometheus cannot scrape {{{{ $labels.instance }}}}"),
            format!(
                "The scrape of {{{{ $labels.instance }}}} (job {}) has failed for {}: the service is down, \
                 or /metrics refuses the token. `kansoku-cli doctor` checks the endpoint and the token.",
                config.job(), t.target_down_for
            ),
        ),
    ];
    for slo in &config.slo {
        alerts.extend(burn_rate_alerts(config, slo));
    }
    alerts
}

/// The guide's "a new crash occurs": a call of an endpoint panicked.
fn crash_alert(config: &Config) -> AlertRule {
    let t = &config.alerts;
    AlertRule::new(
        config,
        CRASH,
        t.crash_severity,
        promql::new_panics(config, &t.crash_window),
        &t.crash_for,
    )
    .describe(
        format!("{}: a call of {{{{ $labels.endpoint }}}} panicked", config.namespace),
        format!(
            "A call of endpoint {{{{ $labels.endpoint }}}} panicked within the last {}: the first panic \
             of the endpoint, or one more. The alert resolves {} after its last panic. Sentry holds the \
             panic's message and backtrace.",
            t.crash_window, t.crash_window
        ),
    )
}

fn burn_rate_alerts(config: &Config, slo: &Slo) -> Vec<AlertRule> {
    let s = Series::new(config);
    let budget = promql::error_budget(slo);
    let what = match slo.kind {
        SloKind::Availability => "AvailabilityBudgetBurn",
        SloKind::Latency => "LatencyBudgetBurn",
    };
    let bad = match slo.kind {
        SloKind::Availability => "failing".to_owned(),
        SloKind::Latency => format!(
            "slower than {}s",
            number(slo.threshold_seconds.unwrap_or_default())
        ),
    };
    BURN_RATES
        .iter()
        .map(|&(long, short, rate, speed)| {
            let (for_, severity) = match speed {
                "Fast" => (&config.alerts.slo_fast_for, config.alerts.slo_fast_severity),
                _ => (&config.alerts.slo_slow_for, config.alerts.slo_slow_severity),
            };
            let condition = |w: &str| {
                format!(
                    "{}{{slo=\"{}\"}} > ({} * {budget})",
                    s.sli_errors(w),
                    slo.name,
                    number(rate)
                )
            };
            AlertRule::new(
                config,
                &format!("SLO{what}{speed}"),
                severity,
                format!("{}\nand\n{}", condition(long), condition(short)),
                for_,
            )
            .describe(
                format!(
                    "{}: SLO {} burns its error budget {}× too fast",
                    config.namespace, slo.name, number(rate)
                ),
                format!(
                    "Requests {bad} over the last {long} and the last {short} are more than {}× the {} \
                     the objective of {} allows: at this rate the budget of {} is spent in {}.",
                    number(rate),
                    percent(1.0 - slo.objective),
                    percent(slo.objective),
                    config.alerts.slo_period,
                    spent_in(&config.alerts.slo_period, rate)
                ),
            )
        })
        .collect()
}

/// How long a budget lasts at `rate` times the sustainable burn: 30d at 14.4× ≈ 50 hours.
fn spent_in(period: &str, rate: f64) -> String {
    let hours = super::config::seconds(period) / 3600.0 / rate;
    if hours >= 48.0 {
        format!("about {} days", number((hours / 24.0).round()))
    } else {
        format!("about {} hours", number(hours.round().max(1.0)))
    }
}

fn write_recordings(out: &mut String, rules: &[Recording]) {
    for r in rules {
        let _ = writeln!(out, "      - record: {}", r.record);
        let _ = writeln!(out, "        expr: {}", quote(&r.expr));
        if !r.labels.is_empty() {
            let _ = writeln!(out, "        labels:");
            for (k, v) in &r.labels {
                let _ = writeln!(out, "          {k}: {}", quote(v));
            }
        }
    }
}

/// The rule file (`prometheus.yml`'s `rule_files`): recording rules, then alerts.
///
/// ```
/// let config = kansoku::deploy::Config::new("shop");
/// let yaml = kansoku::deploy::prometheus_rules(&config).unwrap();
/// assert!(yaml.contains("alert: HighErrorRatio"));
/// assert!(yaml.contains("histogram_quantile(0.95, sum by (le, endpoint) (rate(shop_api_request_duration_seconds_bucket[5m])))"));
/// ```
pub fn prometheus_rules(config: &Config) -> Result<String, super::ConfigError> {
    config.validate()?;
    let ns = &config.namespace;
    let mut out = super::header("Prometheus rules", "rules", config);
    out.push_str("groups:\n");
    let _ = writeln!(out, "  - name: {ns}-recording\n    rules:");
    write_recordings(&mut out, &promql::service_rules(config));
    if !config.slo.is_empty() {
        let _ = writeln!(out, "  - name: {ns}-slo-recording\n    rules:");
        for slo in &config.slo {
            write_recordings(&mut out, &promql::slo_rules(config, slo));
        }
    }
    let _ = writeln!(out, "  - name: {ns}-alerts\n    rules:");
    for alert in alert_rules(config) {
        let _ = writeln!(out, "      - alert: {}", alert.name);
        let _ = writeln!(out, "        expr: {}", quote(&alert.expr));
        let _ = writeln!(out, "        for: {}", alert.for_);
        let _ = writeln!(out, "        labels:");
        for (k, v) in &alert.labels {
            let _ = writeln!(out, "          {k}: {}", quote(v));
        }
        let _ = writeln!(out, "        annotations:");
        for (k, v) in &alert.annotations {
            let _ = writeln!(out, "          {k}: {}", quote(v));
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::{alert_rules, Config, CRASH};

    #[test]
    fn the_crash_alert_reads_both_panic_counters_and_keeps_endpoint_and_kind() {
        let mut config = Config::new("shop");
        config.alerts.crash_window = "2m".to_owned();
        config.alerts.crash_for = "30s".to_owned();
        let crash = alert_rules(&config)
            .into_iter()
            .find(|rule| rule.name == CRASH)
            .unwrap();
        assert_eq!(crash.for_, "30s");
        assert_eq!(
            crash.labels[0],
            ("severity".to_owned(), "critical".to_owned())
        );
        for part in [
            "count by (endpoint, kind) (\n  shop_errors_total{kind=\"panic\"} > 0 and (",
            "label_replace(count by (endpoint) (\n  shop_api_requests_total{status=\"panic\"} > 0 and (",
            "increase(shop_errors_total{kind=\"panic\"}[2m]) > 0",
            "last_over_time(shop_api_requests_total{status=\"panic\"}[1h] offset 2m)",
            "unless on (job, instance) (up offset 2m == 0)",
            "), \"kind\", \"panic\", \"\", \"\")",
        ] {
            assert!(crash.expr.contains(part), "{part} not in\n{}", crash.expr);
        }
    }
}
