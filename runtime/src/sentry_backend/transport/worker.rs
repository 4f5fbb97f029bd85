//! The sending task: a thread of its own running a current-thread tokio runtime (as the Redis
//! flusher does), so it works whatever runtime the application uses, or none, and never takes
//! a runtime worker of the application's. It takes envelopes off the queues, errors first,
//! keeps up to `max_requests` requests in flight over pooled connections, applies the rate
//! limits it is told, retries what failed on the network a bounded number of times, and sends
//! the client reports of what was lost.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering::Relaxed};
use std::sync::{mpsc as std_mpsc, Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use bytes::Bytes;
use sentry::protocol::{Envelope, EnvelopeItem, ItemContainer};
use tokio::sync::mpsc;
use tokio::task::{Id, JoinSet};

use super::queue::Receivers;
use super::ratelimit::RateLimits;
use super::reports::{report_envelope, Losses, Reason};
use super::retain;
use super::sender::{Answer, Response, Sender};
use crate::backend::HealthCell;

/// Tries per envelope when the network or the server fails (the first and two retries).
const ATTEMPTS: u32 = 3;
/// The pause before the first retry; each next one is four times longer.
const FIRST_BACKOFF: Duration = Duration::from_millis(200);
/// How often losses are reported when nothing else (a flush, the shutdown) reports them.
const REPORT_INTERVAL: Duration = Duration::from_secs(30);

/// What the transport and the sending task share.
#[derive(Debug, Default)]
pub(crate) struct Shared {
    pub(crate) losses: Arc<Losses>,
    pub(crate) health: HealthCell,
    pub(crate) limits: Mutex<RateLimits>,
    /// Envelopes accepted into a queue (or refused: those are settled at once).
    pub(crate) enqueued: AtomicU64,
    /// Envelopes sent or given up (dropped and counted).
    pub(crate) settled: AtomicU64,
    pub(crate) in_flight: AtomicUsize,
}

impl Shared {
    pub(crate) fn new(losses: Arc<Losses>) -> Shared {
        Shared {
            losses,
            ..Shared::default()
        }
    }

    fn limits(&self) -> std::sync::MutexGuard<'_, RateLimits> {
        self.limits.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// What the transport asks of the sending task.
#[derive(Debug)]
pub(crate) enum Command {
    /// Answer `true` once `target` envelopes are settled.
    Flush {
        target: u64,
        done: std_mpsc::Sender<bool>,
    },
    /// Send what is queued and the last client report, then stop. Shortly before `deadline`
    /// ([`give_up_before`](super::give_up_before)), what is still queued is counted as lost;
    /// halfway from there, what is still in flight too, and the client report saying so is
    /// sent; at `deadline` it stops anyway. Answers whether everything went.
    Shutdown {
        deadline: Instant,
        done: std_mpsc::Sender<bool>,
    },
}

/// The rate-limit category of an item, as Relay names it.
fn category(item: &EnvelopeItem) -> &'static str {
    match item {
        EnvelopeItem::Event(_) => "error",
        EnvelopeItem::Transaction(_) => "transaction",
        EnvelopeItem::SessionUpdate(_) | EnvelopeItem::SessionAggregates(_) => "session",
        EnvelopeItem::Attachment(_) => "attachment",
        EnvelopeItem::MonitorCheckIn(_) => "monitor",
        EnvelopeItem::ClientReport(_) => "internal",
        EnvelopeItem::ItemContainer(ItemContainer::Logs(_)) => "log_item",
        EnvelopeItem::ItemContainer(ItemContainer::Metrics(_)) => "trace_metric",
        _ => "default",
    }
}

/// One request under way: what it carries, and whether it counts towards a flush.
struct InFlight {
    envelope: Envelope,
    counted: bool,
}

/// A shutdown under way.
struct Stopping {
    phase: Phase,
    /// When the queued envelopes are given up, leaving the time to report it.
    give_up: Instant,
    /// When the requests still in flight are given up too, and the report goes.
    cut: Instant,
    deadline: Instant,
    done: std_mpsc::Sender<bool>,
    /// The last client report went out.
    report_sent: bool,
}

/// How far a shutdown is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Everything queued is still being sent.
    Sending,
    /// What is queued was counted as lost; the requests in flight may still succeed.
    Finishing,
    /// Everything left was counted as lost; the client report saying so goes.
    Reporting,
}

impl Stopping {
    fn new(deadline: Instant, done: std_mpsc::Sender<bool>) -> Stopping {
        let give_up = super::give_up_before(deadline);
        Stopping {
            phase: Phase::Sending,
            give_up,
            cut: give_up + deadline.saturating_duration_since(give_up) / 2,
            deadline,
            done,
            report_sent: false,
        }
    }

    /// The next moment the task must act at.
    fn next(&self) -> Instant {
        match self.phase {
            Phase::Sending => self.give_up,
            Phase::Finishing => self.cut,
            Phase::Reporting => self.deadline,
        }
    }
}

pub(crate) struct Worker {
    shared: Arc<Shared>,
    sender: Sender,
    receivers: Receivers,
    commands: mpsc::UnboundedReceiver<Command>,
    max_requests: usize,
    requests: JoinSet<Response>,
    in_flight: HashMap<Id, InFlight>,
    flushes: Vec<(u64, std_mpsc::Sender<bool>)>,
    stopping: Option<Stopping>,
    /// The transport still holds its end of the commands, or of the queues (or they still
    /// hold envelopes).
    commands_open: bool,
    queues_open: bool,
    /// The queues refuse new envelopes (the shutdown is at its end).
    queues_closed: bool,
}

impl Worker {
    pub(crate) fn new(
        shared: Arc<Shared>,
        sender: Sender,
        receivers: Receivers,
        commands: mpsc::UnboundedReceiver<Command>,
        max_requests: usize,
    ) -> Worker {
        Worker {
            shared,
            sender,
            receivers,
            commands,
            max_requests: max_requests.max(1),
            requests: JoinSet::new(),
            in_flight: HashMap::new(),
            flushes: Vec::new(),
            stopping: None,
            commands_open: true,
            queues_open: true,
            queues_closed: false,
        }
    }

    /// Starts the thread and its runtime.
    pub(crate) fn spawn(self) -> std::io::Result<()> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        std::thread::Builder::new()
            .name("kansoku-sentry-send".into())
            .spawn(move || runtime.block_on(self.run()))
            .map(drop)
    }

    async fn run(mut self) {
        let mut report_tick = tokio::time::interval(REPORT_INTERVAL);
        report_tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        report_tick.tick().await;
        loop {
            self.answer_flushes();
            let drained = self.receivers.is_empty() || !self.queues_open;
            if self.stopping.is_some() && drained && self.requests.is_empty() {
                if !self.queues_closed {
                    // nothing more comes in; what came in meanwhile is sent first
                    self.receivers.close();
                    self.queues_closed = true;
                    continue;
                }
                let Some(stopping) = self.stopping.as_mut() else {
                    return;
                };
                if !stopping.report_sent && self.shared.losses.has_pending() {
                    stopping.report_sent = true;
                    self.send_report();
                    continue;
                }
                let all_sent = stopping.phase == Phase::Sending;
                self.stop(all_sent);
                return;
            }
            let room = self.requests.len() < self.max_requests;
            let next = self.stopping.as_ref().map(Stopping::next);
            tokio::select! {
                // the deadline first: a queue that is always ready must not starve it
                biased;
                () = sleep_until(next), if next.is_some() => {
                    if self.give_up() {
                        self.stop(false);
                        return;
                    }
                }
                Some(finished) = self.requests.join_next_with_id(), if !self.requests.is_empty() => {
                    self.finish(finished);
                }
                command = self.commands.recv(), if self.commands_open => match command {
                    Some(command) => self.command(command),
                    // the transport is gone: without a shutdown under way nobody waits for
                    // anything; with one, go on to its end without polling closed channels
                    None if self.stopping.is_none() => {
                        self.discard_queued();
                        return;
                    }
                    None => self.commands_open = false,
                },
                // `None` once the queues are closed and empty
                next = self.receivers.next(), if room && self.queues_open => match next {
                    Some((_, envelope)) => self.start(*envelope, true),
                    None if self.stopping.is_none() => return,
                    None => self.queues_open = false,
                },
                _ = report_tick.tick() => {
                    if room && self.shared.losses.has_pending() {
                        self.send_report();
                    }
                }
            }
        }
    }

    /// The shutdown's next moment came: what is queued is counted as lost; then what is in
    /// flight too, and the client report saying so goes; at the deadline, the task stops.
    /// Whether it is time to stop.
    fn give_up(&mut self) -> bool {
        let Some(stopping) = self.stopping.as_mut() else {
            return true;
        };
        match stopping.phase {
            Phase::Sending => {
                stopping.phase = Phase::Finishing;
                self.discard_queued();
                self.queues_open = false;
                false
            }
            Phase::Finishing => {
                stopping.phase = Phase::Reporting;
                stopping.report_sent = true;
                // a report in flight among them goes back into the pending counts
                self.abandon();
                self.send_report();
                false
            }
            Phase::Reporting => {
                // the report got no answer in time: its counts stay pending
                self.abandon();
                true
            }
        }
    }

    fn command(&mut self, command: Command) {
        match command {
            Command::Flush { target, done } => self.flushes.push((target, done)),
            Command::Shutdown { deadline, done } => {
                self.stopping = Some(Stopping::new(deadline, done));
            }
        }
    }

    fn answer_flushes(&mut self) {
        let settled = self.shared.settled.load(Relaxed);
        self.flushes.retain(|(target, done)| {
            if settled >= *target {
                let _ = done.send(true);
                false
            } else {
                true
            }
        });
    }

    fn stop(&mut self, all_sent: bool) {
        // what was queued after the last look (the queues close first) is lost, and said so
        // before the answer
        let late = self.discard_queued();
        if let Some(stopping) = self.stopping.take() {
            let _ = stopping.done.send(all_sent && late == 0);
        }
        for (_, done) in self.flushes.drain(..) {
            let _ = done.send(all_sent);
        }
    }

    fn send_report(&mut self) {
        if let Some(report) = self.shared.losses.take_report() {
            self.start(report_envelope(report), false);
        }
    }

    fn settle(&self, counted: bool) {
        if counted {
            self.shared.settled.fetch_add(1, Relaxed);
        }
    }

    /// Drops what the rate limits forbid (counted as `ratelimit_backoff`), serialises the
    /// rest and starts its request.
    fn start(&mut self, envelope: Envelope, counted: bool) {
        let now = Instant::now();
        let envelope = {
            let limits = self.shared.limits();
            let limited = |item: &EnvelopeItem| limits.limited_until(category(item), now).is_some();
            if envelope.items().any(limited) {
                retain(
                    envelope,
                    |item| !limited(item),
                    |item| {
                        self.shared
                            .losses
                            .record_item(&item, Reason::RatelimitBackoff);
                    },
                )
            } else {
                Some(envelope)
            }
        };
        let Some(envelope) = envelope else {
            self.settle(counted);
            return;
        };
        let mut body = Vec::with_capacity(4096);
        if let Err(error) = envelope.to_writer(&mut body) {
            self.shared
                .health
                .failed(format!("serialising an envelope: {error}"));
            self.shared
                .losses
                .record_envelope(&envelope, Reason::InternalSdkError);
            self.settle(counted);
            return;
        }
        let sender = self.sender.clone();
        let handle = self.requests.spawn(deliver(sender, Bytes::from(body)));
        self.shared.in_flight.fetch_add(1, Relaxed);
        self.in_flight
            .insert(handle.id(), InFlight { envelope, counted });
    }

    fn finish(&mut self, finished: Result<(Id, Response), tokio::task::JoinError>) {
        let (id, response) = match finished {
            Ok(done) => done,
            Err(error) => (
                error.id(),
                Response {
                    answer: Answer::Network(format!("the request task failed: {error}")),
                    status: 0,
                    retry_after: None,
                    rate_limits: None,
                },
            ),
        };
        // a request given up at the shutdown's deadline was counted then
        let Some(InFlight { envelope, counted }) = self.in_flight.remove(&id) else {
            return;
        };
        self.shared.in_flight.fetch_sub(1, Relaxed);
        self.shared.limits().update(
            Instant::now(),
            response.status,
            response.retry_after.as_deref(),
            response.rate_limits.as_deref(),
        );
        let losses = &self.shared.losses;
        match response.answer {
            Answer::Accepted => self.shared.health.reached(),
            Answer::RateLimited => {
                // Relay counts what it refuses: in the metric only, and our own reports go again
                self.shared.health.reached();
                losses.record_refused(&envelope);
            }
            Answer::Rejected(status) | Answer::ServerError(status) => {
                self.shared
                    .health
                    .failed(format!("the server answered {status}"));
                losses.record_envelope(&envelope, Reason::SendError);
            }
            Answer::Network(error) => {
                self.shared.health.failed(error);
                losses.record_envelope(&envelope, Reason::NetworkError);
            }
        }
        self.settle(counted);
    }

    /// The shutdown's time is up: what is still queued or in flight is lost.
    fn abandon(&mut self) {
        self.discard_queued();
        if !self.in_flight.is_empty() {
            self.shared
                .health
                .failed("no answer before the shutdown deadline");
        }
        let losses = &self.shared.losses;
        for (_, request) in self.in_flight.drain() {
            losses.record_envelope(&request.envelope, Reason::NetworkError);
            if request.counted {
                self.shared.settled.fetch_add(1, Relaxed);
            }
        }
        self.shared.in_flight.store(0, Relaxed);
        self.requests.abort_all();
    }

    /// Closes the queues (the transport's later envelopes are refused and counted there) and
    /// counts what they still hold as lost; how many that was.
    fn discard_queued(&mut self) -> u64 {
        self.receivers.close();
        self.queues_closed = true;
        let mut discarded = 0;
        while let Some((_, envelope)) = self.receivers.try_next() {
            self.shared
                .losses
                .record_envelope(&envelope, Reason::QueueOverflow);
            self.shared.settled.fetch_add(1, Relaxed);
            discarded += 1;
        }
        discarded
    }
}

async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(deadline) => tokio::time::sleep_until(deadline.into()).await,
        None => std::future::pending().await,
    }
}

/// Sends one envelope, retrying network failures and server errors with a growing pause;
/// returns the last answer.
async fn deliver(sender: Sender, body: Bytes) -> Response {
    let mut pause = FIRST_BACKOFF;
    let mut attempt = 1;
    loop {
        let response = sender.send(body.clone()).await;
        let transient = matches!(response.answer, Answer::Network(_) | Answer::ServerError(_));
        if !transient || attempt >= ATTEMPTS {
            return response;
        }
        tokio::time::sleep(pause).await;
        pause *= 4;
        attempt += 1;
    }
}
