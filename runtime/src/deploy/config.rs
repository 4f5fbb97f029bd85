//! The generator's input: what the operator decides (thresholds, durations, objectives, where
//! notifications go), with defaults an SRE would pick, and its validation.

use serde::Deserialize;

/// Everything the generator needs. Every field has a default but the namespace; in TOML:
///
/// ```toml
/// namespace = "osakamenesu"
/// business_metrics = ["reservations_total", "active_users"]
///
/// [alerts]
/// error_ratio = 0.05
/// error_for = "5m"
/// error_severity = "critical"     # the guide: error rate above 5% -> Slack and e-mail
/// slo_slow_severity = "critical"  # the SRE workbook pages on the 6x burn too
///
/// [[slo]]
/// name = "shops-availability"
/// kind = "availability"
/// objective = 0.999
///
/// [[slo]]
/// name = "shops-latency"
/// kind = "latency"
/// objective = 0.99
/// threshold_seconds = 0.5
/// endpoints = "/shops.*"
///
/// [alertmanager]
/// slack_channel = "#shops-alerts"
/// email_to = "oncall@example.com"
/// ```
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// The metric namespace the service was started with (`TelemetryBuilder::namespace`).
    pub namespace: String,
    /// The Prometheus scrape job of the service (for the target-down alert); default: the
    /// namespace.
    pub job: Option<String>,
    /// Where each alert's runbook is: the alert's name is appended as `#AlertName`.
    pub runbook_url: String,
    /// The request-latency bucket bounds the service exports (`api_duration_buckets`); a
    /// latency objective's threshold must be one of them.
    pub api_buckets: Vec<f64>,
    /// Thresholds and durations of the alerts.
    pub alerts: Thresholds,
    /// Service level objectives: each gets burn-rate alerts and an error-budget panel.
    pub slo: Vec<Slo>,
    /// Business metrics (names under the namespace) shown on the dashboard: names ending in
    /// `_total` are counters (shown as a rate), the others gauges.
    pub business_metrics: Vec<String>,
    /// Where Alertmanager sends the alerts.
    pub alertmanager: Receivers,
}

impl Default for Config {
    fn default() -> Config {
        Config {
            namespace: String::new(),
            job: None,
            runbook_url: "https://example.invalid/kansoku/blob/main/README.md".to_owned(),
            api_buckets: crate::names::DEFAULT_API_BUCKETS.to_vec(),
            alerts: Thresholds::default(),
            slo: Vec::new(),
            business_metrics: Vec::new(),
            alertmanager: Receivers::default(),
        }
    }
}

/// How urgent an alert is: its `severity` label, which the generated Alertmanager
/// configuration routes on. In the input: `"warning"` or `"critical"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Someone should look today: Slack.
    Warning,
    /// Someone should look now: Slack and e-mail, in the same notification.
    Critical,
}

impl Severity {
    /// The label value.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Warning => "warning",
            Severity::Critical => "critical",
        }
    }
}

/// Thresholds, durations (Prometheus durations: `30s`, `5m`, `1h`, `30d`) and the severity of
/// each alert. The severities follow the monitoring guide where it names one (crashes, the
/// error rate and the exhausted pool go to Slack and e-mail) and the SRE workbook for the
/// burn rates (both pairs page).
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Thresholds {
    /// Error ratio (errors and panics over requests, per endpoint) above which it alerts.
    pub error_ratio: f64,
    /// How long the error ratio must stay above it.
    pub error_for: String,
    /// The window the error ratio is measured over.
    pub error_window: String,
    /// A second, shorter window that must also be above the threshold: a burst shorter than
    /// `error_for` minus this window stays quiet, and the alert resolves soon after the
    /// errors stop.
    pub error_short_window: String,
    /// Of `HighErrorRatio`; the guide mails it: critical.
    pub error_severity: Severity,
    /// How long a panic must keep counting as new before `EndpointPanicked` fires; `0s`, the
    /// default, fires at the first evaluation that sees it. Shorter than `crash_window`.
    pub crash_for: String,
    /// How long after a panic it counts as new: `EndpointPanicked` stays firing this long
    /// after an endpoint's last panic, then resolves.
    pub crash_window: String,
    /// Of `EndpointPanicked`; the guide sends a new crash to Slack and e-mail: critical.
    pub crash_severity: Severity,
    /// p95 request latency, in seconds, above which it alerts.
    pub latency_p95_seconds: f64,
    /// How long the p95 must stay above it.
    pub latency_for: String,
    /// Of `HighLatencyP95`: warning.
    pub latency_severity: Severity,
    /// The window the latency quantiles are measured over (also the dashboard's rates).
    pub rate_window: String,
    /// Database pool use (used over max connections) above which it alerts.
    pub pool_use: f64,
    /// How long the pool must stay that full.
    pub pool_for: String,
    /// Of `DatabasePoolSaturated`; the guide's `DatabaseConnectionPoolExhausted` is critical.
    pub pool_severity: Severity,
    /// How long a scrape target must be down.
    pub target_down_for: String,
    /// Of `ScrapeTargetDown`: critical.
    pub target_down_severity: Severity,
    /// `for` of the fast-burn SLO alerts (1h and 5m windows, burn rate 14.4).
    pub slo_fast_for: String,
    /// Of the fast-burn SLO alerts: critical (the SRE workbook pages).
    pub slo_fast_severity: Severity,
    /// `for` of the slow-burn SLO alerts (6h and 30m windows, burn rate 6).
    pub slo_slow_for: String,
    /// Of the slow-burn SLO alerts: critical (the SRE workbook pages on this pair too; the
    /// fast burn of the same objective silences it while both fire).
    pub slo_slow_severity: Severity,
    /// The SLO period the error budget is counted over.
    pub slo_period: String,
}

impl Default for Thresholds {
    fn default() -> Thresholds {
        Thresholds {
            error_ratio: 0.05,
            error_for: "5m".to_owned(),
            error_window: "5m".to_owned(),
            error_short_window: "1m".to_owned(),
            error_severity: Severity::Critical,
            crash_for: "0s".to_owned(),
            crash_window: "5m".to_owned(),
            crash_severity: Severity::Critical,
            latency_p95_seconds: 3.0,
            latency_for: "10m".to_owned(),
            latency_severity: Severity::Warning,
            rate_window: "5m".to_owned(),
            pool_use: 0.9,
            pool_for: "5m".to_owned(),
            pool_severity: Severity::Critical,
            target_down_for: "1m".to_owned(),
            target_down_severity: Severity::Critical,
            slo_fast_for: "2m".to_owned(),
            slo_fast_severity: Severity::Critical,
            slo_slow_for: "15m".to_owned(),
            slo_slow_severity: Severity::Critical,
            slo_period: "30d".to_owned(),
        }
    }
}

/// A service level objective over the endpoints whose name matches `endpoints`.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Slo {
    /// A short name: the `slo` label of its series and alerts.
    pub name: String,
    /// What counts as a good request.
    pub kind: SloKind,
    /// The share of good requests aimed at, e.g. `0.999`.
    pub objective: f64,
    /// For a latency objective: a request is good when it took at most this long. Must be one
    /// of the exported bucket bounds.
    #[serde(default)]
    pub threshold_seconds: Option<f64>,
    /// A regular expression over the `endpoint` label; default: every endpoint.
    #[serde(default = "every_endpoint")]
    pub endpoints: String,
}

fn every_endpoint() -> String {
    ".*".to_owned()
}

impl Slo {
    /// An availability objective named `name`: `objective` (e.g. `0.999`) of the requests of
    /// every endpoint succeed.
    ///
    /// ```
    /// let slo = kansoku::deploy::Slo::availability("availability", 0.999);
    /// assert_eq!(slo.endpoints, ".*");
    /// ```
    pub fn availability(name: impl Into<String>, objective: f64) -> Slo {
        Slo {
            name: name.into(),
            kind: SloKind::Availability,
            objective,
            threshold_seconds: None,
            endpoints: every_endpoint(),
        }
    }

    /// A latency objective named `name`: `objective` of the requests of every endpoint take
    /// at most `threshold_seconds` (one of the exported bucket bounds).
    ///
    /// ```
    /// let slo = kansoku::deploy::Slo::latency("fast-shops", 0.99, 0.5).endpoints("/shops.*");
    /// assert_eq!(slo.threshold_seconds, Some(0.5));
    /// ```
    pub fn latency(name: impl Into<String>, objective: f64, threshold_seconds: f64) -> Slo {
        Slo {
            name: name.into(),
            kind: SloKind::Latency,
            objective,
            threshold_seconds: Some(threshold_seconds),
            endpoints: every_endpoint(),
        }
    }

    /// Only the endpoints whose name matches the regular expression `pattern`.
    #[must_use]
    pub fn endpoints(mut self, pattern: impl Into<String>) -> Slo {
        self.endpoints = pattern.into();
        self
    }
}

/// What counts as a good request for a [`Slo`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SloKind {
    /// It did not end in an error or a panic.
    Availability,
    /// It finished within `threshold_seconds`.
    Latency,
}

/// Receivers of the generated Alertmanager configuration. Secrets are not in it: the Slack
/// webhook URL is read from `slack_api_url_file` (and SMTP credentials are yours to add).
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Receivers {
    /// The file holding the Slack incoming-webhook URL.
    pub slack_api_url_file: String,
    /// The Slack channel.
    pub slack_channel: String,
    /// Where critical alerts are mailed.
    pub email_to: String,
    /// The sender address.
    pub email_from: String,
    /// The SMTP server, `host:port`.
    pub smtp_smarthost: String,
    /// Whether the SMTP connection must use STARTTLS.
    pub smtp_require_tls: bool,
    /// How long Alertmanager waits to group the first alerts of a group.
    pub group_wait: String,
    /// How long it waits before notifying about new alerts of a group.
    pub group_interval: String,
    /// How often it repeats a notification that is still firing.
    pub repeat_interval: String,
}

impl Default for Receivers {
    fn default() -> Receivers {
        Receivers {
            slack_api_url_file: "/etc/prometheus/alertmanager_slack_webhook_url".to_owned(),
            slack_channel: "#alerts".to_owned(),
            email_to: "oncall@example.com".to_owned(),
            email_from: "alertmanager@example.com".to_owned(),
            smtp_smarthost: "smtp.example.com:587".to_owned(),
            smtp_require_tls: true,
            group_wait: "30s".to_owned(),
            group_interval: "5m".to_owned(),
            repeat_interval: "4h".to_owned(),
        }
    }
}

/// Why a [`Config`] cannot be used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError(pub String);

impl std::fmt::Display for ConfigError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "invalid generator input: {}", self.0)
    }
}

impl std::error::Error for ConfigError {}

impl Config {
    /// A configuration with every default, for `namespace`.
    pub fn new(namespace: impl Into<String>) -> Config {
        Config {
            namespace: namespace.into(),
            ..Config::default()
        }
    }

    /// A configuration with every default, for what `telemetry` was started with: its
    /// namespace and request-latency buckets. Objectives declared at start-up go into `slo`.
    ///
    /// ```
    /// use kansoku::deploy::{Config, Slo};
    /// let telemetry = kansoku::Telemetry::builder()
    ///     .namespace("shop")
    ///     .api_duration_buckets([0.1, 0.3, 1.0])
    ///     .build()?;
    /// let mut config = Config::from_telemetry(&telemetry);
    /// // 0.3 s: a bound the service really exports
    /// config.slo.push(Slo::latency("fast", 0.99, 0.3));
    /// let rules = kansoku::deploy::prometheus_rules(&config).unwrap();
    /// assert!(rules.contains("shop_api_request_duration_seconds_bucket"));
    /// # Ok::<(), kansoku::Error>(())
    /// ```
    pub fn from_telemetry(telemetry: &crate::Telemetry) -> Config {
        Config {
            namespace: telemetry.namespace().to_owned(),
            api_buckets: telemetry.api_buckets().map_or_else(
                || crate::names::DEFAULT_API_BUCKETS.to_vec(),
                <[f64]>::to_vec,
            ),
            ..Config::default()
        }
    }

    /// The scrape job of the target-down alert.
    pub fn job(&self) -> &str {
        self.job.as_deref().unwrap_or(&self.namespace)
    }

    /// Checks every field; the generator runs it first.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let bad = |why: String| Err(ConfigError(why));
        if !is_metric_name(&self.namespace) {
            return bad(format!(
                "namespace `{}`: expected letters, digits and `_`, not starting with a digit",
                self.namespace
            ));
        }
        let t = &self.alerts;
        for (name, value) in [
            ("alerts.error_for", &t.error_for),
            ("alerts.error_window", &t.error_window),
            ("alerts.error_short_window", &t.error_short_window),
            ("alerts.crash_for", &t.crash_for),
            ("alerts.crash_window", &t.crash_window),
            ("alerts.latency_for", &t.latency_for),
            ("alerts.rate_window", &t.rate_window),
            ("alerts.pool_for", &t.pool_for),
            ("alerts.target_down_for", &t.target_down_for),
            ("alerts.slo_fast_for", &t.slo_fast_for),
            ("alerts.slo_slow_for", &t.slo_slow_for),
            ("alerts.slo_period", &t.slo_period),
            ("alertmanager.group_wait", &self.alertmanager.group_wait),
            (
                "alertmanager.group_interval",
                &self.alertmanager.group_interval,
            ),
            (
                "alertmanager.repeat_interval",
                &self.alertmanager.repeat_interval,
            ),
        ] {
            if !is_duration(value) {
                return bad(format!(
                    "{name} = `{value}`: expected a Prometheus duration such as `30s`, `5m`, `1h`"
                ));
            }
        }
        if seconds(&t.crash_for) >= seconds(&t.crash_window) {
            return bad(format!(
                "alerts.crash_for = `{}` is not shorter than alerts.crash_window = `{}`: \
                 a panic counts as new for crash_window only, so the alert would never fire",
                t.crash_for, t.crash_window
            ));
        }
        for (name, value) in [
            ("alerts.error_ratio", t.error_ratio),
            ("alerts.pool_use", t.pool_use),
        ] {
            if !(value > 0.0 && value < 1.0) {
                return bad(format!(
                    "{name} = {value}: expected a ratio between 0 and 1"
                ));
            }
        }
        if !(t.latency_p95_seconds > 0.0 && t.latency_p95_seconds.is_finite()) {
            return bad(format!(
                "alerts.latency_p95_seconds = {}: expected a positive number of seconds",
                t.latency_p95_seconds
            ));
        }
        for name in &self.business_metrics {
            if !is_metric_name(name) {
                return bad(format!("business metric `{name}` is not a metric name"));
            }
        }
        let mut seen = std::collections::BTreeSet::new();
        for slo in &self.slo {
            self.validate_slo(slo)?;
            if !seen.insert(&slo.name) {
                return bad(format!("two objectives are named `{}`", slo.name));
            }
        }
        Ok(())
    }

    fn validate_slo(&self, slo: &Slo) -> Result<(), ConfigError> {
        let bad = |why: String| Err(ConfigError(format!("slo `{}`: {why}", slo.name)));
        if slo.name.is_empty()
            || !slo
                .name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        {
            return bad("the name must be letters, digits, `-` or `_`".to_owned());
        }
        if !(slo.objective > 0.0 && slo.objective < 1.0) {
            return bad(format!(
                "objective = {}: expected a ratio between 0 and 1, e.g. 0.999",
                slo.objective
            ));
        }
        if slo.endpoints.contains('"') || slo.endpoints.contains('\\') {
            return bad("`endpoints` may not hold `\"` or `\\`".to_owned());
        }
        match (slo.kind, slo.threshold_seconds) {
            (SloKind::Availability, Some(_)) => {
                bad("threshold_seconds is for a latency objective".to_owned())
            }
            (SloKind::Latency, None) => {
                bad("a latency objective needs threshold_seconds".to_owned())
            }
            (SloKind::Latency, Some(s)) if !self.api_buckets.contains(&s) => bad(format!(
                "threshold_seconds = {s} is not a bucket bound of the request histogram ({}): \
                 pick one, or export it with `api_duration_buckets`",
                self.api_buckets
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join(", ")
            )),
            _ => Ok(()),
        }
    }
}

fn is_metric_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// The seconds of a duration that [`is_duration`] accepted (0 for anything else).
pub(crate) fn seconds(text: &str) -> f64 {
    let mut total = 0.0;
    let mut rest = text;
    while !rest.is_empty() {
        let digits = rest.chars().take_while(char::is_ascii_digit).count();
        let n: f64 = rest[..digits].parse().unwrap_or(0.0);
        rest = &rest[digits..];
        let (unit, scale) = [
            ("ms", 0.001),
            ("s", 1.0),
            ("m", 60.0),
            ("h", 3600.0),
            ("d", 86400.0),
            ("w", 604_800.0),
            ("y", 31_536_000.0),
        ]
        .into_iter()
        .find(|(unit, _)| rest.starts_with(unit))
        .unwrap_or(("", 0.0));
        if unit.is_empty() {
            return 0.0;
        }
        rest = &rest[unit.len()..];
        total += n * scale;
    }
    total
}

/// `5m`, `90s`, `1h30m`: what Prometheus accepts as a duration.
fn is_duration(text: &str) -> bool {
    let mut rest = text;
    if rest.is_empty() {
        return false;
    }
    while !rest.is_empty() {
        let digits = rest.chars().take_while(char::is_ascii_digit).count();
        if digits == 0 {
            return false;
        }
        rest = &rest[digits..];
        let unit = ["ms", "s", "m", "h", "d", "w", "y"]
            .into_iter()
            .find(|unit| rest.starts_with(unit));
        match unit {
            Some(unit) => rest = &rest[unit.len()..],
            None => return false,
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid_and_bad_fields_are_named() {
        assert_eq!(Config::new("shop").validate(), Ok(()));
        let mut config = Config::new("shop");
        config.alerts.error_for = "5 minutes".to_owned();
        assert!(config
            .validate()
            .unwrap_err()
            .0
            .contains("alerts.error_for"));
        let mut config = Config::new("9shop");
        assert!(config.validate().unwrap_err().0.contains("namespace"));
        config.namespace = "shop".to_owned();
        config.slo.push(Slo {
            name: "fast".to_owned(),
            kind: SloKind::Latency,
            objective: 0.99,
            threshold_seconds: Some(0.3),
            endpoints: ".*".to_owned(),
        });
        let error = config.validate().unwrap_err().0;
        assert!(error.contains("0.3 is not a bucket bound"), "{error}");
    }

    #[test]
    fn severities_follow_the_guide_and_the_workbook_and_each_is_configurable() {
        let t = Thresholds::default();
        assert_eq!(
            [
                t.error_severity,
                t.crash_severity,
                t.pool_severity,
                t.target_down_severity,
                t.slo_fast_severity,
                t.slo_slow_severity,
            ],
            [Severity::Critical; 6]
        );
        assert_eq!(t.latency_severity, Severity::Warning);
        let t: Thresholds = serde_json::from_str(
            r#"{"error_severity": "warning", "latency_severity": "critical"}"#,
        )
        .unwrap();
        assert_eq!(t.error_severity, Severity::Warning);
        assert_eq!(t.latency_severity, Severity::Critical);
        assert_eq!(t.pool_severity, Severity::Critical);
        let error = serde_json::from_str::<Thresholds>(r#"{"pool_severity": "page"}"#)
            .unwrap_err()
            .to_string();
        assert!(
            error.contains("warning") && error.contains("critical"),
            "{error}"
        );
    }

    #[test]
    fn a_crash_for_not_shorter_than_its_window_is_refused() {
        let mut config = Config::new("shop");
        config.alerts.crash_for = "5m".to_owned();
        let error = config.validate().unwrap_err().0;
        assert!(error.contains("alerts.crash_for"), "{error}");
        config.alerts.crash_for = "4m".to_owned();
        assert_eq!(config.validate(), Ok(()));
    }

    #[test]
    fn durations() {
        for good in ["5m", "30s", "1h30m", "250ms", "30d"] {
            assert!(is_duration(good), "{good}");
        }
        for bad in ["", "5", "m", "5 m", "5min", "-5m"] {
            assert!(!is_duration(bad), "{bad}");
        }
    }
}
