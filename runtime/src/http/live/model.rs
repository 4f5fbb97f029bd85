//! The JSON of `GET /ops/live/data` (documented in `docs/live-data.md`): one snapshot of the
//! real-time numbers, where they come from, and whether they are stale.

use std::time::{Duration, SystemTime};

use serde_json::{json, Map, Value};

use super::super::ops::rfc3339;
use crate::stats::{CallStats, RealtimeSnapshot};
use crate::{Status, Telemetry};

/// The version of the JSON's shape; bumped when a field changes meaning or goes away.
pub(crate) const SCHEMA_VERSION: u64 = 1;

/// The windows a viewer may ask for, by their `window` parameter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Window {
    OneMinute,
    FiveMinutes,
    OneHour,
}

impl Window {
    pub(crate) const ALL: [Window; 3] = [Window::OneMinute, Window::FiveMinutes, Window::OneHour];

    /// `1m`, `5m` or `1h`; anything else is refused with the list of choices.
    pub(crate) fn parse(text: &str) -> Result<Window, String> {
        Window::ALL
            .into_iter()
            .find(|w| w.as_str() == text)
            .ok_or_else(|| format!("unknown window {text:?}: use 1m, 5m or 1h"))
    }

    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Window::OneMinute => "1m",
            Window::FiveMinutes => "5m",
            Window::OneHour => "1h",
        }
    }

    pub(crate) fn duration(self) -> Duration {
        Duration::from_secs(match self {
            Window::OneMinute => 60,
            Window::FiveMinutes => 300,
            Window::OneHour => 3600,
        })
    }

    pub(crate) fn index(self) -> usize {
        self as usize
    }
}

/// Where the numbers were read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Origin {
    /// Redis: every instance writing under this namespace.
    Redis,
    /// This process's own windowed statistics.
    Local,
}

/// Redis could not be read since `since`; the numbers are the last good ones.
#[derive(Debug, Clone)]
pub(crate) struct Stale {
    pub(crate) since: SystemTime,
    pub(crate) error: String,
}

/// One answer of the data endpoint, shared by every viewer for up to a second.
#[derive(Debug, Clone)]
pub(crate) struct View {
    pub(crate) window: Window,
    pub(crate) origin: Origin,
    pub(crate) snapshot: RealtimeSnapshot,
    /// When `snapshot` was read.
    pub(crate) read_at: SystemTime,
    pub(crate) stale: Option<Stale>,
}

fn millis(d: Option<Duration>) -> Value {
    // microsecond precision: fast endpoints are not all 0
    d.map_or(Value::Null, |d| {
        json!((d.as_secs_f64() * 1e6).round() / 1e3)
    })
}

fn calls(stats: &CallStats) -> Map<String, Value> {
    let by_status: Map<String, Value> = Status::ALL
        .iter()
        .map(|s| (s.as_str().to_owned(), json!(stats.calls(*s))))
        .collect();
    let mut row = Map::new();
    row.insert("requests".into(), json!(stats.requests));
    row.insert("rate".into(), json!(stats.rate));
    row.insert("errors".into(), json!(stats.errors));
    row.insert("error_ratio".into(), json!(stats.error_ratio));
    row.insert("mean_ms".into(), millis(stats.mean));
    row.insert("p50_ms".into(), millis(stats.p50));
    row.insert("p95_ms".into(), millis(stats.p95));
    row.insert("p99_ms".into(), millis(stats.p99));
    row.insert("by_status".into(), Value::Object(by_status));
    row
}

/// The application's alerts ([`kansoku::alert`](crate::alert)), firing or quiet, as
/// `{"name", "firing", "value", "condition", "firing_since": rfc3339 or null}`.
#[cfg(feature = "alert")]
pub(crate) fn alerts(telemetry: &Telemetry) -> Vec<Value> {
    telemetry
        .alerts()
        .into_iter()
        .map(|alert| {
            json!({
                "name": alert.name,
                "firing": alert.firing,
                "value": alert.value,
                "condition": alert.condition,
                "firing_since": alert.firing_since.map(rfc3339),
            })
        })
        .collect()
}

/// Without the `alert` feature there are no application alerts to show.
#[cfg(not(feature = "alert"))]
pub(crate) fn alerts(_telemetry: &Telemetry) -> Vec<Value> {
    Vec::new()
}

impl View {
    /// The documented JSON (see `docs/live-data.md`).
    pub(crate) fn to_json(&self, alerts: &[Value], this_instance: &str) -> Value {
        let s = &self.snapshot;
        let endpoints: Vec<Value> = s
            .endpoints
            .iter()
            .map(|((endpoint, method), stats)| {
                let mut row = calls(stats);
                row.insert("endpoint".into(), json!(endpoint));
                row.insert("method".into(), json!(method));
                Value::Object(row)
            })
            .collect();
        let queries: Vec<Value> = s
            .queries
            .iter()
            .map(|((operation, table), stats)| {
                let mut row = calls(stats);
                row.insert("operation".into(), json!(operation));
                row.insert("table".into(), json!(table));
                Value::Object(row)
            })
            .collect();
        let routes: Vec<Value> = s
            .routes
            .iter()
            .map(|((route, method), stats)| {
                let mut row = calls(stats);
                row.insert("route".into(), json!(route));
                row.insert("method".into(), json!(method));
                let by_class: Map<String, Value> = (1..=5)
                    .zip(stats.by_class)
                    .map(|(class, n)| (format!("{class}xx"), json!(n)))
                    .collect();
                row.insert("by_class".into(), Value::Object(by_class));
                Value::Object(row)
            })
            .collect();
        let errors: Vec<Value> = s
            .errors
            .iter()
            .map(|((endpoint, kind), n)| json!({"endpoint": endpoint, "kind": kind, "count": n}))
            .collect();
        let counters: Vec<Value> = s
            .counters
            .iter()
            .map(|(series, n)| json!({"series": series, "count": n}))
            .collect();
        let instances: Vec<Value> = match self.origin {
            Origin::Redis => s
                .instances
                .iter()
                .map(|(id, at)| json!({"id": id, "last_write": rfc3339(*at)}))
                .collect(),
            Origin::Local => {
                vec![json!({"id": this_instance, "last_write": rfc3339(self.read_at)})]
            }
        };
        json!({
            "schema_version": SCHEMA_VERSION,
            "generated_at": rfc3339(self.read_at),
            "window": self.window.as_str(),
            "window_seconds": s.window.as_secs_f64(),
            "source": match self.origin { Origin::Redis => "redis", Origin::Local => "local" },
            "all_instances": self.origin == Origin::Redis,
            "stale": self.stale.as_ref().map(|st| json!({
                "since": rfc3339(st.since),
                "error": st.error,
            })),
            "instances": instances,
            "endpoints": endpoints,
            "queries": queries,
            "routes": routes,
            "errors": errors,
            "counters": counters,
            "alerts": alerts,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_parse_and_refuse_clearly() {
        assert_eq!(Window::parse("5m"), Ok(Window::FiveMinutes));
        assert_eq!(
            Window::parse("1h").map(Window::duration),
            Ok(Duration::from_secs(3600))
        );
        let refused = Window::parse("2d").unwrap_err();
        assert!(refused.contains("1m, 5m or 1h"), "{refused}");
    }
}
