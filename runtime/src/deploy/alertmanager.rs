//! The Alertmanager configuration: warnings to Slack, critical alerts to Slack and e-mail,
//! grouped per alert and endpoint or objective, and a critical alert silencing the warnings of
//! the same namespace, endpoint and objective.

use std::fmt::Write as _;

use super::config::Config;
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
  # a critical alert silences the warnings about the same thing (a fast SLO burn its slow burn)
  - source_matchers:
      - severity=\"critical\"
    target_matchers:
      - severity=\"warning\"
    equal: [kansoku_namespace, endpoint, slo]

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
