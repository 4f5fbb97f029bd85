//! The `sentry` backend: transactions and spans from the attributes and the HTTP layer, error,
//! panic and message capture, each in the call it belongs to.
//!
//! Design, in the order a call meets it:
//!
//! - **One client: the application's.** The client the application bound with `sentry::init`
//!   (or handed over with `sentry_client`) is used, with all its options (`before_send`,
//!   release, sample rates, integrations); kansoku builds and binds one only when it has a DSN
//!   and none is bound.
//! - **A hub per root call** ([`hub`]): a request served by the HTTP layer, or an endpoint or
//!   hand-made transaction outside any, runs with a `sentry::Hub` of its own current at every
//!   poll, so every crate's `configure_scope`, breadcrumbs and captures reach that call alone.
//! - **Sampling first.** A root decides whether it is sampled with a thread-local random number
//!   (at the client's rate) before doing any other Sentry work; an unsampled root's scope carries
//!   a transaction of a client-less hub that holds its trace ids and records nothing, so every
//!   event is in the call's trace and spans opened inside record nothing.
//! - **Sampled spans are sentry's own** (`sentry::Transaction`/`Span`), so sentry-tracing's spans
//!   nest in them; a sampled root's transaction is finished on a background thread, under the
//!   call's hub, so the request thread never builds, scopes or serialises it.
//! - **Errors are always captured**, sampled or not, in their call's hub.
//! - **kansoku's own transport** ([`transport`]): the `sentry` crate's transports hold 30
//!   envelopes and send one at a time, which loses errors in a burst. Errors wait apart from
//!   transactions and go first; rate limits apply per category; every loss, here or in the
//!   client (`before_send`, sampling), is counted for the metric and reported to Sentry. The
//!   application can give it to its own client ([`sentry_transport`]).

pub(crate) mod call;
mod capture;
// sampled spans sent on over OTLP, or (the twin) nowhere but Sentry
#[cfg_attr(feature = "otlp", path = "export.rs")]
#[cfg_attr(not(feature = "otlp"), path = "no_export.rs")]
mod export;
mod hub;
pub(crate) mod limits;
#[cfg(feature = "axum")]
pub(crate) mod request;
mod spans;
mod trace;
#[cfg(feature = "tracing")]
pub(crate) mod tracing_layer;
mod transport;

pub(crate) use call::CallScope;
pub(crate) use capture::{capture_error_event, capture_message_event, install_panic_hook};
#[cfg(feature = "axum")]
pub(crate) use request::outgoing_headers;
pub(crate) use trace::Incoming;
#[cfg(feature = "axum")]
pub(crate) use trace::{bounded_baggage, bounded_tracestate};
pub use transport::{sentry_transport, SentryTransportFactory};

use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::backend::{Backend, BackendHealth, BoxFuture, CounterFamily, HealthCell};

use sentry::{ClientOptions, Hub, TracesSamplingStrategy};

/// What decides a transaction's sampling: the name and op it would have.
#[non_exhaustive]
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
    /// The client the application handed over (`sentry_client`).
    pub(crate) client: Option<Arc<sentry::Client>>,
    /// `trust_incoming_sampling(false)`: a caller's sampling decision is not taken.
    pub(crate) distrust_incoming_sampling: bool,
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

/// How a root's sampling is decided.
enum Sampling {
    /// A fixed rate: `rate × 2^32`, compared with a random `u32` (`u64` so that 1.0 samples
    /// everything). The common case is one comparison.
    Rate(u64),
    /// kansoku's own traces sampler (with kansoku's own client).
    Sampler(TracesSampler),
    /// The application's client has a traces sampler of its own: it decides, per transaction.
    Client,
    /// The client in use has tracing off: no transaction is recorded.
    Off,
}

/// What [`SentryBackend::decide`] decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Decision {
    Sampled,
    Unsampled,
    /// Start a transaction and let the client's sampler decide.
    AskClient,
}

/// Whose client kansoku sends through.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ClientSource {
    /// Bound by the application (`sentry::init`) on the main hub.
    Application,
    /// Handed over with `sentry_client`.
    Handed,
    /// Built by kansoku from its DSN.
    Own,
    /// Built by kansoku without a DSN, for the trace context of spans sent over OTLP only: it
    /// sends nothing to Sentry and is never bound.
    SpansOnly,
}

/// One telemetry's Sentry client and span pipeline.
pub(crate) struct SentryBackend {
    client: Arc<sentry::Client>,
    source: ClientSource,
    /// A hub of the client with an empty scope: what transactions are started through, and
    /// where events outside any call go for an instance that is not the installed one. (Of
    /// a clone of the application's client, when it has kansoku's transport: see
    /// [`start_spans`].)
    factory: Arc<Hub>,
    /// Whether this is the installed instance (its events outside calls go through the
    /// thread's current hub, as the application's own do).
    global: bool,
    sampling: Sampling,
    /// Whether the client has sentry's panic integration, which then captures panics itself.
    panic_integration: bool,
    /// Which callers' traces and sampling decisions are taken.
    continuation: Continuation,
    ignore_errors: Vec<String>,
    /// The span thread, which builds finished transactions. No lock: a sampled call only
    /// `try_send`s, and the thread polls its queue, so no send has to wake it.
    spans: Arc<spans::Spans>,
    shutdown_timeout: Duration,
    /// The DSN's host and project, for the health report (never its key).
    target: String,
    health: HealthCell,
    /// Everything lost, by category and reason: the metric, the health report, and the
    /// client reports kansoku's transport sends.
    losses: Arc<transport::Losses>,
    /// kansoku's transport, when the client in use has it.
    transport: Option<Arc<transport::KansokuTransport>>,
    /// A traces sampler returned a rate outside 0.0..=1.0 (said once).
    sampler_warned: AtomicBool,
    /// Where sampled spans go besides Sentry (the OTLP backend's queue).
    exporter: export::Exporter,
}

/// Which callers' traces and sampling decisions a backend takes.
#[derive(Debug, Clone, Copy)]
struct Continuation {
    /// `sentry-org_id` of the client (its option, else its DSN's host).
    org_id: Option<u64>,
    strict: bool,
    /// A caller's sampling decision is ignored (its trace is still continued).
    distrust_sampling: bool,
}

impl fmt::Debug for SentryBackend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SentryBackend")
            .field("source", &self.source)
            .field("target", &self.target)
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

/// The client kansoku uses, where it came from, and kansoku's transport when it built it.
type Resolved = (
    Arc<sentry::Client>,
    ClientSource,
    Option<Arc<transport::KansokuTransport>>,
);

/// The client kansoku uses, and where it came from.
fn resolve_client(
    config: &SentryConfig,
    release: Option<&str>,
    environment: Option<&str>,
    global: bool,
    spans_only: Option<f32>,
) -> Result<Option<Resolved>, crate::error::Error> {
    if let Some(client) = &config.client {
        if config.dsn.is_some() {
            tracing::warn!("kansoku: a Sentry client was handed over with `sentry_client`; it is used, and kansoku's DSN is not");
        }
        return Ok(Some((client.clone(), ClientSource::Handed, None)));
    }
    if global {
        if let Some(client) = Hub::main().client().filter(|client| client.is_enabled()) {
            if config.dsn.is_some() {
                tracing::warn!("kansoku: the application bound a Sentry client (`sentry::init`); kansoku uses it, with its options, and does not build one from its own DSN");
            }
            return Ok(Some((client, ClientSource::Application, None)));
        }
    }
    let Some(dsn) = config.dsn.as_deref() else {
        return match spans_only {
            Some(rate) => {
                spans_only_client(rate).map(|client| Some((client, ClientSource::SpansOnly, None)))
            }
            None => Ok(None),
        };
    };
    let (client, transport) = own_client(config, dsn, release, environment)?;
    Ok(Some((client, ClientSource::Own, transport)))
}

/// A transport that sends nothing: the client of spans sent over OTLP only.
struct Nowhere;

impl sentry::Transport for Nowhere {
    fn send_envelope(&self, _: sentry::Envelope) {}
}

/// The client whose hubs and transactions carry the trace context when spans go over OTLP
/// and no Sentry DSN is given: it samples at kansoku's rate and sends nothing anywhere (a DSN
/// nothing listens at keeps it enabled; its transport drops everything).
fn spans_only_client(rate: f32) -> Result<Arc<sentry::Client>, crate::error::Error> {
    if !(0.0..=1.0).contains(&rate) {
        return Err(crate::error::Error::InvalidSampleRate(rate));
    }
    let nowhere: Arc<dyn sentry::Transport> = Arc::new(Nowhere);
    let mut options = ClientOptions::new()
        .traces_sample_rate(rate)
        .default_integrations(false)
        .transport(move |_: &ClientOptions| nowhere.clone());
    options.dsn = "http://spans-only@127.0.0.1:9/0".parse().ok();
    Ok(Arc::new(sentry::Client::with_options(options)))
}

/// kansoku's own client for `dsn`, with kansoku's transport unless `sentry_options` brings one.
fn own_client(
    config: &SentryConfig,
    dsn: &str,
    release: Option<&str>,
    environment: Option<&str>,
) -> Result<
    (
        Arc<sentry::Client>,
        Option<Arc<transport::KansokuTransport>>,
    ),
    crate::error::Error,
> {
    let dsn: sentry::types::Dsn = dsn
        .parse()
        .map_err(|e| crate::error::Error::InvalidDsn(format!("{e}")))?;
    let rate = config.traces_sample_rate;
    // NaN is outside too
    if !(0.0..=1.0).contains(&rate) {
        return Err(crate::error::Error::InvalidSampleRate(rate));
    }
    config.transport.validate()?;
    let mut options = ClientOptions::new()
        .maybe_release(release.map(str::to_owned))
        .shutdown_timeout(config.shutdown_timeout.unwrap_or(DEFAULT_SHUTDOWN_TIMEOUT))
        // so that transactions the application's sentry-tracing starts outside kansoku's
        // calls are sampled as kansoku's are
        .traces_sample_rate(rate);
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
    let factory = options.transport.is_none().then(|| {
        let factory = SentryTransportFactory::new().with_config(config.transport);
        options.transport = Some(Arc::new(factory.clone()));
        factory
    });
    // the proxies and `SSL_VERIFY` from the environment, as the crate's transports read them
    let options = sentry::apply_defaults(options);
    let client = Arc::new(sentry::Client::with_options(options));
    let transport = factory.and_then(|factory| factory.created());
    Ok((client, transport))
}

/// The span thread, and the client transactions are started with (and so sent through).
///
/// That is the client in use; but the application's client, when it has kansoku's transport,
/// is cloned: the same options, integrations and transport, with a slot of its own for the
/// transport. The application closing its client (its `sentry::init` guard dropping) empties
/// the client's slot before the transport hears of it, and a client with an empty slot drops
/// what it is given without a word; through the clone, the transactions still being built
/// reach the transport, whose close waits for them ([`transport::Upstream`]).
fn start_spans(
    client: &Arc<sentry::Client>,
    source: ClientSource,
    transport: Option<&Arc<transport::KansokuTransport>>,
    losses: &Arc<transport::Losses>,
) -> Result<(Arc<sentry::Client>, Arc<spans::Spans>), crate::error::Error> {
    let sending = match (transport, source) {
        (Some(_), ClientSource::Application | ClientSource::Handed) => {
            Arc::new(sentry::Client::clone(client))
        }
        _ => client.clone(),
    };
    let spans = spans::Spans::start(sending.clone(), losses.clone(), transport.is_some())
        .map(Arc::new)
        .map_err(|e| crate::error::Error::Sentry(format!("cannot start the span thread: {e}")))?;
    if let Some(transport) = transport {
        // the client's own flush and close (the application's, for its client) wait for
        // the transactions still being built
        let upstream: Arc<dyn transport::Upstream> = spans.clone();
        transport.attach(Arc::downgrade(&upstream));
    }
    Ok((sending, spans))
}

impl SentryBackend {
    /// The backend for `config`: with the application's client, a handed one, or kansoku's
    /// own; `Ok(None)` when there is neither a client nor a DSN.
    pub(crate) fn new(
        config: &SentryConfig,
        release: Option<&str>,
        environment: Option<&str>,
        global: bool,
        spans_only: Option<f32>,
    ) -> Result<Option<Arc<SentryBackend>>, crate::error::Error> {
        let Some((client, source, own_transport)) =
            resolve_client(config, release, environment, global, spans_only)?
        else {
            return Ok(None);
        };
        let options = client.options();
        let (dsn_host, dsn_project) = options.dsn.as_ref().map_or_else(
            || ("(no DSN)".to_owned(), String::new()),
            |dsn| (dsn.host().to_owned(), dsn.project_id().to_string()),
        );
        let sampling = match (source, &options.traces_sampling_strategy) {
            (ClientSource::Own | ClientSource::SpansOnly, _) => match &config.traces_sampler {
                Some(sampler) => Sampling::Sampler(sampler.clone()),
                None => Sampling::Rate(threshold(
                    spans_only
                        .filter(|_| source == ClientSource::SpansOnly)
                        .unwrap_or(config.traces_sample_rate),
                )),
            },
            (_, TracesSamplingStrategy::FixedRate(rate)) => {
                Sampling::Rate(threshold(rate.clamp(0.0, 1.0)))
            }
            (_, TracesSamplingStrategy::Function(_)) => Sampling::Client,
            (_, _) => Sampling::Off,
        };
        if matches!(source, ClientSource::Application | ClientSource::Handed) {
            if config.traces_sample_rate != 0.0 || config.traces_sampler.is_some() {
                tracing::warn!("kansoku: the Sentry client in use is the application's; its traces_sample_rate / traces_sampler apply, kansoku's are not used");
            }
            if config.customize.is_some() {
                tracing::warn!("kansoku: `sentry_options` shapes only a client kansoku builds; the application's client keeps its own options");
            }
        }
        let transport = own_transport.or_else(|| match source {
            ClientSource::Own | ClientSource::SpansOnly => None,
            _ => transport::registered(&client),
        });
        if transport.is_none()
            && options.transport_channel_capacity.is_none()
            && source != ClientSource::SpansOnly
        {
            tracing::warn!("kansoku: the Sentry client in use keeps the sentry crate's transport with its default of 30 queued envelopes, which loses errors in a burst; pass `.transport(kansoku::sentry_transport())` to `sentry::init` for kansoku's (errors first, bounded queues, every loss counted)");
        }
        let losses = transport
            .as_ref()
            .map_or_else(Arc::default, |transport| transport.losses().clone());
        let panic_integration = options
            .integrations
            .iter()
            .any(|integration| integration.name() == "panic");
        let org_id = options
            .org_id
            .or_else(|| options.dsn.as_ref()?.org_id())
            .and_then(|org| org.to_string().parse().ok());
        let (sending, spans) = start_spans(&client, source, transport.as_ref(), &losses)?;
        install_panic_hook();
        Ok(Some(Arc::new(SentryBackend {
            factory: Arc::new(Hub::new(Some(sending), Arc::default())),
            target: format!("{dsn_host}/{dsn_project}"),
            health: HealthCell::default(),
            losses,
            transport,
            sampler_warned: AtomicBool::new(false),
            exporter: export::Exporter::default(),
            source,
            global,
            sampling,
            panic_integration,
            continuation: Continuation {
                org_id,
                strict: options.strict_trace_continuation,
                distrust_sampling: config.distrust_incoming_sampling,
            },
            ignore_errors: config.ignore_errors.clone(),
            spans,
            shutdown_timeout: config.shutdown_timeout.unwrap_or(DEFAULT_SHUTDOWN_TIMEOUT),
            client,
        })))
    }

    /// Binds kansoku's own client to the main hub (the one every thread starts with), as
    /// `sentry::init` would, so the application's own `sentry::` calls share it — unless the
    /// application bound one meanwhile. For the installed instance only.
    fn bind_main_hub(&self) {
        if self.source != ClientSource::Own {
            return;
        }
        let main = Hub::main();
        match main.client() {
            Some(bound) if !Arc::ptr_eq(&bound, &self.client) && bound.is_enabled() => {
                tracing::warn!("kansoku: a Sentry client was bound to the main hub while kansoku started; kansoku keeps its own for its calls and leaves the application's bound");
            }
            _ => main.bind_client(Some(self.client.clone())),
        }
    }

    /// Runs `f` with the hub events outside any call go through: the thread's current one for
    /// the installed instance (as the application's own events), else this instance's own.
    pub(crate) fn with_hub<R>(&self, f: impl FnOnce(&Hub) -> R) -> R {
        if self.global {
            let current = Hub::current();
            if current
                .client()
                .is_some_and(|client| Arc::ptr_eq(&client, &self.client))
            {
                return f(&current);
            }
        }
        f(&self.factory)
    }

    /// The hub transactions are started through.
    pub(crate) fn factory(&self) -> &Hub {
        &self.factory
    }

    /// Whether the client captures panics itself (sentry's panic integration).
    pub(crate) fn panics_captured_by_client(&self) -> bool {
        self.panic_integration
    }

    /// The `ignore_errors` patterns a call's event processor applies: none for kansoku's own
    /// client, whose `before_send` applies them to every event already.
    pub(crate) fn ignored_in_calls(&self) -> &[String] {
        match self.source {
            ClientSource::Own | ClientSource::SpansOnly => &[],
            ClientSource::Application | ClientSource::Handed => &self.ignore_errors,
        }
    }

    /// Whether a caller's trace may be continued here: its organization is this client's, or
    /// one side does not say and continuation is not strict (sentry's own rule).
    pub(crate) fn continues(&self, incoming: &Incoming) -> bool {
        match (incoming.org_id, self.continuation.org_id) {
            (Some(theirs), Some(ours)) => theirs == ours,
            (Some(_), None) | (None, Some(_)) => !self.continuation.strict,
            (None, None) => true,
        }
    }

    /// Whether a caller's sampling decision is taken (`trust_incoming_sampling`, on by default).
    pub(crate) fn trusts_incoming_sampling(&self) -> bool {
        !self.continuation.distrust_sampling
    }

    /// Whether a new root named `name` is sampled: `incoming` (the caller's decision) stands
    /// when given, else the client's rate decides.
    #[inline]
    pub(crate) fn decide(&self, name: &str, op: &str, incoming: Option<bool>) -> Decision {
        if matches!(self.sampling, Sampling::Off) {
            return Decision::Unsampled;
        }
        match incoming {
            Some(true) => return Decision::Sampled,
            Some(false) => return Decision::Unsampled,
            None => {}
        }
        let threshold = match &self.sampling {
            Sampling::Rate(threshold) => *threshold,
            Sampling::Sampler(sampler) => {
                threshold(self.checked_rate(sampler(&SamplingContext { name, op })))
            }
            Sampling::Client => return Decision::AskClient,
            Sampling::Off => return Decision::Unsampled,
        };
        if self.sample(threshold) {
            Decision::Sampled
        } else {
            Decision::Unsampled
        }
    }

    /// One draw against `threshold`; an unsampled one is counted.
    #[inline]
    fn sample(&self, threshold: u64) -> bool {
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

    /// Hands a finished transaction to the span thread, or counts it as lost when its queue is
    /// full. Never waits.
    pub(crate) fn send_transaction(&self, finished: trace::Finished) {
        // without a DSN the transaction only carried the trace: nothing to send
        if self.source != ClientSource::SpansOnly {
            self.spans.send(finished);
        }
    }

    /// Where sampled spans go besides Sentry.
    pub(crate) fn exporter(&self) -> &export::Exporter {
        &self.exporter
    }

    /// Waits (up to `timeout`) until every transaction finished before the call is built and
    /// handed to the transport, and the transport has sent or given up what it holds.
    /// Blocking, and may block past `timeout` if the transport hangs: callers run it on a
    /// thread of its own under a deadline.
    pub(crate) fn flush_blocking(&self, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        let built = self.spans.drain(deadline);
        self.collect_client_losses();
        self.client.flush(Some(transport_bound(deadline))) && built
    }

    /// Sends what is queued and closes kansoku's own client (the application closes its own,
    /// when its `sentry::init` guard drops: this only flushes it), within the shutdown timeout
    /// (the same caveat as [`Self::flush_blocking`]). With kansoku's own client, what is still
    /// being built or queued near the deadline is counted as lost, and reported while there is
    /// time; the application's client keeps what it holds and goes on sending it.
    pub(crate) fn close_blocking(&self) {
        let deadline = Instant::now() + self.shutdown_timeout;
        let own = matches!(self.source, ClientSource::Own | ClientSource::SpansOnly);
        self.spans
            .stop(transport::give_up_before(deadline), deadline, own);
        self.collect_client_losses();
        let bound = Some(transport_bound(deadline));
        if own {
            self.client.close(bound);
        } else {
            self.client.flush(bound);
        }
    }

    /// The client keeps the losses it decides itself (`before_send`…) until it sends its next
    /// envelope; an empty one carries them to the transport, which counts and reports them.
    fn collect_client_losses(&self) {
        if self.transport.is_some() {
            self.client.send_envelope(sentry::Envelope::new());
        }
    }

    pub(crate) fn client(&self) -> &Arc<sentry::Client> {
        &self.client
    }
}

/// What the transport gets of the time left before `deadline`: a little less, so that it has
/// counted what it gives up before the caller's own deadline passes.
fn transport_bound(deadline: Instant) -> Duration {
    let left = deadline.saturating_duration_since(Instant::now());
    left.saturating_sub((left / 10).min(Duration::from_millis(100)))
}

impl Backend for SentryBackend {
    fn health(&self) -> BackendHealth {
        let client = match self.source {
            ClientSource::Own => "kansoku's client",
            ClientSource::Application => "the application's client (sentry::init)",
            ClientSource::Handed => "the application's client (sentry_client)",
            ClientSource::SpansOnly => {
                return self.health.report(
                    "sentry",
                    "no DSN: the trace context of the spans sent over OTLP, nothing sent to Sentry"
                        .to_owned(),
                );
            }
        };
        let through = match (&self.transport, self.source) {
            (Some(_), _) => format!("{client} and kansoku's transport"),
            (None, ClientSource::Own) => {
                format!("{client} and the application's transport (sentry_options)")
            }
            (None, _) => format!("{client} and its own transport"),
        };
        let building = match self.spans.pending() {
            0 => String::new(),
            n => format!("; {n} transactions being built"),
        };
        let mut report = match &self.transport {
            Some(transport) => transport.health().report(
                "sentry",
                format!(
                    "sending to {} through {through}; {}{building}",
                    self.target,
                    transport.state()
                ),
            ),
            None => self.health.report(
                "sentry",
                format!("sending to {} through {through}{building}", self.target),
            ),
        };
        report.dropped = self.losses.by_reason();
        report
    }

    fn counters(&self) -> Vec<CounterFamily> {
        vec![CounterFamily {
            family: crate::names::SENTRY_EVENTS_DROPPED,
            values: self
                .losses
                .totals()
                .into_iter()
                .map(|(category, reason, count)| (vec![category.name(), reason.name()], count))
                .collect(),
        }]
    }

    fn installed(&self) {
        self.bind_main_hub();
    }

    fn attached(&self, context: &Arc<crate::context::Context>) {
        self.exporter.attach(context);
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
