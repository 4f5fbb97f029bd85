//! The one place that names every backend: its part of the builder's configuration, how it
//! reads the environment, and how it starts. Adding a backend is a module that implements
//! [`Backend`] plus a field and a line in each of the three items here.

use std::sync::Arc;

use super::TelemetryBuilder;
use crate::backend::{Backend, BackendHealth};
use crate::error::Error;
#[cfg(store)]
use crate::record::Recorder;

/// Each backend's part of the builder.
#[derive(Debug, Clone, Default)]
pub(crate) struct BackendConfigs {
    #[cfg(feature = "prometheus")]
    pub(crate) prometheus: crate::prometheus_backend::PrometheusConfig,
    #[cfg(feature = "sentry")]
    pub(crate) sentry: crate::sentry_backend::SentryConfig,
    #[cfg(feature = "redis")]
    pub(crate) redis: crate::redis::RedisConfig,
    #[cfg(feature = "otlp")]
    pub(crate) otlp: crate::otlp::OtlpConfig,
}

impl BackendConfigs {
    /// Fills what the environment sets and the builder has not.
    #[cfg_attr(
        not(any(feature = "sentry", feature = "redis", feature = "otlp")),
        allow(unused_variables, clippy::unused_self)
    )]
    pub(crate) fn fill_from_env(&mut self, var: &dyn Fn(&str) -> Option<String>) {
        #[cfg(feature = "sentry")]
        self.sentry.fill_from_env(var);
        #[cfg(feature = "redis")]
        self.redis.fill_from_env(var);
        #[cfg(feature = "otlp")]
        self.otlp.fill_from_env(var);
    }
}

/// The backends that run, in the order they started, and a report for each that is off.
pub(crate) struct Started {
    pub(crate) running: Vec<Arc<dyn Backend>>,
    pub(crate) off: Vec<BackendHealth>,
}

/// Spans over OTLP need the Sentry backend's trace context, with or without a DSN: without
/// one, the rate its DSN-less client samples at (kansoku's `traces_sample_rate` or sampler,
/// else `OTEL_TRACES_SAMPLER`'s), when spans are wanted and some would be sampled.
/// (A sampler that does not parse is refused by the OTLP backend's own check.)
#[cfg(feature = "sentry")]
fn spans_rate(builder: &TelemetryBuilder) -> Option<f32> {
    #[cfg(feature = "otlp")]
    if builder.backends.otlp.wants_spans() {
        let sentry = &builder.backends.sentry;
        let rate = match builder.backends.otlp.sampler_rate().ok().flatten() {
            _ if sentry.traces_sample_rate > 0.0 || sentry.traces_sampler.is_some() => {
                sentry.traces_sample_rate
            }
            Some(rate) => rate,
            None => 0.0,
        };
        return (rate > 0.0 || sentry.traces_sampler.is_some()).then_some(rate);
    }
    let _ = builder;
    None
}

/// Starts every backend `builder` configures. A backend without configuration is off (and
/// said so); a bad configuration is an error.
#[cfg_attr(not(feature = "sentry"), allow(unused_variables))]
#[cfg_attr(not(any_backend), allow(unused_mut, clippy::unnecessary_wraps))]
pub(crate) fn start(
    builder: &TelemetryBuilder,
    #[cfg(store)] recorder: &Arc<Recorder>,
    global: bool,
) -> Result<Started, Error> {
    let mut started = Started {
        running: Vec::new(),
        off: Vec::new(),
    };
    #[cfg(feature = "prometheus")]
    started
        .running
        .push(Arc::new(crate::prometheus_backend::PrometheusBackend::new(
            recorder.clone(),
            &builder.namespace,
            builder.service_name.as_deref(),
            &builder.backends.prometheus,
        )?));
    #[cfg(feature = "sentry")]
    match crate::sentry_backend::SentryBackend::new(
        &builder.backends.sentry,
        builder.release.as_deref(),
        builder.environment.as_deref(),
        global,
        spans_rate(builder),
    )? {
        Some(sentry) => started.running.push(sentry),
        None => started
            .off
            .push(BackendHealth::off("sentry", "off: no DSN (SENTRY_DSN)")),
    }
    #[cfg(feature = "redis")]
    match crate::redis::RedisBackend::start(
        &builder.backends.redis,
        recorder.clone(),
        &builder.namespace,
    )? {
        Some(redis) => started.running.push(redis),
        None => started.off.push(BackendHealth::off(
            "redis",
            "off: no URL (KANSOKU_REDIS_URL)",
        )),
    }
    #[cfg(feature = "otlp")]
    match crate::otlp::OtlpBackend::start(
        &builder.backends.otlp,
        recorder.clone(),
        &crate::otlp::Identity {
            namespace: &builder.namespace,
            service_name: builder.service_name.as_deref(),
            release: builder.release.as_deref(),
            environment: builder.environment.as_deref(),
        },
    )? {
        Some(otlp) => started.running.push(otlp),
        None => started.off.push(BackendHealth::off(
            "otlp",
            "off: no endpoint (OTEL_EXPORTER_OTLP_ENDPOINT)",
        )),
    }
    Ok(started)
}
