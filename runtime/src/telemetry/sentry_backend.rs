//! The Sentry backend's part of the handle: its builder setters and `sentry_client`.

use std::sync::Arc;

use crate::sentry_backend::{SentryBackend, SentryConfig};
use crate::{Telemetry, TelemetryBuilder};

impl TelemetryBuilder {
    /// The Sentry DSN (`https://KEY@HOST/PROJECT`). Without one, the Sentry backend stays off
    /// (and says so at install). A DSN that does not parse is an error from `build`/`install`.
    pub fn sentry_dsn(mut self, dsn: impl Into<String>) -> Self {
        self.backends.sentry.dsn = Some(dsn.into());
        self
    }

    /// The Sentry client kansoku sends through, when the application holds it itself (a
    /// `sentry::Client` it built, or `sentry::Hub::current().client()`). Without it, the
    /// installed instance uses the client the application bound with `sentry::init`, and
    /// builds its own from [`Self::sentry_dsn`] only when none is bound.
    ///
    /// The client's options apply to everything kansoku sends: `before_send`, release,
    /// environment, server name, integrations, sample rates.
    ///
    /// ```
    /// let client = std::sync::Arc::new(sentry::Client::from(sentry::ClientOptions::new()));
    /// let telemetry = kansoku::Telemetry::builder().sentry_client(client).build()?;
    /// # Ok::<(), kansoku::Error>(())
    /// ```
    pub fn sentry_client(mut self, client: Arc<sentry::Client>) -> Self {
        self.backends.sentry.client = Some(client);
        self
    }

    /// The share of `#[monitor_api_endpoint]` calls (and `start_transaction`s) sent as Sentry
    /// transactions, 0.0 to 1.0; default 0. Errors are captured whatever the rate.
    pub fn traces_sample_rate(mut self, rate: f32) -> Self {
        self.backends.sentry.traces_sample_rate = rate;
        self
    }

    /// Chooses the sample rate per transaction instead of [`Self::traces_sample_rate`].
    pub fn traces_sampler(
        mut self,
        sampler: impl Fn(&crate::SamplingContext<'_>) -> f32 + Send + Sync + 'static,
    ) -> Self {
        self.backends.sentry.traces_sampler = Some(Arc::new(sampler));
        self
    }

    /// Events whose exception type or value, or message, contains one of these are not sent
    /// (the guide's `before_send` filter, as configuration).
    pub fn ignore_errors<S: Into<String>>(mut self, patterns: impl IntoIterator<Item = S>) -> Self {
        self.backends
            .sentry
            .ignore_errors
            .extend(patterns.into_iter().map(Into::into));
        self
    }

    /// Whether a caller's sampling decision (`sentry-trace: …-1`, `baggage: sentry-sampled=…`)
    /// is taken, as Sentry's SDKs take it (the default), or ignored: the trace is still
    /// continued, but this service's own rate decides. Turn it off on a service anonymous
    /// clients reach, so that no client can force every request to be traced (and sent);
    /// `KANSOKU_SENTRY_TRUST_INCOMING_SAMPLING=false` with `from_env`.
    pub fn trust_incoming_sampling(mut self, trust: bool) -> Self {
        self.backends.sentry.distrust_incoming_sampling = !trust;
        self
    }

    /// How long `shutdown` waits for Sentry to send what it holds (transactions still being
    /// built included); default 2 s. Near the end (its last tenth, at most 0.25 s) what is
    /// still unsent is counted as lost, and a client report saying so is sent. Size it for a
    /// burst: one envelope a request, 4 requests at a time (`sentry_max_requests`).
    pub fn sentry_shutdown_timeout(mut self, timeout: std::time::Duration) -> Self {
        self.backends.sentry.shutdown_timeout = Some(timeout);
        self
    }

    /// How many envelopes may wait to be sent to Sentry: error events (endpoint errors,
    /// panics, `capture_error`, `capture_message`) and transactions, each in its own queue;
    /// default 2000 each. Errors are sent before transactions whenever both wait. Beyond its
    /// bound an envelope is dropped at once, never slowing the request, and counted in
    /// `ns_sentry_events_dropped_total{reason="queue_overflow"}` and in a client report. A
    /// waiting envelope holds its event in memory (a few kB); [`Self::sentry_queue_bytes`] bounds
    /// them in bytes too. Zero is an error from `build`.
    ///
    /// Not used when [`Self::sentry_options`] installs the application's own transport.
    ///
    /// ```
    /// let telemetry = kansoku::Telemetry::builder()
    ///     .sentry_dsn("https://public@sentry.example.com/1")
    ///     .sentry_queue_sizes(10_000, 1_000) // keep more errors in an outage
    ///     .build()?;
    /// # Ok::<(), kansoku::Error>(())
    /// ```
    pub fn sentry_queue_sizes(mut self, errors: usize, transactions: usize) -> Self {
        self.backends.sentry.transport.error_queue = errors;
        self.backends.sentry.transport.transaction_queue = transactions;
        self
    }

    /// How many bytes the envelopes waiting to be sent may hold, errors and transactions each;
    /// default 16 MiB each. A waiting envelope's bytes are estimated from what it carries (its
    /// strings, frames, breadcrumbs, spans and request), about what it serialises to. Beyond the
    /// bound an envelope is dropped as beyond [`Self::sentry_queue_sizes`]
    /// (`reason="queue_overflow"`); one envelope alone in its queue is always kept, whatever
    /// its size. With the count bound this keeps a flood of big requests while Sentry is
    /// unreachable within a known amount of memory. Zero is an error from `build`. Not used
    /// when [`Self::sentry_options`] installs the application's own transport.
    ///
    /// ```
    /// let telemetry = kansoku::Telemetry::builder()
    ///     .sentry_dsn("https://public@sentry.example.com/1")
    ///     .sentry_queue_bytes(64 << 20, 8 << 20)
    ///     .build()?;
    /// # Ok::<(), kansoku::Error>(())
    /// ```
    pub fn sentry_queue_bytes(mut self, errors: usize, transactions: usize) -> Self {
        self.backends.sentry.transport.error_bytes = errors;
        self.backends.sentry.transport.transaction_bytes = transactions;
        self
    }

    /// How many requests to Sentry may be in flight at once, each on a kept-alive connection;
    /// default 4. More drain a burst faster against a distant server. Zero is an error from
    /// `build`. Not used with the application's own transport.
    ///
    /// ```
    /// let telemetry = kansoku::Telemetry::builder()
    ///     .sentry_dsn("https://public@sentry.example.com/1")
    ///     .sentry_max_requests(8)
    ///     .build()?;
    /// # Ok::<(), kansoku::Error>(())
    /// ```
    pub fn sentry_max_requests(mut self, requests: usize) -> Self {
        self.backends.sentry.transport.max_requests = requests;
        self
    }

    /// Adjusts the Sentry client options kansoku builds (transport, `before_send`, server
    /// name…), applied last. Setting a transport here replaces kansoku's own (and with it the
    /// queue sizes, the rate-limit handling and the transport's loss counts).
    pub fn sentry_options(
        mut self,
        customize: impl Fn(sentry::ClientOptions) -> sentry::ClientOptions + Send + Sync + 'static,
    ) -> Self {
        self.backends.sentry.customize = Some(Arc::new(customize));
        self
    }
}

impl SentryConfig {
    /// `SENTRY_DSN` and `SENTRY_TRACES_SAMPLE_RATE`, where the builder set neither.
    pub(crate) fn fill_from_env(&mut self, var: &dyn Fn(&str) -> Option<String>) {
        if self.dsn.is_none() {
            self.dsn = var("SENTRY_DSN");
        }
        if let Some(raw) = var("KANSOKU_SENTRY_TRUST_INCOMING_SAMPLING") {
            if matches!(raw.trim(), "false" | "0" | "no" | "off") {
                self.distrust_incoming_sampling = true;
            }
        }
        if let Some(raw) = var("SENTRY_TRACES_SAMPLE_RATE") {
            if self.traces_sample_rate == 0.0 {
                // not a number: NaN, which `build` refuses like any rate outside 0..=1
                self.traces_sample_rate = raw.trim().parse().unwrap_or(f32::NAN);
            }
        }
    }
}

impl Telemetry {
    /// The Sentry client, when the `sentry` feature is on and a DSN was given.
    pub fn sentry_client(&self) -> Option<Arc<sentry::Client>> {
        self.context()
            .backend::<SentryBackend>()
            .map(|backend| backend.client().clone())
    }
}

#[cfg(test)]
mod tests {
    use super::SentryConfig;

    fn from(rate: &str) -> SentryConfig {
        let mut config = SentryConfig::default();
        let value = rate.to_owned();
        config.fill_from_env(&|name| (name == "SENTRY_TRACES_SAMPLE_RATE").then(|| value.clone()));
        config
    }

    #[test]
    fn the_environments_rate_is_read_and_garbage_is_not_ignored() {
        assert!((from(" 0.25 ").traces_sample_rate - 0.25).abs() < f32::EPSILON);
        // a rate that is not a number is refused by `build`, not silently taken as 0
        assert!(from("ten percent").traces_sample_rate.is_nan());
        let mut set_in_code = SentryConfig {
            traces_sample_rate: 0.5,
            ..SentryConfig::default()
        };
        set_in_code.fill_from_env(&|_| Some("0.1".to_owned()));
        assert!((set_in_code.traces_sample_rate - 0.5).abs() < f32::EPSILON);
    }
}
