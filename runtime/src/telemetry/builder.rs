//! Configuring a telemetry instance: the builder's common part and its errors. Each backend's
//! own setters live in its module (`impl TelemetryBuilder` there).

use std::sync::{Arc, OnceLock};

use super::backends::{self, BackendConfigs};
use super::{Inner, Telemetry};
use crate::context::Context;
use crate::error::Error;
#[cfg(store)]
use crate::record::{Bounds, Recorder, RecorderConfig};

/// Configures a [`Telemetry`]. Made by [`Telemetry::builder`].
#[derive(Debug, Clone)]
#[must_use]
pub struct TelemetryBuilder {
    pub(crate) namespace: String,
    pub(crate) service_name: Option<String>,
    pub(crate) environment: Option<String>,
    pub(crate) release: Option<String>,
    pub(crate) api_buckets: Option<Vec<f64>>,
    pub(crate) db_buckets: Option<Vec<f64>>,
    pub(crate) max_series: usize,
    /// Each backend's part of the configuration, set by the setters in its own module.
    pub(crate) backends: BackendConfigs,
}

/// The default of [`TelemetryBuilder::max_series_per_metric`].
pub const DEFAULT_MAX_SERIES: usize = 2000;

impl Default for TelemetryBuilder {
    fn default() -> Self {
        TelemetryBuilder {
            namespace: "kansoku".to_owned(),
            service_name: None,
            environment: None,
            release: None,
            api_buckets: None,
            db_buckets: None,
            max_series: DEFAULT_MAX_SERIES,
            backends: BackendConfigs::default(),
        }
    }
}

impl TelemetryBuilder {
    /// The prefix of every metric name (`ns` in `ns_api_requests_total`); default `kansoku`.
    pub fn namespace(mut self, namespace: impl Into<String>) -> Self {
        self.namespace = namespace.into();
        self
    }

    /// The service's name (the OpenTelemetry resource's `service.name`).
    pub fn service_name(mut self, name: impl Into<String>) -> Self {
        self.service_name = Some(name.into());
        self
    }

    /// The deployment environment (`production`, `staging`…), put on Sentry events.
    pub fn environment(mut self, environment: impl Into<String>) -> Self {
        self.environment = Some(environment.into());
        self
    }

    /// The release (a version or commit), put on Sentry events.
    pub fn release(mut self, release: impl Into<String>) -> Self {
        self.release = Some(release.into());
        self
    }

    /// Bucket upper bounds, in seconds, of `ns_api_request_duration_seconds`.
    /// Default: 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10. At most 30 bounds.
    /// Install before the first annotated call: calls already counted keep the buckets they
    /// were counted in.
    pub fn api_duration_buckets(mut self, seconds: impl IntoIterator<Item = f64>) -> Self {
        self.api_buckets = Some(seconds.into_iter().collect());
        self
    }

    /// Bucket upper bounds, in seconds, of `ns_database_query_duration_seconds`.
    /// Default: 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5.
    pub fn db_duration_buckets(mut self, seconds: impl IntoIterator<Item = f64>) -> Self {
        self.db_buckets = Some(seconds.into_iter().collect());
        self
    }

    /// How many label sets one metric with run-time labels may hold (business metrics,
    /// `ns_errors_total`, run-time endpoints) before new ones go to its overflow series.
    /// Default [`DEFAULT_MAX_SERIES`].
    pub fn max_series_per_metric(mut self, limit: usize) -> Self {
        self.max_series = limit;
        self
    }

    /// Reads what the environment sets and the builder has not: `KANSOKU_NAMESPACE`,
    /// `KANSOKU_SERVICE_NAME` (or `OTEL_SERVICE_NAME`), `SENTRY_ENVIRONMENT`, `SENTRY_RELEASE`,
    /// with `redis`: `KANSOKU_REDIS_URL` (several, comma-separated: a cluster),
    /// `KANSOKU_REDIS_SENTINEL` (`MASTER@URL[,URL…]`), `KANSOKU_REDIS_SENTINEL_MASTER_AUTH`
    /// (`[USER]:PASSWORD`), `KANSOKU_REDIS_TLS_CA` (a PEM file).
    /// Values set in code win over the environment for the namespace only when they differ
    /// from the default.
    pub fn from_env(self) -> Self {
        self.from_env_with(|name| std::env::var(name).ok())
    }

    /// [`from_env`](Self::from_env), reading the variables from `lookup` instead of the
    /// process environment (a configuration file's values, or a test's).
    ///
    /// ```
    /// let builder = kansoku::Telemetry::builder()
    ///     .from_env_with(|name| (name == "KANSOKU_NAMESPACE").then(|| "shops".to_owned()));
    /// # let _ = builder;
    /// ```
    pub fn from_env_with(mut self, lookup: impl Fn(&str) -> Option<String>) -> Self {
        let var = |name: &str| lookup(name).filter(|v| !v.trim().is_empty());
        if self.namespace == "kansoku" {
            if let Some(ns) = var("KANSOKU_NAMESPACE") {
                self.namespace = ns;
            }
        }
        if self.service_name.is_none() {
            self.service_name = var("KANSOKU_SERVICE_NAME").or_else(|| var("OTEL_SERVICE_NAME"));
        }
        if self.environment.is_none() {
            self.environment = var("SENTRY_ENVIRONMENT");
        }
        if self.release.is_none() {
            self.release = var("SENTRY_RELEASE");
        }
        self.backends.fill_from_env(&var);
        self
    }

    fn validate(&self) -> Result<(), Error> {
        let ns = &self.namespace;
        let mut chars = ns.chars();
        let valid_start = chars
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_');
        if !valid_start || !chars.all(|c| c.is_ascii_alphanumeric() || c == '_') {
            return Err(Error::InvalidNamespace(ns.clone()));
        }
        if self.max_series == 0 {
            return Err(Error::InvalidLimit);
        }
        Ok(())
    }

    /// A telemetry instance that is not process-wide: it records what runs inside
    /// [`Telemetry::enter`] or [`Telemetry::instrument`]. For tests, and for running two in one
    /// process.
    pub fn build(self) -> Result<Telemetry, Error> {
        self.build_inner(false)
    }

    /// Builds and installs the process-wide instance: every annotated call records into it
    /// (except inside another instance's `enter`/`instrument`). Once per process.
    pub fn install(self) -> Result<Telemetry, Error> {
        static INSTALLED: OnceLock<Telemetry> = OnceLock::new();
        if INSTALLED.get().is_some() {
            return Err(Error::AlreadyInstalled);
        }
        let telemetry = self.build_inner(true)?;
        let context = telemetry.context();
        crate::context::set_global(context.clone()).map_err(|_| Error::AlreadyInstalled)?;
        #[cfg(store)]
        crate::record::set_global_bounds(
            context.recorder.config.api_bounds,
            context.recorder.config.db_bounds,
        );
        for backend in &context.backends {
            backend.installed();
        }
        INSTALLED
            .set(telemetry.clone())
            .map_err(|_| Error::AlreadyInstalled)?;
        telemetry.announce();
        Ok(telemetry)
    }

    fn build_inner(self, global: bool) -> Result<Telemetry, Error> {
        self.validate()?;
        #[cfg(store)]
        let recorder = {
            let bounds = |given: &Option<Vec<f64>>, default: &[f64]| {
                Bounds::new(given.as_deref().unwrap_or(default))
                    .map(Bounds::leak)
                    .map_err(Error::InvalidBuckets)
            };
            let config = RecorderConfig {
                api_bounds: bounds(&self.api_buckets, &crate::record::DEFAULT_API_BOUNDS)?,
                db_bounds: bounds(&self.db_buckets, &crate::record::DEFAULT_DB_BOUNDS)?,
                max_series: self.max_series,
            };
            Arc::new(Recorder::new(config, global))
        };
        let started = backends::start(
            &self,
            #[cfg(store)]
            &recorder,
            global,
        )?;
        #[cfg(store)]
        let local_stats = crate::stats::LocalStats::new(recorder.clone());
        let context = Arc::new(Context {
            #[cfg(store)]
            recorder,
            backends: started.running,
        });
        for backend in &context.backends {
            backend.attached(&context);
        }
        Ok(Telemetry {
            inner: Arc::new(Inner {
                context,
                #[cfg(store)]
                local_stats,
                off: started.off,
                #[cfg(feature = "alert")]
                alerts: Arc::default(),
                config: self,
            }),
        })
    }
}
