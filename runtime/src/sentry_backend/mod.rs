//! The `sentry` backend: transactions and spans from the attributes, error, panic and message
//! capture with a scope of its own per call.
//!
//! Design, in the order a call meets it:
//!
//! - **Sampling first.** `#[monitor_api_endpoint]` decides whether its transaction is sampled
//!   with a thread-local random number before doing any Sentry work. An unsampled call that
//!   neither errors nor touches its scope costs a few nanoseconds and allocates nothing.
//! - **A scope per call, made lazily.** Each endpoint call carries a [`call::CallScope`] inside
//!   its guard. `kansoku::set_tag` and friends write into the innermost endpoint call being
//!   polled on this thread (found through a thread-local pointer set for the duration of each
//!   poll), so a tag set in one request can never reach another's events, however the runtime
//!   schedules them. Nothing is allocated until something is set.
//! - **Spans recorded, not built.** A sampled call records its span (ids, times, status) into
//!   a shared per-transaction record; when the transaction's root finishes, the record goes to
//!   a background thread that builds the Sentry transaction and hands it to the client's
//!   transport. The request thread never serialises, and never waits on the network.
//! - **Errors are always captured**, sampled or not, with the call's scope, trace context, and
//!   the function's name; the transport sends them off the request path, bounded.
//! - **kansoku's own transport** ([`transport`]): the `sentry` crate's transports hold 30
//!   envelopes and send one at a time, which loses errors in a burst. Errors wait apart from
//!   transactions and go first; rate limits apply per category; every loss, here or in the
//!   client (`before_send`, sampling), is counted for the metric and reported to Sentry.

pub(crate) mod call;
mod capture;
pub(crate) mod request;
mod trace;
mod transport;

pub(crate) use call::CallScope;
pub(crate) use capture::{capture_error_event, capture_message_event, install_panic_hook};
#[cfg(feature = "axum")]
pub(crate) use request::outgoing_headers;
pub(crate) use trace::{Incoming, TraceSpan};

use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::sync::{mpsc, Arc};
use std::time::Duration;

use crate::backend::{Backend, BackendHealth, BoxFuture, CounterFamily, HealthCell};

use sentry::{ClientOptions, Hub};

/// What decides a transaction's sampling: the name and op it would have.
#[derive(Debug, Clone, Copy)]
pub struct SamplingContext<'a> {
    /// The transaction's name (the endpoint).
    pub name: &'a str,
    /// The transaction's op (`http.server` by default).
    pub op: &'a str,
}

/// A function choosing the sample rate (0.0 to 1.0) of each transaction.
pub type TracesSampler = Arc<dyn Fn(&SamplingContext<'_>) -> f32 + Send + Sync>;

/// The Sentry part of the builder.
#[derive(Clone, Default)]
pub(crate) struct SentryConfig {
    pub(crate) dsn: Option<String>,
    pub(crate) traces_sample_rate: f32,
    pub(crate) traces_sampler: Option<TracesSampler>,
    pub(crate) ignore_errors: Vec<String>,
    pub(crate) shutdown_timeout: Option<Duration>,
    pub(crate) transport: transport::TransportConfig,
    pub(crate) customize: Option<Arc<dyn Fn(ClientOptions) -> ClientOptions + Send + Sync>>,
}

impl fmt::Debug for SentryConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SentryConfig")
            .field("dsn", &self.dsn.as_ref().map(|_| "<set>"))
            .field("traces_sample_rate", &self.traces_sample_rate)
            .field(
                "traces_sampler",
                &self.traces_sampler.as_ref().map(|_| "<fn>"),
            )
            .field("ignore_errors", &self.ignore_errors)
            .finish_non_exhaustive()
    }
}

/// The default of `TelemetryBuilder::sentry_shutdown_timeout`.
pub(crate) const DEFAULT_SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(2);

/// One telemetry's Sentry client, hub and span pipeline.
pub(crate) struct SentryBackend {
    /// The installed instance captures through the thread's current hub (the main hub, bound
    /// to this client, unless the application binds another); a built instance has its own.
    own_hub: Option<Arc<Hub>>,
    client: Arc<sentry::Client>,
    /// `rate × 2^32`, compared with a random `u32`; `u64` so that 1.0 samples everything.
    threshold: u64,
    sampler: Option<TracesSampler>,
    /// Finished transactions to the span thread. No lock: a sampled call only `try_send`s, and
    /// the thread polls its queue instead of sleeping in `recv`, so no send has to wake it.
    spans: mpsc::SyncSender<trace::Job>,
    shutdown_timeout: Duration,
    /// The DSN's host and project, for the health report (never its key).
    target: String,
    health: HealthCell,
    /// Everything lost, by category and reason: the metric, the health report, and the
    /// client reports kansoku's transport sends.
    losses: Arc<transport::Losses>,
    /// kansoku's transport, unless the application brought its own.
    transport: Option<Arc<transport::KansokuTransport>>,
    /// A traces sampler returned a rate outside 0.0..=1.0 (said once).
    sampler_warned: AtomicBool,
}

impl fmt::Debug for SentryBackend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SentryBackend")
            .field("threshold", &self.threshold)
            .finish_non_exhaustive()
    }
}

/// A sample rate in `0.0..=1.0` as the bound a random `u32` is compared with: `rate × 2^32`
/// (so 1.0 samples every call and 0.0 none).
fn threshold(rate: f32) -> u64 {
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)] // rate is in 0..=1
    let bound = (f64::from(rate) * (f64::from(u32::MAX) + 1.0)) as u64;
    bound
}

/// Finished transactions waiting for the background thread; beyond this they are dropped
/// (counted as `queue_overflow` transactions) rather than slowing requests down. The thread empties it far
/// faster than requests fill it, except in a burst of sampled calls.
const SPAN_QUEUE: usize = 8192;

impl SentryBackend {
    /// A client for `config`, or `Ok(None)` when no DSN is configured.
    pub(crate) fn new(
        config: &SentryConfig,
        release: Option<&str>,
        environment: Option<&str>,
        global: bool,
    ) -> Result<Option<Arc<SentryBackend>>, crate::error::Error> {
        let Some(dsn) = config.dsn.as_deref() else {
            return Ok(None);
        };
        let dsn: sentry::types::Dsn = dsn
            .parse()
            .map_err(|e| crate::error::Error::InvalidDsn(format!("{e}")))?;
        let (dsn_host, dsn_project) = (dsn.host().to_owned(), dsn.project_id().to_string());
        let dsn_for_transport = dsn.clone();
        let rate = config.traces_sample_rate;
        // NaN is outside too
        if !(0.0..=1.0).contains(&rate) {
            return Err(crate::error::Error::InvalidSampleRate(rate));
        }
        let sizes = config.transport;
        if sizes.error_queue == 0 || sizes.transaction_queue == 0 || sizes.max_requests == 0 {
            return Err(crate::error::Error::Sentry(
                "sentry_queue_sizes and sentry_max_requests must be at least 1".to_owned(),
            ));
        }
        let mut options = ClientOptions::new()
            .maybe_release(release.map(str::to_owned))
            .shutdown_timeout(config.shutdown_timeout.unwrap_or(DEFAULT_SHUTDOWN_TIMEOUT));
        options.dsn = Some(dsn);
        if let Some(environment) = environment {
            options = options.environment(environment.to_owned());
        }
        let ignored = config.ignore_errors.clone();
        if !ignored.is_empty() {
            options = options.before_send(move |event| capture::keep_event(event, &ignored));
        }
        if let Some(customize) = &config.customize {
            options = customize(options);
        }
        let own_transport = options.transport.is_none();
        // the proxies and `SSL_VERIFY` from the environment, as the crate's transports read them
        let mut options = sentry::apply_defaults(options);
        let losses = Arc::new(transport::Losses::default());
        // kansoku's transport, unless the application brought one in `sentry_options`
        let transport = if own_transport {
            let proxy = match dsn_for_transport.scheme() {
                sentry::types::Scheme::Https => options.https_proxy.as_deref(),
                sentry::types::Scheme::Http => options.http_proxy.as_deref(),
            }
            .filter(|proxy| !proxy.trim().is_empty());
            if options.accept_invalid_certs {
                tracing::warn!(
                    "kansoku: `accept_invalid_certs` is not supported by kansoku's Sentry transport; certificates are verified"
                );
            }
            let transport = transport::KansokuTransport::start(
                &dsn_for_transport,
                &options.user_agent,
                config.transport,
                proxy,
                losses.clone(),
            )
            .map_err(crate::error::Error::Sentry)?;
            options.transport = Some(Arc::new(transport.clone()));
            Some(transport)
        } else {
            None
        };
        let client = Arc::new(sentry::Client::with_options(options));
        // The installed instance's client goes on the main hub in `bind_main_hub`, once the
        // install can no longer fail.
        let own_hub = if global {
            None
        } else {
            Some(Arc::new(Hub::new(
                Some(client.clone()),
                Arc::new(sentry::Scope::default()),
            )))
        };
        let (sender, receiver) = mpsc::sync_channel(SPAN_QUEUE);
        let worker_client = client.clone();
        std::thread::Builder::new()
            .name("kansoku-sentry".into())
            .spawn(move || trace::run_worker(&receiver, &worker_client))
            .map_err(|e| {
                crate::error::Error::Sentry(format!("cannot start the span thread: {e}"))
            })?;
        install_panic_hook();
        let threshold = threshold(rate);
        Ok(Some(Arc::new(SentryBackend {
            target: format!("{dsn_host}/{dsn_project}"),
            health: HealthCell::default(),
            losses,
            transport,
            sampler_warned: AtomicBool::new(false),
            own_hub,
            client,
            threshold,
            sampler: config.traces_sampler.clone(),
            spans: sender,
            shutdown_timeout: config.shutdown_timeout.unwrap_or(DEFAULT_SHUTDOWN_TIMEOUT),
        })))
    }

    /// Makes the main hub (the one every thread starts with) send through this client, so the
    /// application's own `sentry::` calls share it. For the installed instance only.
    pub(crate) fn bind_main_hub(&self) {
        Hub::main().bind_client(Some(self.client.clone()));
    }

    /// Runs `f` with the hub events of this telemetry go through.
    pub(crate) fn with_hub<R>(&self, f: impl FnOnce(&Hub) -> R) -> R {
        match &self.own_hub {
            Some(hub) => f(hub),
            None => f(&Hub::current()),
        }
    }

    /// Whether a new transaction named `name` is sampled. The common case is one comparison.
    #[inline]
    pub(crate) fn sample(&self, name: &str, op: &str) -> bool {
        let threshold = match &self.sampler {
            None => self.threshold,
            Some(sampler) => threshold(self.checked_rate(sampler(&SamplingContext { name, op }))),
        };
        let draw = call::random_u32();
        let sampled = threshold != 0 && u64::from(draw) < threshold;
        if !sampled {
            // counted as Sentry's SDKs report it (reason `sample_rate`), on a striped counter
            self.losses.unsampled(draw);
        }
        sampled
    }

    /// A sampler's rate, clamped into 0.0..=1.0 (NaN: 0), with a warning the first time one
    /// is outside.
    fn checked_rate(&self, rate: f32) -> f32 {
        if (0.0..=1.0).contains(&rate) {
            return rate;
        }
        let clamped = if rate.is_nan() {
            0.0
        } else {
            rate.clamp(0.0, 1.0)
        };
        if !self.sampler_warned.swap(true, Relaxed) {
            tracing::warn!(
                rate,
                clamped,
                "kansoku: the traces sampler returned a rate outside 0.0..=1.0; it is clamped (said once)"
            );
        }
        clamped
    }

    pub(crate) fn send_transaction(&self, finished: trace::Finished) {
        // full queue (or a closed backend): drop this transaction rather than block the request
        if self
            .spans
            .try_send(trace::Job::Send(Box::new(finished)))
            .is_err()
        {
            self.losses.record(
                transport::Category::Transaction,
                transport::Reason::QueueOverflow,
                1,
            );
            self.losses.record(
                transport::Category::Span,
                transport::Reason::QueueOverflow,
                1,
            );
        }
    }

    /// Hands every finished transaction to the transport and waits (up to `timeout`) until the
    /// transport has sent what it holds. Blocking, and may block past `timeout` if the
    /// transport hangs: callers run it on a thread of its own under a deadline.
    pub(crate) fn flush_blocking(&self, timeout: Duration) -> bool {
        let deadline = std::time::Instant::now() + timeout;
        self.ask_worker(trace::Job::Flush, timeout);
        self.collect_client_losses();
        self.client.flush(Some(transport_bound(deadline)))
    }

    /// Sends what is queued and closes the client, within the shutdown timeout (the same
    /// caveat as [`Self::flush_blocking`]). The span thread stops once its queue is drained.
    pub(crate) fn close_blocking(&self) {
        let deadline = std::time::Instant::now() + self.shutdown_timeout;
        self.ask_worker(trace::Job::Stop, self.shutdown_timeout);
        self.collect_client_losses();
        self.client.close(Some(transport_bound(deadline)));
    }

    /// The client keeps the losses it decides itself (`before_send`…) until it sends its next
    /// envelope; an empty one carries them to the transport, which counts and reports them.
    fn collect_client_losses(&self) {
        if self.transport.is_some() {
            self.client.send_envelope(sentry::Envelope::new());
        }
    }

    /// Queues `job` behind what the span thread holds and waits (at most `timeout`) for its
    /// answer, which comes once everything queued before it is with the transport.
    fn ask_worker(&self, job: fn(mpsc::Sender<()>) -> trace::Job, timeout: Duration) {
        let (done, wait) = mpsc::channel();
        let deadline = std::time::Instant::now() + timeout;
        let mut job = Some(job(done));
        while let Some(pending) = job.take() {
            match self.spans.try_send(pending) {
                Ok(()) => {
                    let _ = wait.recv_timeout(
                        deadline.saturating_duration_since(std::time::Instant::now()),
                    );
                }
                Err(mpsc::TrySendError::Full(pending)) if std::time::Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(1));
                    job = Some(pending);
                }
                Err(_) => {}
            }
        }
    }

    pub(crate) fn client(&self) -> &Arc<sentry::Client> {
        &self.client
    }
}

/// What the transport gets of the time left before `deadline`: a little less, so that it has
/// counted what it gives up before the caller's own deadline passes.
fn transport_bound(deadline: std::time::Instant) -> Duration {
    let left = deadline.saturating_duration_since(std::time::Instant::now());
    left.saturating_sub((left / 10).min(Duration::from_millis(100)))
}

impl Backend for SentryBackend {
    fn health(&self) -> BackendHealth {
        let mut report = match &self.transport {
            Some(transport) => transport.health().report(
                "sentry",
                format!("sending to {}; {}", self.target, transport.state()),
            ),
            None => self.health.report(
                "sentry",
                format!(
                    "sending to {} (through the application's transport)",
                    self.target
                ),
            ),
        };
        report.dropped = self.losses.by_reason();
        report
    }

    fn counters(&self) -> Vec<CounterFamily> {
        vec![CounterFamily {
            name: "sentry_events_dropped_total",
            help: "Sentry events, transactions and spans that were not delivered, by data category and Sentry's client-report discard reason.",
            label_names: ["category", "reason"],
            values: self
                .losses
                .totals()
                .into_iter()
                .map(|(category, reason, count)| ([category.name(), reason.name()], count))
                .collect(),
        }]
    }

    fn installed(&self) {
        self.bind_main_hub();
    }

    fn flush(self: Arc<Self>, timeout: Duration) -> BoxFuture<bool> {
        Box::pin(async move {
            // the client's flush blocks (and may hang on a stuck transport): on a thread of
            // its own, awaited at most `timeout`
            let sent = Arc::new(AtomicBool::new(false));
            let flag = sent.clone();
            let finished = crate::blocking::run(
                move || flag.store(self.flush_blocking(timeout), Relaxed),
                timeout,
            )
            .await;
            finished && sent.load(Relaxed)
        })
    }

    fn shutdown(self: Arc<Self>) -> BoxFuture<()> {
        Box::pin(async move {
            // the client's close may block (a transport stuck on a server that never
            // answers): on a thread of its own, awaited at most the shutdown timeout
            let deadline = self.shutdown_timeout;
            crate::blocking::run(move || self.close_blocking(), deadline).await;
        })
    }
}
