//! The Prometheus exporter's part of the handle: its registry and OpenTelemetry meters.

use opentelemetry::metrics::Meter;
use prometheus::Registry;

use crate::prometheus_backend::PrometheusBackend;
use crate::{Telemetry, TelemetryBuilder};

impl TelemetryBuilder {
    /// Makes the installed instance's meter provider OpenTelemetry's global one too, so that
    /// `opentelemetry::global::meter(..)` instruments appear in
    /// [`Telemetry::prometheus_text`](crate::Telemetry::prometheus_text). Off by default:
    /// kansoku is a library and leaves the global provider to the application.
    ///
    /// Even when asked, kansoku never replaces a global provider the application has set (its
    /// instruments keep going to its own readers and exporters); it warns and keeps it. Only
    /// [`install`](Self::install) acts on it, not [`build`](Self::build).
    pub fn set_global_meter_provider(mut self, set: bool) -> Self {
        self.backends.prometheus.set_global = set;
        self
    }
}

impl Telemetry {
    /// The Prometheus registry behind [`Telemetry::prometheus_text`](crate::Telemetry::prometheus_text);
    /// register your own collectors here to serve them from the same endpoint.
    pub fn registry(&self) -> &Registry {
        self.exporter().registry()
    }

    /// An OpenTelemetry meter whose instruments appear in
    /// [`Telemetry::prometheus_text`](crate::Telemetry::prometheus_text) under the namespace.
    /// This works whether or not kansoku's provider is OpenTelemetry's global one (see
    /// [`TelemetryBuilder::set_global_meter_provider`]).
    pub fn meter(&self, scope: &'static str) -> Meter {
        self.exporter().meter(scope)
    }

    fn exporter(&self) -> &PrometheusBackend {
        self.context()
            .backend::<PrometheusBackend>()
            .expect("the exporter runs whenever the `prometheus` feature is on")
    }
}
