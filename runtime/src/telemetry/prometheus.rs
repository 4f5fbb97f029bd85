//! The Prometheus exporter's part of the handle: its registry and OpenTelemetry meters.

use opentelemetry::metrics::Meter;
use prometheus::Registry;

use crate::otel::Exporter;
use crate::Telemetry;

impl Telemetry {
    /// The Prometheus registry behind [`Telemetry::prometheus_text`](crate::Telemetry::prometheus_text);
    /// register your own collectors here to serve them from the same endpoint.
    pub fn registry(&self) -> &Registry {
        self.exporter().registry()
    }

    /// An OpenTelemetry meter whose instruments appear in
    /// [`Telemetry::prometheus_text`](crate::Telemetry::prometheus_text) under the namespace.
    /// The installed instance is also the global OpenTelemetry meter provider.
    pub fn meter(&self, scope: &'static str) -> Meter {
        self.exporter().meter(scope)
    }

    fn exporter(&self) -> &Exporter {
        self.context()
            .backend::<Exporter>()
            .expect("the exporter runs whenever the `otel` feature is on")
    }
}
