//! The Grafana dashboard (JSON model of Grafana 10+): a datasource variable, `endpoint` and
//! `table` variables, and one panel per question an operator asks, each reading the recorded
//! series of `promql` or an exported family.

use serde_json::{json, Value};

use super::config::Config;
use super::promql::{number, Series};
use crate::names;

/// One panel: its title, what it shows, and its queries (`(expr, legend)`).
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Panel {
    /// The title.
    pub title: String,
    /// What it answers (the panel's description, shown on hover).
    pub description: String,
    /// `timeseries`, `stat` or `bargauge`.
    pub kind: &'static str,
    /// The unit Grafana formats values with (`reqps`, `percentunit`, `s`, `short`).
    pub unit: &'static str,
    /// Queries: the expression (with `$endpoint`/`$table`) and the legend.
    pub queries: Vec<(String, String)>,
}

fn panel(title: &str, kind: &'static str, unit: &'static str, description: &str) -> Panel {
    Panel {
        title: title.to_owned(),
        description: description.to_owned(),
        kind,
        unit,
        queries: Vec::new(),
    }
}

impl Panel {
    fn query(mut self, expr: String, legend: &str) -> Panel {
        self.queries.push((expr, legend.to_owned()));
        self
    }
}

/// The panels, in the order they are laid out.
pub fn panels(config: &Config) -> Vec<Panel> {
    let s = Series::new(config);
    let w = &config.alerts.rate_window;
    let e = "endpoint=~\"$endpoint\"";
    let tb = "table=~\"$table\"";
    let mut out = vec![
        panel("Request rate", "timeseries", "reqps", "Requests per second, by endpoint.")
            .query(format!("{}{{{e}}}", s.requests_rate(w)), "{{endpoint}}"),
        panel("Error ratio", "timeseries", "percentunit", &format!(
            "Share of requests that ended in an error or a panic, by endpoint. The HighErrorRatio alert fires above {}.",
            number(config.alerts.error_ratio)
        ))
        .query(format!("{}{{{e}}}", s.error_ratio(w)), "{{endpoint}}"),
        panel("Latency p50 / p95 / p99", "timeseries", "s", &format!(
            "Request latency quantiles over {w}, by endpoint. The HighLatencyP95 alert fires when p95 stays above {}s.",
            number(config.alerts.latency_p95_seconds)
        ))
        .query(format!("{}{{{e}}}", s.latency("p50", w)), "p50 {{endpoint}}")
        .query(format!("{}{{{e}}}", s.latency("p95", w)), "p95 {{endpoint}}")
        .query(format!("{}{{{e}}}", s.latency("p99", w)), "p99 {{endpoint}}"),
        panel("In flight", "timeseries", "short", "Requests started and not finished, by endpoint.")
            .query(format!("sum by (endpoint) ({}{{{e}}})", s.family(names::API_IN_FLIGHT)), "{{endpoint}}"),
        panel("HTTP status codes by route", "timeseries", "reqps", "Responses per second by route template and status code (the HTTP middleware).")
            .query(format!("sum by (route, status_code) (rate({}[{w}]))", s.family(names::HTTP_REQUESTS)), "{{route}} {{status_code}}"),
        panel("Database query rate", "timeseries", "ops", "Queries per second, by table and operation.")
            .query(format!("sum by (table, operation) (rate({}{{{tb}}}[{w}]))", s.family(names::DB_QUERIES)), "{{operation}} {{table}}"),
        panel("Database query latency p95", "timeseries", "s", "95th percentile of query latency, by table.")
            .query(format!(
                "histogram_quantile(0.95, sum by (le, table) (rate({}_bucket{{{tb}}}[{w}])))",
                s.family(names::DB_DURATION)
            ), "{{table}}"),
        panel("Database pool use", "timeseries", "percentunit", &format!(
            "Connections in use over the pool's maximum, by instance. The DatabasePoolSaturated alert fires above {}.",
            number(config.alerts.pool_use)
        ))
        .query(s.pool_use(), "{{instance}}"),
        panel("Health checks", "stat", "short", "1 when a health check of /health/detailed passes, 0 when it fails.")
            .query(format!("min by (check) ({})", s.family(names::HEALTH_CHECK_UP)), "{{check}}"),
        panel("Application alerts", "stat", "short", "1 while an alert of the application itself (kansoku::alert) fires.")
            .query(format!("max by (alert) ({})", s.family(names::ALERT_FIRING)), "{{alert}}"),
    ];
    if !config.business_metrics.is_empty() {
        let mut business = panel(
            "Business metrics",
            "timeseries",
            "short",
            "The service's own counters (per second) and gauges.",
        );
        for name in &config.business_metrics {
            let full = format!("{}_{name}", config.namespace);
            let expr = if name.ends_with("_total") {
                format!("sum without (instance, job) (rate({full}[{w}]))")
            } else {
                format!("sum without (instance, job) ({full})")
            };
            business = business.query(expr, name);
        }
        out.push(business);
    }
    if !config.slo.is_empty() {
        out.push(
            panel("SLO error budget remaining", "bargauge", "percentunit", &format!(
                "Share of each objective's error budget left over the last {}; below 0 the objective is missed.",
                config.alerts.slo_period
            ))
            .query(s.budget_remaining(), "{{slo}}"),
        );
    }
    out
}

fn panel_json(id: usize, panel: &Panel) -> Value {
    let (width, height) = (12, 8);
    let x = (id % 2) * width;
    let y = (id / 2) * height;
    let targets: Vec<Value> = panel
        .queries
        .iter()
        .enumerate()
        .map(|(i, (expr, legend))| {
            json!({
                "datasource": {"type": "prometheus", "uid": "${datasource}"},
                "refId": char::from(b'A' + u8::try_from(i % 26).unwrap_or(0)).to_string(),
                "expr": expr,
                "legendFormat": legend,
            })
        })
        .collect();
    json!({
        "id": id + 1,
        "type": panel.kind,
        "title": panel.title,
        "description": panel.description,
        "datasource": {"type": "prometheus", "uid": "${datasource}"},
        "gridPos": {"h": height, "w": width, "x": x, "y": y},
        "fieldConfig": {"defaults": {"unit": panel.unit}, "overrides": []},
        "options": {},
        "targets": targets,
    })
}

fn variable(name: &str, label: &str, query: &str) -> Value {
    json!({
        "name": name,
        "label": label,
        "type": "query",
        "datasource": {"type": "prometheus", "uid": "${datasource}"},
        "query": {"query": query, "refId": format!("{name}-variable")},
        "definition": "",
        "refresh": 2,
        "multi": true,
        "includeAll": true,
        "allValue": ".*",
        "current": {"selected": true, "text": ["All"], "value": ["$__all"]},
        "sort": 1,
    })
}

/// The dashboard JSON, ready for Grafana's *Import dashboard*.
///
/// ```
/// let config = kansoku::deploy::Config::new("shop");
/// let json = kansoku::deploy::grafana_dashboard(&config).unwrap();
/// let dashboard: serde_json::Value = serde_json::from_str(&json).unwrap();
/// assert_eq!(dashboard["templating"]["list"][0]["type"], "datasource");
/// ```
pub fn grafana_dashboard(config: &Config) -> Result<String, super::ConfigError> {
    config.validate()?;
    let s = Series::new(config);
    let panels: Vec<Value> = panels(config)
        .iter()
        .enumerate()
        .map(|(id, p)| panel_json(id, p))
        .collect();
    let dashboard = json!({
        "description": super::header_line("Grafana dashboard", "dashboard", config),
        "uid": format!("kansoku-{}", config.namespace.replace('_', "-")),
        "title": format!("{} (kansoku)", config.namespace),
        "tags": ["kansoku", config.namespace],
        "timezone": "browser",
        "schemaVersion": 39,
        "version": 1,
        "editable": true,
        "refresh": "30s",
        "time": {"from": "now-3h", "to": "now"},
        "templating": {"list": [
            {
                "name": "datasource",
                "label": "Data source",
                "type": "datasource",
                "query": "prometheus",
                "current": {},
                "hide": 0,
            },
            variable("endpoint", "Endpoint", &format!("label_values({}, endpoint)", s.family(names::API_REQUESTS))),
            variable("table", "Table", &format!("label_values({}, table)", s.family(names::DB_QUERIES))),
        ]},
        "annotations": {"list": []},
        "panels": panels,
    });
    let mut text = serde_json::to_string_pretty(&dashboard).unwrap_or_default();
    text.push('\n');
    Ok(text)
}
