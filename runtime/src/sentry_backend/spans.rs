//! The span thread: where a sampled root's finished transaction is built and handed to the
//! transport, off the request's path; and what a flush or the shutdown waits for there.
//!
//! Every transaction queued here is accounted for: it is handed to the client, or counted as
//! lost (`queue_overflow`: the queue was full, the shutdown's deadline passed first, or the
//! client was closed before it was built). Two counters say how far the thread is, so a flush
//! waits for exactly what was queued before it and the health report shows what is still
//! being assembled.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

use super::trace::Finished;
use super::transport::{self, Category, Losses, Reason};

/// Finished transactions waiting for the thread; beyond this they are dropped (counted as
/// `queue_overflow` transactions) rather than slowing requests down. The thread empties it far
/// faster than requests fill it, except in a burst of sampled calls.
const QUEUE: usize = 8192;

/// A counter on a cache line of its own (two: x86 prefetches lines in pairs), so that the
/// requests counting what they queue and the thread counting what it settled do not share one.
#[repr(align(128))]
#[derive(Debug, Default)]
struct Padded(AtomicU64);

/// How far the thread is, shared with it.
#[derive(Debug, Default)]
struct Progress {
    /// Transactions given to [`Spans::send`].
    queued: Padded,
    /// Of those, the ones handed to the client or counted as lost.
    settled: Padded,
    /// The shutdown's deadline passed: what is left is counted as lost, not built.
    give_up: AtomicBool,
    /// The shutdown is over: the thread waits for work instead of polling for it.
    stopped: AtomicBool,
}

/// The span thread of one backend and its queue.
#[derive(Debug)]
pub(crate) struct Spans {
    jobs: mpsc::SyncSender<Box<Finished>>,
    progress: Arc<Progress>,
    losses: Arc<Losses>,
}

impl Spans {
    /// Starts the thread. `watched`: the client sends through kansoku's transport, which says
    /// when an envelope reaches it (so that one the client drops, being closed, is counted).
    pub(crate) fn start(
        client: Arc<sentry::Client>,
        losses: Arc<Losses>,
        watched: bool,
    ) -> std::io::Result<Spans> {
        let (jobs, receiver) = mpsc::sync_channel(QUEUE);
        let progress = Arc::new(Progress::default());
        let assembler = Assembler {
            jobs: receiver,
            client,
            losses: losses.clone(),
            progress: progress.clone(),
            watched,
        };
        std::thread::Builder::new()
            .name("kansoku-sentry".into())
            .spawn(move || assembler.run())?;
        Ok(Spans {
            jobs,
            progress,
            losses,
        })
    }

    /// Queues a finished transaction; with the queue full, drops it and counts it. Never
    /// waits, and wakes no thread.
    pub(crate) fn send(&self, finished: Finished) {
        // counted first, so that a flush starting once this call has ended waits for it
        self.progress.queued.0.fetch_add(1, Ordering::SeqCst);
        if self.jobs.try_send(Box::new(finished)).is_err() {
            lost(&self.losses, &self.progress);
        }
    }

    /// Transactions queued and not yet handed over nor counted.
    pub(crate) fn pending(&self) -> u64 {
        let settled = self.progress.settled.0.load(Ordering::SeqCst);
        self.progress
            .queued
            .0
            .load(Ordering::SeqCst)
            .saturating_sub(settled)
    }

    /// Waits, at most until `deadline`, until every transaction queued before this call is
    /// handed over or counted. Nothing is given up: what is left goes on.
    pub(crate) fn drain(&self, deadline: Instant) -> bool {
        let target = self.progress.queued.0.load(Ordering::SeqCst);
        loop {
            if self.progress.settled.0.load(Ordering::SeqCst) >= target {
                return true;
            }
            let now = Instant::now();
            if now >= deadline {
                return false;
            }
            // the thread polls its queue every millisecond while busy: as often here
            std::thread::sleep(Duration::from_millis(1).min(deadline - now));
        }
    }

    /// The shutdown: waits until `give_up` as [`Self::drain`] does; if the thread is not done
    /// by then and `discard` is set (the client is about to close), what is left is counted as
    /// lost instead of built, and that is waited for until `deadline`. The thread then waits
    /// for work rather than polling; transactions finished later still go through it.
    /// Whether everything was handed over.
    pub(crate) fn stop(&self, give_up: Instant, deadline: Instant, discard: bool) -> bool {
        let handed = self.drain(give_up);
        if !handed && discard {
            self.progress.give_up.store(true, Ordering::SeqCst);
            self.drain(deadline);
        }
        self.progress.stopped.store(true, Ordering::SeqCst);
        handed
    }
}

impl transport::Upstream for Spans {
    fn drain(&self, deadline: Instant) -> bool {
        Spans::drain(self, deadline)
    }
}

/// One transaction lost before it reached the client: counted as the client would (the
/// transaction and its root span, not its child spans one by one), and settled.
fn lost(losses: &Losses, progress: &Progress) {
    losses.record(Category::Transaction, Reason::QueueOverflow, 1);
    losses.record(Category::Span, Reason::QueueOverflow, 1);
    progress.settled.0.fetch_add(1, Ordering::SeqCst);
}

/// The thread's side.
struct Assembler {
    jobs: mpsc::Receiver<Box<Finished>>,
    client: Arc<sentry::Client>,
    losses: Arc<Losses>,
    progress: Arc<Progress>,
    watched: bool,
}

impl Assembler {
    /// Builds each finished transaction and hands it to the client, until the backend is gone.
    ///
    /// It polls its queue rather than blocking in `recv`, so that a request finishing a sampled
    /// transaction never has to wake it (a futex call per transaction, measured by `bench/`).
    /// Idle, it polls every 10 ms; busy, every millisecond. With the queue's 8192 places that
    /// absorbs a burst of 800,000 sampled transactions a second before any is dropped. Once
    /// the shutdown is over it blocks in `recv` instead, costing nothing while idle.
    fn run(self) {
        const BUSY: Duration = Duration::from_millis(1);
        const IDLE: Duration = Duration::from_millis(10);
        let mut pause = BUSY;
        loop {
            match self.jobs.try_recv() {
                Ok(finished) => {
                    self.settle(*finished);
                    pause = BUSY;
                }
                Err(mpsc::TryRecvError::Empty) if self.progress.stopped.load(Ordering::SeqCst) => {
                    break;
                }
                Err(mpsc::TryRecvError::Empty) => {
                    std::thread::sleep(pause);
                    pause = (pause * 2).min(IDLE);
                }
                Err(mpsc::TryRecvError::Disconnected) => return,
            }
        }
        // every later transaction is still settled, until the backend drops its sender
        while let Ok(finished) = self.jobs.recv() {
            self.settle(*finished);
        }
    }

    fn settle(&self, finished: Finished) {
        if self.progress.give_up.load(Ordering::SeqCst) {
            lost(&self.losses, &self.progress);
            return;
        }
        transport::watch_handover();
        finished.send();
        // a closed client drops what it is given without a word: count it (a client that
        // decided not to send it, sampling it out, counted that itself and is still open)
        if self.watched && !transport::handed_over() && !self.client.is_enabled() {
            lost(&self.losses, &self.progress);
        } else {
            self.progress.settled.0.fetch_add(1, Ordering::SeqCst);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    /// A transport keeping what it is sent.
    #[derive(Default)]
    struct Kept(Mutex<usize>);

    impl sentry::Transport for Kept {
        fn send_envelope(&self, envelope: sentry::Envelope) {
            if envelope.items().next().is_some() {
                *self.0.lock().unwrap() += 1;
            }
        }
    }

    fn client(transport: Arc<dyn sentry::Transport>) -> Arc<sentry::Client> {
        let transport = move |_: &sentry::ClientOptions| transport.clone();
        Arc::new(sentry::Client::with_options(
            sentry::ClientOptions::new()
                .dsn("http://public@127.0.0.1:9/1")
                .traces_sample_rate(1.0)
                .transport(transport),
        ))
    }

    fn finished(client: &Arc<sentry::Client>) -> Finished {
        let hub = Arc::new(sentry::Hub::new(Some(client.clone()), Arc::default()));
        let transaction =
            hub.start_transaction(sentry::TransactionContext::new("POST /checkout", "test"));
        Finished {
            transaction,
            hub,
            end: std::time::SystemTime::now(),
            request: None,
        }
    }

    fn lost_transactions(losses: &Losses) -> u64 {
        losses
            .totals()
            .into_iter()
            .filter(|(category, _, _)| *category == Category::Transaction)
            .map(|(_, _, n)| n)
            .sum()
    }

    #[test]
    fn a_transaction_for_a_closed_client_is_counted_not_dropped_without_a_word() {
        let kept = Arc::new(Kept::default());
        let client = client(kept.clone());
        let losses = Arc::new(Losses::default());
        let spans = Spans::start(client.clone(), losses.clone(), true).unwrap();
        let late = finished(&client);
        assert!(client.close(Some(Duration::from_secs(1))));
        spans.send(late);
        assert!(spans.drain(Instant::now() + Duration::from_secs(10)));
        assert_eq!(spans.pending(), 0);
        assert_eq!(*kept.0.lock().unwrap(), 0);
        assert_eq!(lost_transactions(&losses), 1, "{losses:?}");
    }

    #[test]
    fn a_flush_waits_for_what_was_queued_and_a_stop_gives_up_none_unaccounted() {
        let kept = Arc::new(Kept::default());
        let client = client(kept.clone());
        let losses = Arc::new(Losses::default());
        // not watched: `Kept` is not kansoku's transport, and this client stays open
        let spans = Spans::start(client.clone(), losses.clone(), false).unwrap();
        for _ in 0..500 {
            spans.send(finished(&client));
        }
        assert!(spans.drain(Instant::now() + Duration::from_secs(30)));
        assert_eq!(*kept.0.lock().unwrap(), 500);

        // the stop's time is up at once: what the thread has not built yet is counted instead
        for _ in 0..2000 {
            spans.send(finished(&client));
        }
        let now = Instant::now();
        spans.stop(now, now + Duration::from_secs(30), true);
        assert_eq!(spans.pending(), 0);
        let built = *kept.0.lock().unwrap() as u64;
        assert_eq!(built - 500 + lost_transactions(&losses), 2000, "{losses:?}");

        // after the stop, a late one is still settled (given up too)
        spans.send(finished(&client));
        assert!(spans.drain(Instant::now() + Duration::from_secs(10)));
        assert_eq!(built - 500 + lost_transactions(&losses), 2001, "{losses:?}");
    }
}
