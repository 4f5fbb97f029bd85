//! The `otel` backend: a Prometheus registry holding (1) kansoku's own collector, which turns
//! the per-site atomics and run-time labelled series into metric families when scraped, and
//! (2) the OpenTelemetry exporter of a meter provider, for instruments the application makes
//! itself with [`Telemetry::meter`](crate::Telemetry::meter).
//!
//! Why not an OpenTelemetry instrument per call: `Counter::add` + `Histogram::record` look up
//! the attribute set on every call, measured at about 7× the cost floor of an annotated call.
//! The per-site atomics cost about 1×, and the work moves to scrape time.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use opentelemetry::metrics::{Meter, MeterProvider as _};
use opentelemetry_sdk::metrics::SdkMeterProvider;
use opentelemetry_sdk::Resource;
use prometheus::core::Desc;
use prometheus::proto::{self, MetricFamily, MetricType};
use prometheus::{Encoder as _, Registry, TextEncoder};

use crate::backend::{Backend, BackendHealth, BoxFuture, HealthCell};
use crate::error::Error;
use crate::record::{Bounds, FamilyValues, Recorder, Snapshot, TimedSnapshot};

pub(crate) struct Exporter {
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

/// What [`Exporter::installed`] did with OpenTelemetry's global meter provider.
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

impl std::fmt::Debug for Exporter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Exporter").finish_non_exhaustive()
    }
}

impl Exporter {
    /// The registry the Prometheus text is gathered from.
    pub(crate) fn registry(&self) -> &Registry {
        &self.registry
    }

    /// A meter of the provider whose instruments appear in the same text.
    pub(crate) fn meter(&self, scope: &'static str) -> Meter {
        self.provider.meter(scope)
    }
}

impl Backend for Exporter {
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
    let Some(exporter) = context.backend::<Exporter>() else {
        return String::new();
    };
    let counters = context
        .backends
        .iter()
        .flat_map(|backend| backend.counters())
        .map(|family| exporter.counter_family(&family))
        .collect();
    exporter.render_with(counters)
}

impl Exporter {
    pub(crate) fn new(
        recorder: Arc<Recorder>,
        namespace: &str,
        service_name: Option<&str>,
        config: &PrometheusConfig,
    ) -> Result<Exporter, Error> {
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
        Ok(Exporter {
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

    /// A backend's own counter as a metric family under the namespace.
    #[allow(clippy::cast_precision_loss)] // counts above 2^53 lose precision in the text format anyway
    fn counter_family(&self, family: &crate::backend::CounterFamily) -> MetricFamily {
        let mut out = MetricFamily::default();
        out.set_name(format!("{}_{}", self.namespace, family.family.name));
        out.set_help(family.family.help.to_owned());
        out.set_field_type(MetricType::COUNTER);
        out.set_metric(
            family
                .values
                .iter()
                .map(|(values, count)| {
                    let pairs: Vec<(&str, &str)> = family
                        .family
                        .labels
                        .iter()
                        .copied()
                        .zip(values.iter().copied())
                        .collect();
                    counter(&pairs, *count as f64)
                })
                .collect(),
        );
        out
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
const fn pair(family: crate::names::Family) -> (&'static str, &'static str) {
    (family.name, family.help)
}
const API_REQUESTS: (&str, &str) = pair(crate::names::API_REQUESTS);
const API_DURATION: (&str, &str) = pair(crate::names::API_DURATION);
const API_IN_FLIGHT: (&str, &str) = pair(crate::names::API_IN_FLIGHT);
const ERRORS: (&str, &str) = pair(crate::names::ERRORS);
const DB_QUERIES: (&str, &str) = pair(crate::names::DB_QUERIES);
const DB_DURATION: (&str, &str) = pair(crate::names::DB_DURATION);
const DB_USED: (&str, &str) = pair(crate::names::DB_CONNECTIONS_USED);
const DB_MAX: (&str, &str) = pair(crate::names::DB_CONNECTIONS_MAX);
const OVERFLOW: (&str, &str) = pair(crate::names::SERIES_OVERFLOW);
const HTTP_REQUESTS: (&str, &str) = pair(crate::names::HTTP_REQUESTS);
const HTTP_DURATION: (&str, &str) = pair(crate::names::HTTP_DURATION);
const HTTP_IN_FLIGHT: (&str, &str) = pair(crate::names::HTTP_IN_FLIGHT);
const HTTP_SLOW: (&str, &str) = pair(crate::names::HTTP_SLOW);

/// Renders a [`Recorder`]'s [`Snapshot`] as Prometheus metric families at scrape time.
struct KansokuCollector {
    recorder: Arc<Recorder>,
    namespace: String,
    descs: Vec<Desc>,
}

impl KansokuCollector {
    fn new(recorder: Arc<Recorder>, namespace: &str) -> Result<KansokuCollector, Error> {
        let fixed = [
            API_REQUESTS,
            API_DURATION,
            API_IN_FLIGHT,
            ERRORS,
            DB_QUERIES,
            DB_DURATION,
            DB_USED,
            DB_MAX,
            HTTP_REQUESTS,
            HTTP_DURATION,
            HTTP_IN_FLIGHT,
            HTTP_SLOW,
            OVERFLOW,
        ];
        let descs = fixed
            .iter()
            .map(|(name, help)| {
                Desc::new(
                    format!("{namespace}_{name}"),
                    (*help).to_owned(),
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

    fn family(
        &self,
        (name, help): (&str, &str),
        kind: MetricType,
        metrics: Vec<proto::Metric>,
    ) -> MetricFamily {
        let mut family = MetricFamily::default();
        family.set_name(format!("{}_{name}", self.namespace));
        family.set_help(help.to_owned());
        family.set_field_type(kind);
        family.set_metric(metrics);
        family
    }
}

/// Label pairs sorted by name, as the Prometheus clients print them.
fn labels(pairs: &[(&str, &str)]) -> Vec<proto::LabelPair> {
    let mut pairs = pairs.to_vec();
    pairs.sort_by_key(|(name, _)| *name);
    pairs
        .into_iter()
        .map(|(name, value)| {
            let mut pair = proto::LabelPair::default();
            pair.set_name(name.to_owned());
            pair.set_value(value.to_owned());
            pair
        })
        .collect()
}

/// A business metric's label names paired with one series' values.
fn label_pairs<'a>(names: &[&'a str], values: &'a [String]) -> Vec<(&'a str, &'a str)> {
    names
        .iter()
        .copied()
        .zip(values.iter().map(String::as_str))
        .collect()
}

fn counter(pairs: &[(&str, &str)], value: f64) -> proto::Metric {
    let mut metric = proto::Metric::from_label(labels(pairs));
    let mut c = proto::Counter::default();
    c.set_value(value);
    metric.set_counter(c);
    metric
}

fn gauge(pairs: &[(&str, &str)], value: f64) -> proto::Metric {
    let mut metric = proto::Metric::from_label(labels(pairs));
    let mut g = proto::Gauge::default();
    g.set_value(value);
    metric.set_gauge(g);
    metric
}

#[allow(clippy::cast_precision_loss)] // counts above 2^53 lose precision in the text format anyway
fn histogram(pairs: &[(&str, &str)], snap: &TimedSnapshot, bounds: &Bounds) -> proto::Metric {
    let mut metric = proto::Metric::from_label(labels(pairs));
    let mut h = proto::Histogram::default();
    let mut cumulative = 0;
    let buckets = bounds
        .seconds
        .iter()
        .zip(&snap.buckets)
        .map(|(bound, n)| {
            cumulative += n;
            let mut b = proto::Bucket::default();
            b.set_upper_bound(*bound);
            b.set_cumulative_count(cumulative);
            b
        })
        .collect();
    h.set_bucket(buckets);
    h.set_sample_count(snap.count());
    h.set_sample_sum(snap.sum_nanos as f64 / 1e9);
    metric.set_histogram(h);
    metric
}

impl KansokuCollector {
    #[allow(clippy::cast_precision_loss)]
    fn api_families(&self, snapshot: &Snapshot, out: &mut Vec<MetricFamily>) {
        let mut requests = Vec::new();
        let mut durations = Vec::new();
        let mut in_flight: BTreeMap<&str, u64> = BTreeMap::new();
        for ((endpoint, method), snap) in &snapshot.api {
            for status in crate::Status::ALL {
                let n = snap.by_status[status.index()];
                if n > 0 {
                    requests.push(counter(
                        &[
                            ("endpoint", endpoint),
                            ("method", method),
                            ("status", status.as_str()),
                        ],
                        n as f64,
                    ));
                }
            }
            if snap.count() > 0 {
                durations.push(histogram(
                    &[("endpoint", endpoint), ("method", method)],
                    snap,
                    snapshot.api_bounds,
                ));
            }
            *in_flight.entry(endpoint).or_default() += snap.in_flight;
        }
        let in_flight = in_flight
            .into_iter()
            .map(|(endpoint, n)| gauge(&[("endpoint", endpoint)], n as f64))
            .collect();
        out.push(self.family(API_REQUESTS, MetricType::COUNTER, requests));
        out.push(self.family(API_DURATION, MetricType::HISTOGRAM, durations));
        out.push(self.family(API_IN_FLIGHT, MetricType::GAUGE, in_flight));
    }

    #[allow(clippy::cast_precision_loss)]
    fn db_families(&self, snapshot: &Snapshot, out: &mut Vec<MetricFamily>) {
        let mut queries = Vec::new();
        let mut durations = Vec::new();
        for ((operation, table), snap) in &snapshot.db {
            for status in crate::Status::ALL {
                let n = snap.by_status[status.index()];
                if n > 0 {
                    queries.push(counter(
                        &[
                            ("operation", operation),
                            ("table", table),
                            ("status", status.as_str()),
                        ],
                        n as f64,
                    ));
                }
            }
            if snap.count() > 0 {
                durations.push(histogram(
                    &[("operation", operation), ("table", table)],
                    snap,
                    snapshot.db_bounds,
                ));
            }
        }
        out.push(self.family(DB_QUERIES, MetricType::COUNTER, queries));
        out.push(self.family(DB_DURATION, MetricType::HISTOGRAM, durations));
        if let Some((used, max)) = snapshot.pool {
            out.push(self.family(DB_USED, MetricType::GAUGE, vec![gauge(&[], used as f64)]));
            out.push(self.family(DB_MAX, MetricType::GAUGE, vec![gauge(&[], max as f64)]));
        }
    }

    /// `ns_http_*`: families are written only once the layer has seen a request, so a service
    /// without it exports none.
    #[allow(clippy::cast_precision_loss)]
    fn http_families(&self, snapshot: &Snapshot, out: &mut Vec<MetricFamily>) {
        if snapshot.http.is_empty() {
            return;
        }
        let (mut requests, mut durations, mut in_flight, mut slow) =
            (Vec::new(), Vec::new(), Vec::new(), Vec::new());
        for ((method, route), snap) in &snapshot.http {
            let pairs = [("method", method.as_str()), ("route", route.as_str())];
            for (code, n) in &snap.codes {
                let code = code.to_string();
                requests.push(counter(
                    &[pairs[0], pairs[1], ("status_code", &code)],
                    *n as f64,
                ));
            }
            if snap.cancelled() > 0 {
                requests.push(counter(
                    &[pairs[0], pairs[1], ("status_code", "cancelled")],
                    snap.cancelled() as f64,
                ));
            }
            if snap.timed.count() > 0 {
                durations.push(histogram(&pairs, &snap.timed, snapshot.api_bounds));
            }
            in_flight.push(gauge(&pairs, snap.timed.in_flight as f64));
            slow.push(counter(&pairs, snap.slow as f64));
        }
        out.push(self.family(HTTP_REQUESTS, MetricType::COUNTER, requests));
        out.push(self.family(HTTP_DURATION, MetricType::HISTOGRAM, durations));
        out.push(self.family(HTTP_IN_FLIGHT, MetricType::GAUGE, in_flight));
        out.push(self.family(HTTP_SLOW, MetricType::COUNTER, slow));
    }

    #[allow(clippy::cast_precision_loss)]
    fn labelled_families(&self, snapshot: &Snapshot, out: &mut Vec<MetricFamily>) {
        let mut overflow = Vec::new();
        let mut note_overflow = |metric: &str, n: u64| {
            if n > 0 {
                overflow.push(counter(&[("metric", metric)], n as f64));
            }
        };
        let errors = snapshot
            .errors
            .iter()
            .map(|((endpoint, kind), n)| {
                counter(&[("endpoint", endpoint), ("kind", kind)], *n as f64)
            })
            .collect();
        out.push(self.family(ERRORS, MetricType::COUNTER, errors));
        let ns = &self.namespace;
        note_overflow(&format!("{ns}_{}", ERRORS.0), snapshot.overflow.errors);
        note_overflow(&format!("{ns}_{}", API_REQUESTS.0), snapshot.overflow.api);
        note_overflow(&format!("{ns}_{}", DB_QUERIES.0), snapshot.overflow.db);
        note_overflow(&format!("{ns}_{}", HTTP_REQUESTS.0), snapshot.overflow.http);
        for family in &snapshot.families {
            let names = family.label_names;
            let (kind, metrics) = match &family.values {
                FamilyValues::Counter(series) => (
                    MetricType::COUNTER,
                    series
                        .iter()
                        .map(|(values, n)| counter(&label_pairs(names, values), *n as f64))
                        .collect(),
                ),
                FamilyValues::Gauge(series) => (
                    MetricType::GAUGE,
                    series
                        .iter()
                        .map(|(values, v)| gauge(&label_pairs(names, values), *v))
                        .collect(),
                ),
            };
            out.push(self.family((family.name, family.help), kind, metrics));
            note_overflow(&format!("{ns}_{}", family.name), family.overflowed);
        }
        out.push(self.family(OVERFLOW, MetricType::COUNTER, overflow));
    }
}

impl prometheus::core::Collector for KansokuCollector {
    fn desc(&self) -> Vec<&Desc> {
        self.descs.iter().collect()
    }

    fn collect(&self) -> Vec<MetricFamily> {
        let snapshot = self.recorder.snapshot();
        let mut out = Vec::new();
        self.api_families(&snapshot, &mut out);
        self.db_families(&snapshot, &mut out);
        self.http_families(&snapshot, &mut out);
        self.labelled_families(&snapshot, &mut out);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::{global_provider_is_noop, Exporter, GlobalProvider};
    use crate::Telemetry;

    fn take_global(telemetry: &Telemetry) -> GlobalProvider {
        telemetry
            .context()
            .backend::<Exporter>()
            .expect("the exporter runs with `otel`")
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
