//! The Alertmanager configuration: warnings to Slack, critical alerts to Slack and e-mail in
//! one receiver, grouped per alert and endpoint or objective; a target that is down silences
//! the other alerts of that one instance, and a fast burn the slow burn of its objective.
//!
//! Each inhibition names its source and its targets and compares only labels its source always
//! carries: Alertmanager counts a label that both alerts lack as equal, so a rule over
//! `[endpoint, slo]` from `ScrapeTargetDown` (which has neither) would silence every
//! instance's pool alert.

use std::fmt::Write as _;

use super::config::Config;
use super::rules::TARGET_DOWN;
use super::yaml::quote;

/// The configuration file (`alertmanager.yml`). No secret is written into it: the Slack
/// webhook URL is read from `slack_api_url_file`.
///
/// ```
/// let config = kansoku::deploy::Config::new("shop");
/// let yaml = kansoku::deploy::alertmanager_config(&config).unwrap();
/// assert!(yaml.contains("receiver: slack-and-email"));
/// ```
pub fn alertmanager_config(config: &Config) -> Result<String, super::ConfigError> {
    config.validate()?;
    let r = &config.alertmanager;
    let mut out = super::header("Alertmanager configuration", "alertmanager", config);
    let _ = write!(
        out,
        "global:
  resolve_timeout: 5m
  slack_api_url_file: {slack_file}
  smtp_smarthost: {smarthost}
  smtp_from: {from}
  smtp_require_tls: {tls}

route:
  receiver: slack
  group_by: [alertname, kansoku_namespace, endpoint, slo]
  group_wait: {group_wait}
  group_interval: {group_interval}
  repeat_interval: {repeat_interval}
  routes:
    - receiver: slack-and-email
      matchers:
        - severity=\"critical\"
    - receiver: slack
      matchers:
        - severity=\"warning\"

inhibit_rules:
  # a scrape target that is down silences the other alerts about that instance, and only those
  - source_matchers:
      - alertname=\"{target_down}\"
    target_matchers:
      - alertname!=\"{target_down}\"
    equal: [kansoku_namespace, job, instance]
  # a fast burn silences the slow burn of the same objective
  - source_matchers:
      - alertname=~\"SLO.+BudgetBurnFast\"
    target_matchers:
      - alertname=~\"SLO.+BudgetBurnSlow\"
    equal: [kansoku_namespace, slo]

receivers:
  - name: slack
    slack_configs:
{slack}
  - name: slack-and-email
    slack_configs:
{slack}
    email_configs:
      - to: {to}
        send_resolved: true
        headers:
          Subject: {subject}
",
        target_down = TARGET_DOWN,
        slack_file = quote(&r.slack_api_url_file),
        smarthost = quote(&r.smtp_smarthost),
        from = quote(&r.email_from),
        tls = r.smtp_require_tls,
        group_wait = r.group_wait,
        group_interval = r.group_interval,
        repeat_interval = r.repeat_interval,
        slack = slack_config(config),
        to = quote(&r.email_to),
        subject = quote(
            "[{{ .Status | toUpper }}] {{ .CommonLabels.alertname }} ({{ .CommonLabels.kansoku_namespace }})"
        ),
    );
    Ok(out)
}

fn slack_config(config: &Config) -> String {
    let r = &config.alertmanager;
    format!(
        "      - channel: {channel}
        send_resolved: true
        title: {title}
        text: {text}",
        channel = quote(&r.slack_channel),
        title = quote(
            "[{{ .Status | toUpper }}{{ if eq .Status \"firing\" }}:{{ .Alerts.Firing | len }}{{ end }}] \
             {{ .CommonLabels.alertname }} ({{ .CommonLabels.severity }})"
        ),
        text = quote(
            "{{ range .Alerts }}*{{ .Annotations.summary }}*\n{{ .Annotations.description }}\n\
             Runbook: {{ .Annotations.runbook_url }}\n{{ end }}"
        ),
    )
}

#[cfg(test)]
mod tests {
    /// The inhibitions as written: each compares labels its source always has.
    #[test]
    fn target_down_inhibits_within_its_instance_and_a_fast_burn_its_own_slow_burn() {
        let yaml = super::alertmanager_config(&super::Config::new("shop")).unwrap();
        let rules = &yaml[yaml.find("inhibit_rules:").unwrap()..yaml.find("receivers:").unwrap()];
        assert_eq!(rules.matches("source_matchers").count(), 2, "{rules}");
        assert!(
            rules.contains(
                "      - alertname=\"ScrapeTargetDown\"\n    target_matchers:\n      - alertname!=\"ScrapeTargetDown\"\n    equal: [kansoku_namespace, job, instance]"
            ),
            "{rules}"
        );
        assert!(
            rules.contains(
                "      - alertname=~\"SLO.+BudgetBurnFast\"\n    target_matchers:\n      - alertname=~\"SLO.+BudgetBurnSlow\"\n    equal: [kansoku_namespace, slo]"
            ),
            "{rules}"
        );
        assert!(!rules.contains("severity"), "{rules}");
    }
}
