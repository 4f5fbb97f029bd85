//! The telemetry handle: start-up (`builder`), the backends it runs (`backends`, the one place
//! that names them), and what a service does with it: read metrics, enter it, flush it, ask its
//! health, shut it down.

#[cfg(feature = "alert")]
mod alerts;
mod backends;
mod builder;
#[cfg(feature = "prometheus")]
mod prometheus;
#[cfg(feature = "redis")]
mod realtime;
#[cfg(feature = "sentry")]
mod sentry_backend;

pub use builder::{TelemetryBuilder, DEFAULT_MAX_SERIES};

use std::fmt;
use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context as TaskContext, Poll};

use pin_project_lite::pin_project;

use crate::backend::BackendHealth;
use crate::context::{Context, LocalGuard};

struct Inner {
    config: TelemetryBuilder,
    context: Arc<Context>,
    /// This instance's own windows, sampled once someone asks.
    #[cfg(store)]
    local_stats: Arc<crate::stats::LocalStats>,
    /// The backends whose feature is on but that are not configured.
    off: Vec<BackendHealth>,
    /// The application alerts' states (`kansoku::alert`).
    #[cfg(feature = "alert")]
    alerts: Arc<crate::board::Board>,
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

    /// The request-latency bucket bounds set at start-up, if any (the default otherwise).
    #[cfg(feature = "deploy")]
    pub(crate) fn api_buckets(&self) -> Option<&[f64]> {
        self.inner.config.api_buckets.as_deref()
    }

    /// This instance's store and backends.
    pub(crate) fn context(&self) -> &Arc<Context> {
        &self.inner.context
    }

    /// Everything recorded, in the Prometheus text exposition format (version 0.0.4): what a
    /// `/metrics` endpoint serves. Empty without the `prometheus` feature.
    pub fn prometheus_text(&self) -> String {
        #[cfg(feature = "prometheus")]
        {
            crate::prometheus_backend::render(self.context())
        }
        #[cfg(not(feature = "prometheus"))]
        {
            String::new()
        }
    }

    /// How each backend is doing: those running (up or down, their last error, what they
    /// dropped), then those whose feature is on but that are not configured.
    pub fn health(&self) -> Vec<BackendHealth> {
        self.context()
            .backends
            .iter()
            .map(|backend| backend.health())
            .chain(self.inner.off.iter().cloned())
            .collect()
    }

    /// What this instance alone recorded over about the last `window`, read from memory:
    /// no Redis needed, and the same shape as the `redis` feature's `Realtime::snapshot` gives
    /// across instances.
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
    #[cfg(store)]
    pub fn local_stats(&self, window: std::time::Duration) -> crate::RealtimeSnapshot {
        self.inner.local_stats.window(window)
    }

    /// Makes this instance the current one on this thread until the guard drops.
    pub fn enter(&self) -> Entered {
        Entered {
            _local: LocalGuard::enter(self.context().clone()),
            _not_send: PhantomData,
        }
    }

    /// Makes this instance the current one whenever `future` is polled, on any thread. Tasks
    /// it spawns need their own `instrument` (as with `tracing`'s `Instrument`).
    pub fn instrument<F: Future>(&self, future: F) -> Instrumented<F> {
        Instrumented {
            future,
            telemetry: self.clone(),
        }
    }

    /// Sends what the backends hold of what was recorded before the call (Sentry: the
    /// transactions still being built included), waiting at most `timeout` for each; they
    /// keep running. Returns `false` if something could not be sent in time; nothing is given
    /// up then, what is left goes on being sent.
    pub async fn flush(&self, timeout: std::time::Duration) -> bool {
        let mut all_sent = true;
        for backend in &self.context().backends {
            all_sent &= backend.clone().flush(timeout).await;
        }
        all_sent
    }

    /// Flushes what the backends buffer and stops them (the last started first), each within
    /// its own bounded time; what a backend could not send by then is counted as lost (for
    /// Sentry: in `ns_sentry_events_dropped_total`, [`Self::health`] and a client report)
    /// before this returns. Metrics stay readable afterwards.
    pub async fn shutdown(&self) {
        for backend in self.context().backends.iter().rev() {
            backend.clone().shutdown().await;
        }
    }

    fn announce(&self) {
        let states: Vec<String> = self
            .health()
            .iter()
            .map(|health| format!("{} {}", health.backend, health.detail))
            .collect();
        tracing::info!(
            namespace = %self.namespace(),
            "kansoku: {}",
            if states.is_empty() {
                "no backend feature enabled".to_owned()
            } else {
                states.join("; ")
            }
        );
    }
}

/// Returned by [`Telemetry::enter`]; restores the previous current instance when dropped.
#[must_use = "the telemetry is current only while the guard lives"]
pub struct Entered {
    _local: LocalGuard,
    // Entering is per thread: the guard must be dropped where it was made.
    _not_send: PhantomData<*const ()>,
}

impl fmt::Debug for Entered {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Entered").finish_non_exhaustive()
    }
}

pin_project! {
    /// A future that records into one [`Telemetry`]; made by [`Telemetry::instrument`].
    #[must_use = "futures do nothing unless polled"]
    pub struct Instrumented<F> {
        #[pin]
        future: F,
        telemetry: Telemetry,
    }
}

impl<F> fmt::Debug for Instrumented<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Instrumented").finish_non_exhaustive()
    }
}

impl<F: Future> Future for Instrumented<F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<F::Output> {
        let this = self.project();
        let _guard = this.telemetry.enter();
        this.future.poll(cx)
    }
}
