//! Start-up, the installed handle, shutdown.

use std::fmt;
use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;
use std::sync::{Arc, OnceLock};
use std::task::{Context, Poll};

#[cfg(any(feature = "otel", feature = "redis"))]
use crate::record::{self, Bounds, Recorder, RecorderConfig};

/// Why [`TelemetryBuilder::build`] or [`TelemetryBuilder::install`] failed.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Error {
    /// The namespace is not a Prometheus metric-name prefix (`[a-zA-Z_][a-zA-Z0-9_]*`).
    InvalidNamespace(String),
    /// Histogram bucket bounds that are empty, unsorted, not positive or too many.
    InvalidBuckets(String),
    /// `max_series_per_metric(0)`.
    InvalidLimit,
    /// `install()` ran before in this process.
    AlreadyInstalled,
    /// The OpenTelemetry exporter could not be set up.
    Otel(String),
    /// The Sentry DSN does not parse.
    InvalidDsn(String),
    /// A trace sample rate outside 0.0..=1.0.
    InvalidSampleRate(f32),
    /// The Sentry backend could not start.
    Sentry(String),
    /// A Redis URL (`redis_url`, `redis_cluster` or `KANSOKU_REDIS_URL`) that does not parse.
    InvalidRedisUrl(String),
    /// The Redis backend could not start.
    Redis(String),
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::InvalidNamespace(ns) => write!(
                f,
                "invalid metric namespace `{ns}`: expected letters, digits and `_`, not starting with a digit"
            ),
            Error::InvalidBuckets(why) => write!(f, "invalid histogram buckets: {why}"),
            Error::InvalidLimit => f.write_str("max_series_per_metric must be at least 1"),
            Error::AlreadyInstalled => f.write_str("a kansoku Telemetry is already installed in this process"),
            Error::Otel(why) => write!(f, "OpenTelemetry exporter: {why}"),
            Error::InvalidDsn(why) => write!(f, "invalid Sentry DSN: {why}"),
            Error::InvalidSampleRate(rate) => {
                write!(f, "invalid traces sample rate {rate}: expected a number from 0.0 to 1.0")
            }
            Error::Sentry(why) => write!(f, "Sentry: {why}"),
            Error::InvalidRedisUrl(why) => write!(f, "invalid Redis URL: {why}"),
            Error::Redis(why) => write!(f, "Redis: {why}"),
        }
    }
}

impl std::error::Error for Error {}

/// Configures a [`Telemetry`]. Made by [`Telemetry::builder`].
#[derive(Debug, Clone)]
#[must_use]
pub struct TelemetryBuilder {
    namespace: String,
    service_name: Option<String>,
    environment: Option<String>,
    release: Option<String>,
    api_buckets: Option<Vec<f64>>,
    db_buckets: Option<Vec<f64>>,
    max_series: usize,
    #[cfg(feature = "sentry")]
    sentry: crate::sentry::SentryConfig,
    #[cfg(feature = "redis")]
    redis: crate::redis::RedisConfig,
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
            #[cfg(feature = "sentry")]
            sentry: crate::sentry::SentryConfig::default(),
            #[cfg(feature = "redis")]
            redis: crate::redis::RedisConfig::default(),
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

    /// The Sentry DSN (`https://KEY@HOST/PROJECT`). Without one, the Sentry backend stays off
    /// (and says so at install). A DSN that does not parse is an error from `build`/`install`.
    #[cfg(feature = "sentry")]
    pub fn sentry_dsn(mut self, dsn: impl Into<String>) -> Self {
        self.sentry.dsn = Some(dsn.into());
        self
    }

    /// The share of `#[monitor_api_endpoint]` calls (and `start_transaction`s) sent as Sentry
    /// transactions, 0.0 to 1.0; default 0. Errors are captured whatever the rate.
    #[cfg(feature = "sentry")]
    pub fn traces_sample_rate(mut self, rate: f32) -> Self {
        self.sentry.traces_sample_rate = rate;
        self
    }

    /// Chooses the sample rate per transaction instead of [`Self::traces_sample_rate`].
    #[cfg(feature = "sentry")]
    pub fn traces_sampler(
        mut self,
        sampler: impl Fn(&crate::SamplingContext<'_>) -> f32 + Send + Sync + 'static,
    ) -> Self {
        self.sentry.traces_sampler = Some(Arc::new(sampler));
        self
    }

    /// Events whose exception type or value, or message, contains one of these are not sent
    /// (the guide's `before_send` filter, as configuration).
    #[cfg(feature = "sentry")]
    pub fn ignore_errors<S: Into<String>>(mut self, patterns: impl IntoIterator<Item = S>) -> Self {
        self.sentry
            .ignore_errors
            .extend(patterns.into_iter().map(Into::into));
        self
    }

    /// How long `shutdown` waits for Sentry to send what it holds; default 2 s.
    #[cfg(feature = "sentry")]
    pub fn sentry_shutdown_timeout(mut self, timeout: std::time::Duration) -> Self {
        self.sentry.shutdown_timeout = Some(timeout);
        self
    }

    /// Adjusts the Sentry client options kansoku builds (transport, `before_send`, server
    /// name…), applied last.
    #[cfg(feature = "sentry")]
    pub fn sentry_options(
        mut self,
        customize: impl Fn(sentry::ClientOptions) -> sentry::ClientOptions + Send + Sync + 'static,
    ) -> Self {
        self.sentry.customize = Some(Arc::new(customize));
        self
    }

    /// The Redis server that real-time counters go to (`redis://[:PASSWORD@]HOST[:PORT][/DB]`,
    /// or `rediss://` without TLS support: not yet). Without one the Redis backend stays off. A
    /// URL that does not parse is an error from `build`/`install`; Redis being down is not:
    /// counts are held and written when it comes up.
    #[cfg(feature = "redis")]
    pub fn redis_url(mut self, url: impl Into<String>) -> Self {
        self.redis.urls = vec![url.into()];
        self.redis.cluster = false;
        self
    }

    /// A Redis Cluster, by the URLs of some of its nodes.
    #[cfg(feature = "redis")]
    pub fn redis_cluster<S: Into<String>>(mut self, urls: impl IntoIterator<Item = S>) -> Self {
        self.redis.urls = urls.into_iter().map(Into::into).collect();
        self.redis.cluster = true;
        self
    }

    /// The length of a real-time time bucket, in whole seconds (at least 1); default 10 s.
    /// Every instance sharing a namespace should use the same.
    #[cfg(feature = "redis")]
    pub fn realtime_bucket(mut self, bucket: std::time::Duration) -> Self {
        self.redis.bucket = bucket;
        self
    }

    /// How long a real-time bucket is kept in Redis (its keys' expiry); default 1 hour.
    #[cfg(feature = "redis")]
    pub fn realtime_retention(mut self, retention: std::time::Duration) -> Self {
        self.redis.retention = retention;
        self
    }

    /// How often changes are written to Redis; default 1 s.
    #[cfg(feature = "redis")]
    pub fn realtime_flush_interval(mut self, interval: std::time::Duration) -> Self {
        self.redis.flush_interval = interval;
        self
    }

    /// How many (series, time bucket) pairs are held in memory while Redis is unreachable;
    /// default [`crate::DEFAULT_MAX_PENDING`]. Recordings beyond it are left out of Redis
    /// (Prometheus still has them), counted in `ns_realtime_dropped_total` and logged once.
    #[cfg(feature = "redis")]
    pub fn realtime_max_pending(mut self, series_buckets: usize) -> Self {
        self.redis.max_pending = series_buckets;
        self
    }

    /// How long `shutdown` waits for the last write to Redis; default 2 s.
    #[cfg(feature = "redis")]
    pub fn redis_shutdown_timeout(mut self, timeout: std::time::Duration) -> Self {
        self.redis.shutdown_timeout = timeout;
        self
    }

    /// Reads what the environment sets and the builder has not: `KANSOKU_NAMESPACE`,
    /// `KANSOKU_SERVICE_NAME` (or `OTEL_SERVICE_NAME`), `SENTRY_ENVIRONMENT`, `SENTRY_RELEASE`,
    /// with `redis`: `KANSOKU_REDIS_URL` (several, comma-separated: a cluster).
    /// Values set in code win over the environment for the namespace only when they differ
    /// from the default.
    pub fn from_env(mut self) -> Self {
        let var = |name: &str| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
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
        #[cfg(feature = "redis")]
        if self.redis.urls.is_empty() {
            if let Some(urls) = var("KANSOKU_REDIS_URL") {
                self.redis.urls = urls
                    .split(',')
                    .map(str::trim)
                    .filter(|u| !u.is_empty())
                    .map(str::to_owned)
                    .collect();
            }
        }
        #[cfg(feature = "sentry")]
        {
            if self.sentry.dsn.is_none() {
                self.sentry.dsn = var("SENTRY_DSN");
            }
            if let Some(rate) = var("SENTRY_TRACES_SAMPLE_RATE").and_then(|r| r.parse().ok()) {
                if self.sentry.traces_sample_rate == 0.0 {
                    self.sentry.traces_sample_rate = rate;
                }
            }
        }
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
    /// [`Telemetry::enter`] or [`Telemetry::scope`]. For tests, and for running two in one
    /// process.
    pub fn build(self) -> Result<Telemetry, Error> {
        self.build_inner(false)
    }

    /// Builds and installs the process-wide instance: every annotated call records into it
    /// (except inside another instance's `enter`/`scope`). Once per process.
    pub fn install(self) -> Result<Telemetry, Error> {
        static INSTALLED: OnceLock<Telemetry> = OnceLock::new();
        if INSTALLED.get().is_some() {
            return Err(Error::AlreadyInstalled);
        }
        let telemetry = self.build_inner(true)?;
        #[cfg(any(feature = "otel", feature = "redis", feature = "sentry"))]
        crate::current::set_global(telemetry.inner.backends.clone())
            .map_err(|_| Error::AlreadyInstalled)?;
        #[cfg(feature = "sentry")]
        if let Some(sentry) = &telemetry.inner.backends.sentry {
            sentry.bind_main_hub();
        }
        #[cfg(any(feature = "otel", feature = "redis"))]
        record::set_global_bounds(
            telemetry.inner.backends.recorder.config.api_bounds,
            telemetry.inner.backends.recorder.config.db_bounds,
        );
        #[cfg(feature = "otel")]
        telemetry.inner.otel.set_global();
        INSTALLED
            .set(telemetry.clone())
            .map_err(|_| Error::AlreadyInstalled)?;
        telemetry.announce();
        Ok(telemetry)
    }

    #[cfg_attr(
        not(any(feature = "otel", feature = "redis", feature = "sentry")),
        allow(unused_variables)
    )]
    fn build_inner(self, global: bool) -> Result<Telemetry, Error> {
        self.validate()?;
        #[cfg(any(feature = "otel", feature = "redis"))]
        let recorder = {
            let bounds = |given: &Option<Vec<f64>>, default: &[f64]| {
                Bounds::new(given.as_deref().unwrap_or(default))
                    .map(Bounds::leak)
                    .map_err(Error::InvalidBuckets)
            };
            let config = RecorderConfig {
                api_bounds: bounds(&self.api_buckets, &record::DEFAULT_API_BOUNDS)?,
                db_bounds: bounds(&self.db_buckets, &record::DEFAULT_DB_BOUNDS)?,
                max_series: self.max_series,
            };
            Arc::new(Recorder::new(config, global))
        };
        #[cfg(feature = "redis")]
        let redis =
            crate::redis::RedisBackend::start(&self.redis, recorder.clone(), &self.namespace)?;
        #[cfg(feature = "sentry")]
        let sentry = crate::sentry::SentryBackend::new(
            &self.sentry,
            self.release.as_deref(),
            self.environment.as_deref(),
            global,
        )?;
        #[cfg(feature = "otel")]
        let otel = crate::otel::Exporter::new(
            recorder.clone(),
            &self.namespace,
            self.service_name.as_deref(),
        )?;
        #[cfg(any(feature = "otel", feature = "redis"))]
        let local_stats = crate::stats::LocalStats::new(recorder.clone());
        #[cfg(any(feature = "otel", feature = "redis", feature = "sentry"))]
        let backends = Arc::new(crate::current::Backends {
            #[cfg(any(feature = "otel", feature = "redis"))]
            recorder,
            #[cfg(feature = "sentry")]
            sentry,
            #[cfg(feature = "redis")]
            redis,
        });
        Ok(Telemetry {
            inner: Arc::new(Inner {
                #[cfg(feature = "otel")]
                otel,
                #[cfg(any(feature = "otel", feature = "redis", feature = "sentry"))]
                backends,
                #[cfg(any(feature = "otel", feature = "redis"))]
                local_stats,
                config: self,
            }),
        })
    }
}

struct Inner {
    config: TelemetryBuilder,
    #[cfg(any(feature = "otel", feature = "redis", feature = "sentry"))]
    backends: Arc<crate::current::Backends>,
    #[cfg(feature = "otel")]
    otel: crate::otel::Exporter,
    #[cfg(any(feature = "otel", feature = "redis"))]
    local_stats: Arc<crate::stats::LocalStats>,
}

/// The telemetry of a service: where annotated calls and business metrics are recorded, and
/// how they are read. Cheap to clone.
///
/// ```
/// # fn main() -> Result<(), kansoku::Error> {
/// let telemetry = kansoku::Telemetry::builder()
///     .namespace("shop")
///     .service_name("shops-api")
///     .from_env()
///     .install()?;
/// let text = telemetry.prometheus_text(); // serve this at /metrics
/// # futures::executor::block_on(async {
/// telemetry.shutdown().await;
/// # });
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct Telemetry {
    inner: Arc<Inner>,
}

impl fmt::Debug for Telemetry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Telemetry")
            .field("config", &self.inner.config)
            .finish_non_exhaustive()
    }
}

impl Telemetry {
    /// Starts configuring a telemetry instance.
    pub fn builder() -> TelemetryBuilder {
        TelemetryBuilder::default()
    }

    /// The metric namespace.
    pub fn namespace(&self) -> &str {
        &self.inner.config.namespace
    }

    /// The service name, if one was set.
    pub fn service_name(&self) -> Option<&str> {
        self.inner.config.service_name.as_deref()
    }

    /// The environment, if one was set.
    pub fn environment(&self) -> Option<&str> {
        self.inner.config.environment.as_deref()
    }

    /// The release, if one was set.
    pub fn release(&self) -> Option<&str> {
        self.inner.config.release.as_deref()
    }

    /// Everything recorded, in the Prometheus text exposition format (version 0.0.4): what a
    /// `/metrics` endpoint serves. Empty without the `otel` feature.
    pub fn prometheus_text(&self) -> String {
        #[cfg(feature = "otel")]
        {
            self.inner.otel.render()
        }
        #[cfg(not(feature = "otel"))]
        {
            String::new()
        }
    }

    /// The Prometheus registry behind [`Telemetry::prometheus_text`]; register your own
    /// collectors here to serve them from the same endpoint.
    #[cfg(feature = "otel")]
    pub fn registry(&self) -> &prometheus::Registry {
        self.inner.otel.registry()
    }

    /// An OpenTelemetry meter whose instruments appear in [`Telemetry::prometheus_text`] under
    /// the namespace. The installed instance is also the global OpenTelemetry meter provider.
    #[cfg(feature = "otel")]
    pub fn meter(&self, scope: &'static str) -> opentelemetry::metrics::Meter {
        self.inner.otel.meter(scope)
    }

    /// Makes this instance the current one on this thread until the guard drops.
    pub fn enter(&self) -> ScopeGuard {
        ScopeGuard {
            #[cfg(any(feature = "otel", feature = "redis", feature = "sentry"))]
            _local: crate::current::LocalGuard::enter(self.inner.backends.clone()),
            _not_send: PhantomData,
        }
    }

    /// Makes this instance the current one whenever `future` is polled, on any thread. Tasks
    /// it spawns need their own `scope`.
    pub fn scope<F: Future>(&self, future: F) -> Scope<F> {
        Scope {
            future,
            telemetry: self.clone(),
        }
    }

    /// Sends what the backends buffer now, waiting at most `timeout`; they keep running.
    /// Returns `false` if something could not be sent in time.
    #[cfg_attr(
        not(any(feature = "sentry", feature = "redis")),
        allow(unused_variables, clippy::unused_async)
    )]
    pub async fn flush(&self, timeout: std::time::Duration) -> bool {
        #[cfg_attr(not(any(feature = "sentry", feature = "redis")), allow(unused_mut))]
        let mut all_sent = true;
        #[cfg(feature = "redis")]
        if let Some(redis) = &self.inner.backends.redis {
            all_sent &= redis.flush(timeout).await;
        }
        #[cfg(feature = "sentry")]
        if let Some(sentry) = self.inner.backends.sentry.clone() {
            let sent = Arc::new(std::sync::atomic::AtomicBool::new(false));
            let flag = sent.clone();
            let finished = crate::blocking::run(
                move || {
                    let ok = sentry.flush_blocking(timeout);
                    flag.store(ok, std::sync::atomic::Ordering::Relaxed);
                },
                timeout,
            )
            .await;
            all_sent &= finished && sent.load(std::sync::atomic::Ordering::Relaxed);
        }
        all_sent
    }

    /// Flushes what the backends buffer and stops them, within a bounded time. Metrics stay
    /// readable afterwards.
    // async from the start: the Redis and Sentry backends await their final flush here
    #[allow(clippy::unused_async)]
    pub async fn shutdown(&self) {
        #[cfg(feature = "redis")]
        if let Some(redis) = &self.inner.backends.redis {
            redis.shutdown().await;
        }
        #[cfg(feature = "otel")]
        self.inner.otel.shutdown();
        #[cfg(feature = "sentry")]
        if let Some(sentry) = self.inner.backends.sentry.clone() {
            // The client's close may block (a transport stuck on a server that never answers):
            // on a thread of its own, awaited at most the shutdown timeout.
            let deadline = sentry.shutdown_timeout();
            crate::blocking::run(move || sentry.close_blocking(), deadline).await;
        }
    }

    /// Reads the real-time counters every instance writes to Redis; its snapshots fail with
    /// [`crate::RealtimeError::NotConfigured`] when no Redis URL is configured.
    #[cfg(feature = "redis")]
    pub fn realtime(&self) -> crate::Realtime {
        crate::Realtime::new(self.inner.backends.redis.clone())
    }

    /// What this instance alone recorded over about the last `window`, read from memory:
    /// no Redis needed, and the same shape as [`Realtime::snapshot`](crate::Realtime::snapshot)
    /// gives across instances.
    ///
    /// The first call starts a sampler thread that reads the counters every 5 seconds and
    /// keeps what changed for 5 minutes; nothing is sampled before anyone asks, and the
    /// annotated calls do no extra work either way. A window starts on a sample (at or before
    /// `now - window`) and ends now, so the counts are exact as of the call; until a window's
    /// length has been sampled it starts at the oldest sample (the first one is taken at
    /// start-up), and windows longer than 5 minutes get the 5 minutes kept. The answer's
    /// `window` is the span really covered; rates are per second of it.
    ///
    /// ```
    /// # #[derive(Debug)] struct Sold;
    /// # impl std::fmt::Display for Sold { fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result { f.write_str("sold out") } }
    /// # impl std::error::Error for Sold {}
    /// use std::time::Duration;
    ///
    /// #[kansoku::track_api_request(method = "POST", endpoint = "/reservations")]
    /// fn reserve(seats: u32) -> Result<u32, Sold> {
    ///     if seats > 4 { Err(Sold) } else { Ok(seats) }
    /// }
    ///
    /// let telemetry = kansoku::Telemetry::builder().namespace("shop").build()?;
    /// let _scope = telemetry.enter();
    /// for seats in [1, 2, 3, 9] {
    ///     let _ = reserve(seats);
    /// }
    /// let last_minute = telemetry.local_stats(Duration::from_secs(60));
    /// let stats = &last_minute.endpoints[&("/reservations".to_owned(), "POST".to_owned())];
    /// assert_eq!(stats.requests, 4);
    /// assert_eq!(stats.calls(kansoku::Status::Error), 1);
    /// assert_eq!(stats.error_ratio, 0.25);
    /// assert!(stats.p95.is_some());
    /// # Ok::<(), kansoku::Error>(())
    /// ```
    #[cfg(any(feature = "otel", feature = "redis"))]
    pub fn local_stats(&self, window: std::time::Duration) -> crate::RealtimeSnapshot {
        self.inner.local_stats.window(window)
    }

    #[cfg_attr(not(feature = "redis"), allow(clippy::unused_self))]
    fn redis_state(&self) -> &'static str {
        #[cfg(feature = "redis")]
        {
            if self.inner.backends.redis.is_some() {
                "on"
            } else {
                "off (no KANSOKU_REDIS_URL)"
            }
        }
        #[cfg(not(feature = "redis"))]
        {
            "off (feature not enabled)"
        }
    }

    #[cfg_attr(not(feature = "sentry"), allow(clippy::unused_self))]
    fn sentry_enabled(&self) -> bool {
        #[cfg(feature = "sentry")]
        {
            self.inner.backends.sentry.is_some()
        }
        #[cfg(not(feature = "sentry"))]
        {
            false
        }
    }

    /// The Sentry client, when the `sentry` feature is on and a DSN was given.
    #[cfg(feature = "sentry")]
    pub fn sentry_client(&self) -> Option<Arc<sentry::Client>> {
        self.inner
            .backends
            .sentry
            .as_ref()
            .map(|backend| backend.client().clone())
    }

    fn announce(&self) {
        let on = |yes: bool| {
            if yes {
                "on"
            } else {
                "off (feature not enabled)"
            }
        };
        tracing::info!(
            namespace = %self.namespace(),
            "kansoku: metrics {}; sentry {}; redis {}",
            on(cfg!(feature = "otel")),
            on(self.sentry_enabled()),
            self.redis_state(),
        );
    }
}

/// Returned by [`Telemetry::enter`]; restores the previous current instance when dropped.
#[must_use = "the telemetry is current only while the guard lives"]
pub struct ScopeGuard {
    #[cfg(any(feature = "otel", feature = "redis", feature = "sentry"))]
    _local: crate::current::LocalGuard,
    // Entering is per thread: the guard must be dropped where it was made.
    _not_send: PhantomData<*const ()>,
}

impl fmt::Debug for ScopeGuard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ScopeGuard").finish_non_exhaustive()
    }
}

/// A future that records into one [`Telemetry`]; made by [`Telemetry::scope`].
#[must_use = "futures do nothing unless polled"]
pub struct Scope<F> {
    future: F,
    telemetry: Telemetry,
}

impl<F> fmt::Debug for Scope<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Scope").finish_non_exhaustive()
    }
}

impl<F: Future> Future for Scope<F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        // SAFETY: `future` is structurally pinned: it is never moved out of `self`, and
        // `Scope` has no `Drop` impl nor `Unpin` impl that would let it move.
        let this = unsafe { self.get_unchecked_mut() };
        let _guard = this.telemetry.enter();
        // SAFETY: see above.
        unsafe { Pin::new_unchecked(&mut this.future) }.poll(cx)
    }
}
