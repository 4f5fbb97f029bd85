//! kansoku's own [`sentry::Transport`]: what lets a burst of failing requests reach Sentry.
//!
//! The `sentry` crate's transports hold at most 30 envelopes and send one at a time, so a
//! burst loses errors exactly when a team needs them. This one:
//!
//! - **never waits in `send_envelope`**: the envelope goes into one of two bounded queues
//!   ([`queue`]), error events apart from transactions, or is dropped and counted at once;
//! - **sends errors first**, over pooled keep-alive connections with several requests in
//!   flight ([`sender`]), from a thread with its own runtime ([`worker`]);
//! - **honours rate limits per category** ([`ratelimit`]): while transactions are limited,
//!   errors still go; what is limited is dropped without a request and counted;
//! - **counts every loss** by Sentry's category and reason, for the metric, the health report
//!   and the client reports it sends ([`reports`]);
//! - **flushes and shuts down within a bound**, waiting first for what its [`Upstream`]s (the
//!   backends' span threads) still hold, and counting what it could not send by the shutdown's
//!   deadline, in time to report it.

mod queue;
mod ratelimit;
mod reports;
mod sender;
mod size;
mod worker;

pub(crate) use reports::{Category, Losses, Reason};

use std::cell::Cell;
use std::fmt::Write as _;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::{mpsc as std_mpsc, Arc};
use std::time::{Duration, Instant};

use sentry::protocol::{Envelope, EnvelopeItem};
use tokio::sync::mpsc;

use crate::backend::HealthCell;
use queue::{Lane, Queues};
use worker::{Command, Shared, Worker};

/// The default bound of the error queue (`sentry_queue_sizes`).
pub(crate) const DEFAULT_ERROR_QUEUE: usize = 2000;
/// The default bound of the transaction queue (`sentry_queue_sizes`).
pub(crate) const DEFAULT_TRANSACTION_QUEUE: usize = 2000;
/// The default bound in bytes of each queue (`sentry_queue_bytes`): estimated as
/// [`size`] estimates them.
pub(crate) const DEFAULT_QUEUE_BYTES: usize = 16 * 1024 * 1024;
/// The default of `sentry_max_requests`: requests in flight at once.
pub(crate) const DEFAULT_MAX_REQUESTS: usize = 4;

/// What feeds the transport from a queue of its own (a backend's span thread): its flush and
/// shutdown wait for what an upstream holds first, however they are called (kansoku's
/// `Telemetry::flush`, the application's `sentry::Client::flush`, the client's close).
pub(crate) trait Upstream: Send + Sync {
    /// Waits, at most until `deadline`, until what it held when called has reached the
    /// transport or been counted as lost.
    fn drain(&self, deadline: Instant) -> bool;
}

thread_local! {
    /// Set when an envelope reaches [`KansokuTransport::send_envelope`] on this thread.
    static HANDED_OVER: Cell<bool> = const { Cell::new(false) };
}

/// Starts watching whether the next envelope sent on this thread reaches the transport (the
/// client drops envelopes silently once closed).
pub(crate) fn watch_handover() {
    HANDED_OVER.set(false);
}

/// Whether an envelope reached the transport on this thread since [`watch_handover`].
pub(crate) fn handed_over() -> bool {
    HANDED_OVER.get()
}

/// When to give up what is left to send before `deadline`, keeping the end of the time for
/// the last client report (a tenth of it, at most a quarter of a second).
pub(crate) fn give_up_before(deadline: Instant) -> Instant {
    let now = Instant::now();
    let left = deadline.saturating_duration_since(now);
    now + left.saturating_sub((left / 10).min(Duration::from_millis(250)))
}

/// How the transport is sized.
#[derive(Debug, Clone, Copy)]
pub(crate) struct TransportConfig {
    pub(crate) error_queue: usize,
    pub(crate) transaction_queue: usize,
    pub(crate) error_bytes: usize,
    pub(crate) transaction_bytes: usize,
    pub(crate) max_requests: usize,
}

impl Default for TransportConfig {
    fn default() -> Self {
        TransportConfig {
            error_queue: DEFAULT_ERROR_QUEUE,
            transaction_queue: DEFAULT_TRANSACTION_QUEUE,
            error_bytes: DEFAULT_QUEUE_BYTES,
            transaction_bytes: DEFAULT_QUEUE_BYTES,
            max_requests: DEFAULT_MAX_REQUESTS,
        }
    }
}

impl TransportConfig {
    pub(crate) fn validate(&self) -> Result<(), crate::error::Error> {
        if self.error_queue == 0 || self.transaction_queue == 0 || self.max_requests == 0 {
            return Err(crate::error::Error::Sentry(
                "sentry_queue_sizes and sentry_max_requests must be at least 1".to_owned(),
            ));
        }
        if self.error_bytes == 0 || self.transaction_bytes == 0 {
            return Err(crate::error::Error::Sentry(
                "sentry_queue_bytes must be at least 1 byte".to_owned(),
            ));
        }
        Ok(())
    }
}

/// kansoku's Sentry transport, for the application's own `sentry::init`: what kansoku sends
/// through when it builds the client itself — errors queued apart from transactions and sent
/// first, rate limits per category, bounded queues, every loss counted (in
/// `ns_sentry_events_dropped_total`, `Telemetry::health`, and client reports) — instead of
/// the `sentry` crate's transports and their 30 queued envelopes. Made by [`sentry_transport`].
///
/// ```
/// let _guard = sentry::init(
///     sentry::ClientOptions::new()
///         .dsn("https://public@sentry.example.com/1")
///         .transport(kansoku::sentry_transport().queue_sizes(5_000, 1_000)),
/// );
/// ```
#[derive(Debug, Clone)]
pub struct SentryTransportFactory {
    config: TransportConfig,
    /// The transport it made last (a client makes one), for the backend of a client kansoku
    /// built.
    created: Arc<std::sync::Mutex<Option<std::sync::Weak<KansokuTransport>>>>,
}

/// kansoku's Sentry transport for `sentry::ClientOptions::transport`: see
/// [`SentryTransportFactory`]. kansoku finds it again at `install` and reports its losses.
pub fn sentry_transport() -> SentryTransportFactory {
    SentryTransportFactory::new()
}

/// The transports made for the application's clients, with their DSN: the backend of the
/// application's client finds its own by DSN (the latest made).
static REGISTERED: std::sync::Mutex<Vec<(String, std::sync::Weak<KansokuTransport>)>> =
    std::sync::Mutex::new(Vec::new());

/// kansoku's transport of `client`, if its factory made one.
pub(crate) fn registered(client: &sentry::Client) -> Option<Arc<KansokuTransport>> {
    let dsn = client.options().dsn.as_ref()?.to_string();
    let mut registered = REGISTERED
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    registered.retain(|(_, transport)| transport.strong_count() > 0);
    registered
        .iter()
        .rev()
        .find(|(made_for, _)| *made_for == dsn)
        .and_then(|(_, transport)| transport.upgrade())
}

impl SentryTransportFactory {
    pub(crate) fn new() -> SentryTransportFactory {
        SentryTransportFactory {
            config: TransportConfig::default(),
            created: Arc::default(),
        }
    }

    pub(crate) fn with_config(mut self, config: TransportConfig) -> SentryTransportFactory {
        self.config = config;
        self
    }

    /// How many error events and transactions may wait to be sent, each in its own queue
    /// (default 2000 each; see `TelemetryBuilder::sentry_queue_sizes`). Zero is taken as 1.
    #[must_use]
    pub fn queue_sizes(mut self, errors: usize, transactions: usize) -> SentryTransportFactory {
        self.config.error_queue = errors.max(1);
        self.config.transaction_queue = transactions.max(1);
        self
    }

    /// How many (estimated) bytes the waiting error events and transactions may hold, each
    /// queue (default 16 MiB each; see `TelemetryBuilder::sentry_queue_bytes`). Zero is taken
    /// as 1.
    #[must_use]
    pub fn queue_bytes(mut self, errors: usize, transactions: usize) -> SentryTransportFactory {
        self.config.error_bytes = errors.max(1);
        self.config.transaction_bytes = transactions.max(1);
        self
    }

    /// How many requests to Sentry may be in flight at once (default 4). Zero is taken as 1.
    #[must_use]
    pub fn max_requests(mut self, requests: usize) -> SentryTransportFactory {
        self.config.max_requests = requests.max(1);
        self
    }

    pub(crate) fn created(&self) -> Option<Arc<KansokuTransport>> {
        self.created
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .as_ref()
            .and_then(std::sync::Weak::upgrade)
    }
}

impl sentry::TransportFactory for SentryTransportFactory {
    fn create_transport_with_options(
        &self,
        options: sentry::TransportOptions,
    ) -> Arc<dyn sentry::Transport> {
        if options.accept_invalid_certs {
            tracing::warn!(
                "kansoku: `accept_invalid_certs` is not supported by kansoku's Sentry transport; certificates are verified"
            );
        }
        let proxy = match options.dsn.scheme() {
            sentry::types::Scheme::Https => options.https_proxy.as_deref(),
            sentry::types::Scheme::Http => options.http_proxy.as_deref(),
        }
        .filter(|proxy| !proxy.trim().is_empty());
        match KansokuTransport::start(
            &options.dsn,
            &options.user_agent,
            self.config,
            proxy,
            Arc::default(),
        ) {
            Ok(transport) => {
                *self
                    .created
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner) =
                    Some(Arc::downgrade(&transport));
                REGISTERED
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner)
                    .push((options.dsn.to_string(), Arc::downgrade(&transport)));
                transport
            }
            Err(error) => {
                tracing::error!(%error, "kansoku: cannot start its Sentry transport; nothing is sent to Sentry");
                Arc::new(Unstarted)
            }
        }
    }
}

/// What a client gets when kansoku's transport cannot start (no thread): it sends nothing.
struct Unstarted;

impl sentry::Transport for Unstarted {
    fn send_envelope(&self, _envelope: Envelope) {}
}

/// The transport; the `sentry` client holds it through an `Arc`, and so does the backend
/// (for flush and health).
#[derive(Debug)]
pub(crate) struct KansokuTransport {
    queues: Queues,
    commands: mpsc::UnboundedSender<Command>,
    shared: Arc<Shared>,
    upstreams: std::sync::Mutex<Vec<std::sync::Weak<dyn Upstream>>>,
}

impl KansokuTransport {
    /// Starts the sending thread for `dsn`, through `proxy` if given.
    pub(crate) fn start(
        dsn: &sentry::types::Dsn,
        user_agent: &str,
        config: TransportConfig,
        proxy: Option<&str>,
        losses: Arc<Losses>,
    ) -> Result<Arc<KansokuTransport>, String> {
        let sender = sender::Sender::new(dsn, user_agent, config.max_requests, proxy)?;
        let (queues, receivers) = queue::bounded(queue::Bounds {
            errors: config.error_queue,
            transactions: config.transaction_queue,
            error_bytes: config.error_bytes,
            transaction_bytes: config.transaction_bytes,
        });
        let (commands, command_rx) = mpsc::unbounded_channel();
        let shared = Arc::new(Shared::new(losses));
        Worker::new(
            shared.clone(),
            sender,
            receivers,
            command_rx,
            config.max_requests,
        )
        .spawn()
        .map_err(|e| format!("cannot start the sending thread: {e}"))?;
        Ok(Arc::new(KansokuTransport {
            queues,
            commands,
            shared,
            upstreams: std::sync::Mutex::default(),
        }))
    }

    /// Makes its flush and shutdown wait for `upstream` first, as long as it lives.
    pub(crate) fn attach(&self, upstream: std::sync::Weak<dyn Upstream>) {
        let mut upstreams = self
            .upstreams
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        upstreams.retain(|attached| attached.strong_count() > 0);
        upstreams.push(upstream);
    }

    /// Waits, at most until `deadline`, for what every upstream holds now.
    fn drain_upstreams(&self, deadline: Instant) -> bool {
        let upstreams: Vec<Arc<dyn Upstream>> = self
            .upstreams
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .iter()
            .filter_map(std::sync::Weak::upgrade)
            .collect();
        upstreams
            .iter()
            .fold(true, |all, upstream| all & upstream.drain(deadline))
    }

    /// What it lost, by category and reason.
    pub(crate) fn losses(&self) -> &Arc<Losses> {
        &self.shared.losses
    }

    /// The health the sending task notes.
    pub(crate) fn health(&self) -> &HealthCell {
        &self.shared.health
    }

    /// Queue depths, requests in flight and the rate limits in force, in one line.
    pub(crate) fn state(&self) -> String {
        let [(errors, error_bound), (transactions, transaction_bound)] = self.queues.depths();
        let [(error_bytes, error_room), (transaction_bytes, transaction_room)] =
            self.queues.weights();
        let kib = |bytes: usize| bytes / 1024;
        let mut line = format!(
            "queued: {errors}/{error_bound} errors ({}/{} KiB), {transactions}/{transaction_bound} transactions ({}/{} KiB); {} requests in flight",
            kib(error_bytes),
            kib(error_room),
            kib(transaction_bytes),
            kib(transaction_room),
            self.shared.in_flight.load(Relaxed)
        );
        let now = Instant::now();
        let limits = self
            .shared
            .limits
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .active(now);
        for (category, until) in limits {
            let _ = write!(
                line,
                "; rate limited: {category} for {}s more",
                until.saturating_duration_since(now).as_secs_f64().ceil()
            );
        }
        line
    }

    /// Queues `envelope` without looking into it, or counts it as lost.
    fn enqueue(&self, lane: Lane, envelope: Envelope) {
        // counted before the push, so that a flush right after waits for it
        self.shared.enqueued.fetch_add(1, Relaxed);
        if let Err(refused) = self.queues.push(lane, envelope) {
            self.shared
                .losses
                .record_envelope(&refused, Reason::QueueOverflow);
            self.shared.settled.fetch_add(1, Relaxed);
        }
    }

    /// Waits, at most until `deadline`, until everything queued so far is settled.
    fn wait_settled(&self, deadline: Instant) -> bool {
        let target = self.shared.enqueued.load(Relaxed);
        if self.shared.settled.load(Relaxed) >= target {
            return true;
        }
        let (done, answer) = std_mpsc::channel();
        if self.commands.send(Command::Flush { target, done }).is_err() {
            return false;
        }
        answer
            .recv_timeout(deadline.saturating_duration_since(Instant::now()))
            .unwrap_or(false)
    }
}

impl sentry::Transport for KansokuTransport {
    fn send_envelope(&self, envelope: Envelope) {
        HANDED_OVER.set(true);
        // an empty envelope (the backend's way of collecting the client's loss counts when it
        // has none) is nothing to send; a raw one has no items either, but is not empty
        if envelope.items().next().is_none() && envelope == Envelope::new() {
            return;
        }
        // the client's own loss reports ride on envelopes: count them, and send them with ours
        let envelope = if envelope
            .items()
            .any(|item| matches!(item, EnvelopeItem::ClientReport(_)))
        {
            retain(
                envelope,
                |item| !matches!(item, EnvelopeItem::ClientReport(_)),
                |item| {
                    if let EnvelopeItem::ClientReport(report) = item {
                        self.shared.losses.absorb(&report);
                    }
                },
            )
        } else {
            Some(envelope)
        };
        if let Some(envelope) = envelope {
            self.enqueue(Lane::of(&envelope), envelope);
        }
    }

    fn flush(&self, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        let drained = self.drain_upstreams(deadline);
        let sent = self.wait_settled(deadline) && drained;
        // then what was lost, including while flushing
        if let Some(report) = self.shared.losses.take_report() {
            self.enqueue(Lane::Errors, reports::report_envelope(report));
        }
        self.wait_settled(deadline) && sent
    }

    fn shutdown(&self, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        // what the upstreams still hold reaches the queues (or, the client being closed, is
        // counted) before the sending task is told to stop, leaving it the time to send it
        let drained = self.drain_upstreams(give_up_before(deadline));
        let (done, answer) = std_mpsc::channel();
        if self
            .commands
            .send(Command::Shutdown { deadline, done })
            .is_err()
        {
            return false;
        }
        // the task answers by the deadline; a little more for its answer to arrive
        let sent = answer
            .recv_timeout(
                deadline.saturating_duration_since(Instant::now()) + Duration::from_millis(100),
            )
            .unwrap_or(false);
        sent && drained
    }
}

/// `envelope` with only the items `keep` accepts; `dropped` gets each other item (and the
/// attachments left without their event). Unlike `Envelope::filter`, the headers (trace
/// context, event id) stay when the envelope's event or transaction stays.
pub(crate) fn retain(
    envelope: Envelope,
    mut keep: impl FnMut(&EnvelopeItem) -> bool,
    mut dropped: impl FnMut(EnvelopeItem),
) -> Option<Envelope> {
    if envelope.items().next().is_none() {
        // raw: nothing to look into
        return Some(envelope);
    }
    let headers = envelope.headers().clone();
    let (kept, gone): (Vec<_>, Vec<_>) = envelope.into_items().partition(|item| keep(item));
    gone.into_iter().for_each(&mut dropped);
    let whole = kept
        .iter()
        .any(|item| matches!(item, EnvelopeItem::Event(_) | EnvelopeItem::Transaction(_)));
    let mut out = if whole {
        Envelope::new().with_headers(headers)
    } else {
        Envelope::new()
    };
    for item in kept {
        if !whole && matches!(item, EnvelopeItem::Attachment(_)) {
            dropped(item);
        } else {
            out.add_item(item);
        }
    }
    out.items().next().is_some().then_some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use sentry::protocol::{Attachment, ClientReport, Event};

    fn envelope_with_event() -> Envelope {
        let mut envelope = Envelope::new();
        envelope.add_item(Event::default());
        envelope.add_item(Attachment {
            buffer: b"log".to_vec(),
            filename: "log.txt".into(),
            ..Attachment::default()
        });
        envelope.add_item(ClientReport::new(Vec::<
            sentry::protocol::client_report::Item,
        >::new()));
        envelope
    }

    #[test]
    fn retain_keeps_the_headers_while_the_event_stays() {
        let envelope = envelope_with_event();
        let id = *envelope.uuid().unwrap();
        let mut gone = Vec::new();
        let kept = retain(
            envelope,
            |item| !matches!(item, EnvelopeItem::ClientReport(_)),
            |item| gone.push(item),
        )
        .unwrap();
        assert_eq!(kept.uuid(), Some(&id));
        assert_eq!(kept.items().count(), 2);
        assert_eq!(gone.len(), 1);
    }

    #[test]
    fn retain_drops_the_attachments_of_a_dropped_event() {
        let mut gone = Vec::new();
        let kept = retain(
            envelope_with_event(),
            |item| !matches!(item, EnvelopeItem::Event(_)),
            |item| gone.push(item),
        )
        .unwrap();
        // only the client report is left, under fresh headers
        assert!(kept.uuid().is_none());
        assert!(matches!(
            kept.items().collect::<Vec<_>>()[..],
            [EnvelopeItem::ClientReport(_)]
        ));
        assert_eq!(gone.len(), 2, "the event and its attachment");
        assert!(
            retain(Envelope::new(), |_| true, |_| {}).is_some(),
            "raw or empty: as is"
        );
    }
}
