//! The `prometheus` backend: a Prometheus registry holding (1) kansoku's own collector, which turns
//! the per-site atomics and run-time labelled series into metric families when scraped, and
//! (2) the OpenTelemetry exporter of a meter provider, for instruments the application makes
//! itself with [`Telemetry::meter`](crate::Telemetry::meter).
//!
//! Why not an OpenTelemetry instrument per call: `Counter::add` + `Histogram::record` look up
//! the attribute set on every call, measured at about 7× the cost floor of an annotated call.
//! The per-site atomics cost about 1×, and the work moves to scrape time.

use std::collections::HashMap;
use std::sync::Arc;

use opentelemetry::metrics::{Meter, MeterProvider as _};
use opentelemetry_sdk::metrics::SdkMeterProvider;
use opentelemetry_sdk::Resource;
use prometheus::core::Desc;
use prometheus::proto::{self, MetricFamily, MetricType};
use prometheus::{Encoder as _, Registry, TextEncoder};

use crate::backend::{Backend, BackendHealth, BoxFuture, HealthCell};
use crate::error::Error;
use crate::names::{self, Kind};
use crate::record::export::{self, Series, Value};
use crate::record::Recorder;

pub(crate) struct PrometheusBackend {
    registry: Registry,
    provider: SdkMeterProvider,
    namespace: String,
    set_global: bool,
}

/// The Prometheus exporter's part of the builder.
#[derive(Debug, Clone, Default)]
pub(crate) struct PrometheusConfig {
    /// [`TelemetryBuilder::set_global_meter_provider`](crate::TelemetryBuilder::set_global_meter_provider).
    pub(crate) set_global: bool,
}

/// What [`PrometheusBackend::installed`] did with OpenTelemetry's global meter provider.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum GlobalProvider {
    /// Not asked to: the global provider is whatever the application made it.
    LeftAlone,
    /// Asked to, and the global provider was OpenTelemetry's no-op one: kansoku's now.
    Set,
    /// Asked to, but the application had set its own: kept, with a warning.
    KeptTheApplications,
}

/// Whether OpenTelemetry's global meter provider is still the no-op one it starts with.
///
/// OpenTelemetry offers no way to ask; its `NoopMeterProvider` is the only provider without
/// state (a zero-sized value), while every provider that records holds some (the SDK's is an
/// `Arc`). A provider of size zero is therefore taken as "not set by the application".
fn global_provider_is_noop() -> bool {
    size_of_val(&*opentelemetry::global::meter_provider()) == 0
}

impl std::fmt::Debug for PrometheusBackend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PrometheusBackend").finish_non_exhaustive()
    }
}

impl PrometheusBackend {
    /// The registry the Prometheus text is gathered from.
    pub(crate) fn registry(&self) -> &Registry {
        &self.registry
    }

    /// A meter of the provider whose instruments appear in the same text.
    pub(crate) fn meter(&self, scope: &'static str) -> Meter {
        self.provider.meter(scope)
    }
}

impl Backend for PrometheusBackend {
    fn health(&self) -> BackendHealth {
        // a pull exporter reaches nothing: it is up while it renders
        HealthCell::default().report("prometheus", "serves the Prometheus text".to_owned())
    }

    fn installed(&self) {
        self.take_global();
    }

    fn shutdown(self: Arc<Self>) -> BoxFuture<()> {
        // A pull exporter holds nothing to flush; this stops the provider's callbacks.
        let _ = self.provider.shutdown();
        Box::pin(std::future::ready(()))
    }
}

/// What [`Telemetry::prometheus_text`](crate::Telemetry::prometheus_text) serves.
pub(crate) fn render(context: &crate::context::Context) -> String {
    let Some(exporter) = context.backend::<PrometheusBackend>() else {
        return String::new();
    };
    let counters = export::backend_counters(context)
        .iter()
        .map(|family| encode(family, &exporter.namespace))
        .collect();
    exporter.render_with(counters)
}

impl PrometheusBackend {
    pub(crate) fn new(
        recorder: Arc<Recorder>,
        namespace: &str,
        service_name: Option<&str>,
        config: &PrometheusConfig,
    ) -> Result<PrometheusBackend, Error> {
        let registry = Registry::new();
        let collector = KansokuCollector::new(recorder, namespace)?;
        registry
            .register(Box::new(collector))
            .map_err(|e| Error::Otel(e.to_string()))?;
        let exporter = opentelemetry_prometheus::exporter()
            .with_registry(registry.clone())
            .with_namespace(namespace)
            .without_target_info()
            .scope_info_enabled(false)
            .build()
            .map_err(|e| Error::Otel(e.to_string()))?;
        let resource = Resource::builder()
            .with_service_name(service_name.unwrap_or("unknown_service").to_owned())
            .build();
        let provider = SdkMeterProvider::builder()
            .with_reader(exporter)
            .with_resource(resource)
            .build();
        Ok(PrometheusBackend {
            registry,
            provider,
            namespace: namespace.to_owned(),
            set_global: config.set_global,
        })
    }

    /// Makes this provider OpenTelemetry's global one when the builder asked for it and the
    /// application has not set its own. Never replaces the application's: its instruments made
    /// with `opentelemetry::global::meter` keep going to its own readers and exporters.
    fn take_global(&self) -> GlobalProvider {
        if !self.set_global {
            return GlobalProvider::LeftAlone;
        }
        if !global_provider_is_noop() {
            tracing::warn!(
                "kansoku: set_global_meter_provider(true), but the application has set \
                 OpenTelemetry's global meter provider: it is kept; `Telemetry::meter` gives \
                 meters whose instruments appear in kansoku's Prometheus text"
            );
            return GlobalProvider::KeptTheApplications;
        }
        opentelemetry::global::set_meter_provider(self.provider.clone());
        GlobalProvider::Set
    }

    /// The Prometheus text of the registry and of `extra` families.
    pub(crate) fn render_with(&self, extra: Vec<MetricFamily>) -> String {
        let mut families = self.registry.gather();
        families.extend(extra.into_iter().filter(|f| !f.get_metric().is_empty()));
        let mut buffer = Vec::new();
        if let Err(error) = TextEncoder::new().encode(&families, &mut buffer) {
            tracing::error!(%error, "kansoku: could not encode the Prometheus text");
        }
        String::from_utf8(buffer).unwrap_or_default()
    }
}

// The names, kinds and help texts come from `names`, which the rule generator reads too.
/// Renders a [`Recorder`]'s snapshot as Prometheus metric families at scrape time.
struct KansokuCollector {
    recorder: Arc<Recorder>,
    namespace: String,
    descs: Vec<Desc>,
}

impl KansokuCollector {
    fn new(recorder: Arc<Recorder>, namespace: &str) -> Result<KansokuCollector, Error> {
        let fixed = [
            names::API_REQUESTS,
            names::API_DURATION,
            names::API_IN_FLIGHT,
            names::ERRORS,
            names::DB_QUERIES,
            names::DB_DURATION,
            names::DB_CONNECTIONS_USED,
            names::DB_CONNECTIONS_MAX,
            names::HTTP_REQUESTS,
            names::HTTP_DURATION,
            names::HTTP_IN_FLIGHT,
            names::HTTP_SLOW,
            names::SERIES_OVERFLOW,
        ];
        let descs = fixed
            .iter()
            .map(|family| {
                Desc::new(
                    format!("{namespace}_{}", family.name),
                    family.help.to_owned(),
                    Vec::new(),
                    HashMap::new(),
                )
            })
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| Error::Otel(e.to_string()))?;
        Ok(KansokuCollector {
            recorder,
            namespace: namespace.to_owned(),
            descs,
        })
    }
}

impl prometheus::core::Collector for KansokuCollector {
    fn desc(&self) -> Vec<&Desc> {
        self.descs.iter().collect()
    }

    fn collect(&self) -> Vec<MetricFamily> {
        export::families(&self.recorder.snapshot(), &self.namespace)
            .iter()
            .map(|family| encode(family, &self.namespace))
            .collect()
    }
}

/// A family in the Prometheus data model, named under `namespace`.
fn encode(family: &export::Family, namespace: &str) -> MetricFamily {
    let mut out = MetricFamily::default();
    out.set_name(format!("{namespace}_{}", family.name));
    out.set_help(family.help.to_owned());
    out.set_field_type(match family.kind {
        Kind::Counter => MetricType::COUNTER,
        Kind::Gauge => MetricType::GAUGE,
        Kind::Histogram => MetricType::HISTOGRAM,
    });
    out.set_metric(family.series.iter().map(metric).collect());
    out
}

/// One series, its labels sorted by name as the Prometheus clients print them.
#[allow(clippy::cast_precision_loss)] // counts above 2^53 lose precision in the text format anyway
fn metric(series: &Series) -> proto::Metric {
    let mut pairs: Vec<&(&str, String)> = series.labels.iter().collect();
    pairs.sort_by_key(|(name, _)| *name);
    let mut metric = proto::Metric::from_label(
        pairs
            .into_iter()
            .map(|(name, value)| {
                let mut pair = proto::LabelPair::default();
                pair.set_name((*name).to_owned());
                pair.set_value(value.clone());
                pair
            })
            .collect(),
    );
    match &series.value {
        Value::Counter(n) => {
            let mut counter = proto::Counter::default();
            counter.set_value(*n as f64);
            metric.set_counter(counter);
        }
        Value::Gauge(value) => {
            let mut gauge = proto::Gauge::default();
            gauge.set_value(*value);
            metric.set_gauge(gauge);
        }
        Value::Histogram(histogram) => {
            let mut cumulative = 0;
            let buckets = histogram
                .bounds
                .iter()
                .zip(&histogram.buckets)
                .map(|(bound, n)| {
                    cumulative += n;
                    let mut bucket = proto::Bucket::default();
                    bucket.set_upper_bound(*bound);
                    bucket.set_cumulative_count(cumulative);
                    bucket
                })
                .collect();
            let mut out = proto::Histogram::default();
            out.set_bucket(buckets);
            out.set_sample_count(histogram.count);
            out.set_sample_sum(histogram.sum);
            metric.set_histogram(out);
        }
    }
    metric
}

#[cfg(test)]
mod tests {
    use super::{global_provider_is_noop, GlobalProvider, PrometheusBackend};
    use crate::Telemetry;

    fn take_global(telemetry: &Telemetry) -> GlobalProvider {
        telemetry
            .context()
            .backend::<PrometheusBackend>()
            .expect("the exporter runs with `prometheus`")
            .take_global()
    }

    fn count(meter: &opentelemetry::metrics::Meter, name: &'static str) {
        meter.u64_counter(name).build().add(1, &[]);
    }

    // One test: OpenTelemetry's global provider is process-wide and these steps depend on order.
    #[test]
    fn the_global_meter_provider_is_taken_only_when_asked_and_never_from_the_application() {
        assert!(global_provider_is_noop(), "nothing has set it yet");

        let not_asked = Telemetry::builder().build().unwrap();
        assert_eq!(take_global(&not_asked), GlobalProvider::LeftAlone);
        assert!(global_provider_is_noop());

        let asked = Telemetry::builder()
            .namespace("asked")
            .set_global_meter_provider(true)
            .build()
            .unwrap();
        assert_eq!(take_global(&asked), GlobalProvider::Set);
        assert!(!global_provider_is_noop());
        count(&opentelemetry::global::meter("app"), "through_kansoku");
        assert!(asked
            .prometheus_text()
            .contains("asked_through_kansoku_total 1"));

        // the application sets its own provider (its own registry here): asking again keeps it
        let registry = prometheus::Registry::new();
        let reader = opentelemetry_prometheus::exporter()
            .with_registry(registry.clone())
            .without_target_info()
            .scope_info_enabled(false)
            .build()
            .unwrap();
        let app = opentelemetry_sdk::metrics::SdkMeterProvider::builder()
            .with_reader(reader)
            .build();
        opentelemetry::global::set_meter_provider(app.clone());
        let again = Telemetry::builder()
            .namespace("again")
            .set_global_meter_provider(true)
            .build()
            .unwrap();
        assert_eq!(take_global(&again), GlobalProvider::KeptTheApplications);
        count(&opentelemetry::global::meter("app"), "app_own");
        count(&again.meter("app"), "kansoku_own");
        let mut app_text = Vec::new();
        prometheus::Encoder::encode(
            &prometheus::TextEncoder::new(),
            &registry.gather(),
            &mut app_text,
        )
        .unwrap();
        let app_text = String::from_utf8(app_text).unwrap();
        assert!(app_text.contains("app_own_total 1"), "{app_text}");
        assert!(!app_text.contains("kansoku_own"), "{app_text}");
        let kansoku_text = again.prometheus_text();
        assert!(
            kansoku_text.contains("again_kansoku_own_total 1"),
            "{kansoku_text}"
        );
        assert!(!kansoku_text.contains("app_own"), "{kansoku_text}");
        assert!(!asked.prometheus_text().contains("app_own"));
    }
}
