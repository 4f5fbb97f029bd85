//! Metric families as an OTLP `ExportMetricsServiceRequest`, cumulative or delta.

use std::collections::HashMap;

use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::common::v1::{any_value, AnyValue, InstrumentationScope, KeyValue};
use opentelemetry_proto::tonic::metrics::v1::{
    metric, number_data_point, AggregationTemporality, Gauge, Histogram, HistogramDataPoint,
    Metric, NumberDataPoint, ResourceMetrics, ScopeMetrics, Sum,
};
use opentelemetry_proto::tonic::resource::v1::Resource;

use super::Temporality;
use crate::record::export::{Family, Value};

fn attribute(key: &str, value: &str) -> KeyValue {
    KeyValue {
        key: key.to_owned(),
        value: Some(AnyValue {
            value: Some(any_value::Value::StringValue(value.to_owned())),
        }),
        ..KeyValue::default()
    }
}

/// The resource every push describes: `service.name`, `service.version`,
/// `deployment.environment(.name)` from the builder, over `OTEL_RESOURCE_ATTRIBUTES`.
pub(crate) fn resource(identity: &super::Identity<'_>, from_env: &[(String, String)]) -> Resource {
    let mut attributes: Vec<(String, String)> = vec![
        ("telemetry.sdk.name".to_owned(), "kansoku".to_owned()),
        ("telemetry.sdk.language".to_owned(), "rust".to_owned()),
        (
            "telemetry.sdk.version".to_owned(),
            env!("CARGO_PKG_VERSION").to_owned(),
        ),
    ];
    let mut set = |key: &str, value: &str| {
        attributes.retain(|(k, _)| k != key);
        attributes.push((key.to_owned(), value.to_owned()));
    };
    for (key, value) in from_env {
        set(key, value);
    }
    let env_service = from_env.iter().any(|(key, _)| key == "service.name");
    match identity.service_name {
        Some(name) => set("service.name", name),
        None if !env_service => set("service.name", "unknown_service"),
        None => {}
    }
    if let Some(release) = identity.release {
        set("service.version", release);
    }
    if let Some(environment) = identity.environment {
        set("deployment.environment", environment);
        set("deployment.environment.name", environment);
    }
    Resource {
        attributes: attributes
            .iter()
            .map(|(key, value)| attribute(key, value))
            .collect(),
        ..Resource::default()
    }
}

/// A series' identity across pushes: its family and label values.
type SeriesKey = (&'static str, Vec<String>);

/// What the collector last accepted of each counter and histogram (delta temporality), and
/// when; what a push subtracts. Bounded as the store's series are.
#[derive(Debug, Default)]
pub(crate) struct Baseline {
    values: HashMap<SeriesKey, Value>,
    /// Unix nanos of the last accepted push, or of the start.
    since: u64,
}

impl Baseline {
    pub(crate) fn new(start: u64) -> Baseline {
        Baseline {
            values: HashMap::new(),
            since: start,
        }
    }
}

/// A push's request, and the baseline to keep if the collector accepts it.
pub(crate) struct Push {
    pub(crate) request: ExportMetricsServiceRequest,
    pub(crate) accepted: Baseline,
}

#[allow(clippy::cast_precision_loss)]
fn delta(now: &Value, before: Option<&Value>) -> Option<Value> {
    match (now, before) {
        // a value below the last (the store began again) is a new start
        (Value::Counter(n), Some(Value::Counter(b))) if n >= b => {
            (n > b).then_some(Value::Counter(n - b))
        }
        (Value::Histogram(h), Some(Value::Histogram(b))) if h.count >= b.count => {
            if h.count == b.count {
                return None;
            }
            let mut out = h.clone();
            for (bucket, before) in out.buckets.iter_mut().zip(&b.buckets) {
                *bucket = bucket.saturating_sub(*before);
            }
            out.count = h.count - b.count;
            out.sum = h.sum - b.sum;
            Some(Value::Histogram(out))
        }
        _ => Some(now.clone()),
    }
}

/// The request for `families` at `now` (unix nanos): cumulative from `start`, or, for delta,
/// what changed since `baseline` (a series that did not change is left out).
pub(crate) fn push(
    families: &[Family],
    namespace: &str,
    resource: &Resource,
    temporality: Temporality,
    start: u64,
    baseline: &Baseline,
    now: u64,
) -> Push {
    let (kind, since) = match temporality {
        Temporality::Cumulative => (AggregationTemporality::Cumulative, start),
        Temporality::Delta => (AggregationTemporality::Delta, baseline.since),
    };
    let mut accepted = Baseline::new(now);
    let mut metrics = Vec::new();
    for family in families {
        let mut numbers = Vec::new();
        let mut histograms = Vec::new();
        for series in &family.series {
            let attributes = series
                .labels
                .iter()
                .map(|(key, value)| attribute(key, value))
                .collect();
            let value =
                if temporality == Temporality::Delta && !matches!(series.value, Value::Gauge(_)) {
                    let key = (
                        family.name,
                        series.labels.iter().map(|(_, v)| v.clone()).collect(),
                    );
                    let change = delta(&series.value, baseline.values.get(&key));
                    accepted.values.insert(key, series.value.clone());
                    match change {
                        Some(change) => change,
                        None => continue,
                    }
                } else {
                    series.value.clone()
                };
            match value {
                Value::Counter(n) => numbers.push(NumberDataPoint {
                    attributes,
                    start_time_unix_nano: since,
                    time_unix_nano: now,
                    value: Some(number_data_point::Value::AsInt(
                        i64::try_from(n).unwrap_or(i64::MAX),
                    )),
                    ..NumberDataPoint::default()
                }),
                Value::Gauge(v) => numbers.push(NumberDataPoint {
                    attributes,
                    time_unix_nano: now,
                    value: Some(number_data_point::Value::AsDouble(v)),
                    ..NumberDataPoint::default()
                }),
                Value::Histogram(h) => histograms.push(HistogramDataPoint {
                    attributes,
                    start_time_unix_nano: since,
                    time_unix_nano: now,
                    count: h.count,
                    sum: Some(h.sum),
                    bucket_counts: h.buckets,
                    explicit_bounds: h.bounds.to_vec(),
                    ..HistogramDataPoint::default()
                }),
            }
        }
        let Some(data) = data(family.kind, numbers, histograms, kind) else {
            continue;
        };
        metrics.push(Metric {
            name: format!("{namespace}_{}", family.name),
            description: family.help.to_owned(),
            unit: if family.kind == crate::names::Kind::Histogram {
                "s".to_owned()
            } else {
                String::new()
            },
            data: Some(data),
            ..Metric::default()
        });
    }
    Push {
        request: ExportMetricsServiceRequest {
            resource_metrics: vec![ResourceMetrics {
                resource: Some(resource.clone()),
                scope_metrics: vec![ScopeMetrics {
                    scope: Some(InstrumentationScope {
                        name: "kansoku".to_owned(),
                        version: env!("CARGO_PKG_VERSION").to_owned(),
                        ..InstrumentationScope::default()
                    }),
                    metrics,
                    ..ScopeMetrics::default()
                }],
                ..ResourceMetrics::default()
            }],
        },
        accepted,
    }
}

/// A family's points as OTLP data, `None` when it has none.
fn data(
    kind: crate::names::Kind,
    numbers: Vec<NumberDataPoint>,
    histograms: Vec<HistogramDataPoint>,
    temporality: AggregationTemporality,
) -> Option<metric::Data> {
    use crate::names::Kind;
    match kind {
        Kind::Counter if !numbers.is_empty() => Some(metric::Data::Sum(Sum {
            data_points: numbers,
            aggregation_temporality: temporality as i32,
            is_monotonic: true,
        })),
        Kind::Gauge if !numbers.is_empty() => Some(metric::Data::Gauge(Gauge {
            data_points: numbers,
        })),
        Kind::Histogram if !histograms.is_empty() => Some(metric::Data::Histogram(Histogram {
            data_points: histograms,
            aggregation_temporality: temporality as i32,
        })),
        _ => None,
    }
}
