//! The transport's two bounded queues: error events, which a team needs most in an incident,
//! and everything else (transactions first of all). Each is bounded in envelopes and in
//! (estimated) bytes. The sending side never waits: a full queue
//! refuses the envelope at once and the caller counts it as dropped. The receiving side takes
//! errors before anything else whenever both wait.

use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
use std::sync::Arc;

use sentry::protocol::{Envelope, EnvelopeItem};
use tokio::sync::mpsc;

/// Which queue an envelope waits in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Lane {
    /// Envelopes carrying an error or message event (and kansoku's own client reports).
    Errors,
    /// Transactions and every other kind of item.
    Transactions,
}

impl Lane {
    /// The lane of `envelope`: errors when it carries an event, or when it can not be read
    /// (a raw envelope the application built itself: better sent first than lost).
    pub(crate) fn of(envelope: &Envelope) -> Lane {
        let mut items = envelope.items().peekable();
        if items.peek().is_none() {
            return Lane::Errors;
        }
        if items.any(|item| {
            matches!(
                item,
                EnvelopeItem::Event(_) | EnvelopeItem::ClientReport(_) | EnvelopeItem::Raw
            )
        }) {
            Lane::Errors
        } else {
            Lane::Transactions
        }
    }
}

/// An envelope waiting, with what it was estimated to weigh when queued.
type Waiting = (Box<Envelope>, usize);

/// The bytes waiting in each lane (estimated, [`super::size`]) and each lane's bound in bytes.
#[derive(Debug)]
struct Weights {
    waiting: [AtomicUsize; 2],
    bounds: [usize; 2],
}

impl Weights {
    fn slot(lane: Lane) -> usize {
        match lane {
            Lane::Errors => 0,
            Lane::Transactions => 1,
        }
    }

    /// Takes `bytes` of `lane`'s room; false (nothing taken) when they do not fit. An envelope
    /// alone in its queue always fits, so that one bigger than the bound is still sent.
    fn take(&self, lane: Lane, bytes: usize) -> bool {
        let (waiting, bound) = (
            &self.waiting[Self::slot(lane)],
            self.bounds[Self::slot(lane)],
        );
        waiting
            .fetch_update(Relaxed, Relaxed, |now| {
                (now == 0 || now.saturating_add(bytes) <= bound).then(|| now + bytes)
            })
            .is_ok()
    }

    fn give_back(&self, lane: Lane, bytes: usize) {
        self.waiting[Self::slot(lane)].fetch_sub(bytes, Relaxed);
    }
}

/// The sending side, held by the transport.
#[derive(Debug, Clone)]
pub(crate) struct Queues {
    errors: mpsc::Sender<Waiting>,
    transactions: mpsc::Sender<Waiting>,
    weights: Arc<Weights>,
}

/// The receiving side, held by the sending task.
#[derive(Debug)]
pub(crate) struct Receivers {
    errors: mpsc::Receiver<Waiting>,
    transactions: mpsc::Receiver<Waiting>,
    weights: Arc<Weights>,
}

/// How much each queue holds: envelopes (each at least 1) and their estimated bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Bounds {
    pub(crate) errors: usize,
    pub(crate) transactions: usize,
    pub(crate) error_bytes: usize,
    pub(crate) transaction_bytes: usize,
}

/// Two queues within `bounds`.
pub(crate) fn bounded(bounds: Bounds) -> (Queues, Receivers) {
    let (error_tx, error_rx) = mpsc::channel(bounds.errors.max(1));
    let (tx_tx, tx_rx) = mpsc::channel(bounds.transactions.max(1));
    let weights = Arc::new(Weights {
        waiting: [AtomicUsize::new(0), AtomicUsize::new(0)],
        bounds: [bounds.error_bytes, bounds.transaction_bytes],
    });
    (
        Queues {
            errors: error_tx,
            transactions: tx_tx,
            weights: weights.clone(),
        },
        Receivers {
            errors: error_rx,
            transactions: tx_rx,
            weights,
        },
    )
}

impl Queues {
    /// Queues `envelope` in `lane`, or hands it back at once when that queue is full, in
    /// envelopes or in bytes (or the sending task is gone).
    pub(crate) fn push(&self, lane: Lane, envelope: Envelope) -> Result<(), Box<Envelope>> {
        let queue = match lane {
            Lane::Errors => &self.errors,
            Lane::Transactions => &self.transactions,
        };
        let bytes = super::size::of(&envelope);
        if !self.weights.take(lane, bytes) {
            return Err(Box::new(envelope));
        }
        queue
            .try_send((Box::new(envelope), bytes))
            .map_err(|error| {
                self.weights.give_back(lane, bytes);
                match error {
                    mpsc::error::TrySendError::Full((envelope, _))
                    | mpsc::error::TrySendError::Closed((envelope, _)) => envelope,
                }
            })
    }

    /// How many envelopes wait in each queue, and each queue's bound.
    pub(crate) fn depths(&self) -> [(usize, usize); 2] {
        [&self.errors, &self.transactions].map(|queue| {
            (
                queue.max_capacity() - queue.capacity(),
                queue.max_capacity(),
            )
        })
    }

    /// The estimated bytes waiting in each queue, and each queue's bound in bytes.
    pub(crate) fn weights(&self) -> [(usize, usize); 2] {
        [0, 1].map(|slot| {
            (
                self.weights.waiting[slot].load(Relaxed),
                self.weights.bounds[slot],
            )
        })
    }
}

impl Receivers {
    fn taken(&self, lane: Lane, (envelope, bytes): Waiting) -> (Lane, Box<Envelope>) {
        self.weights.give_back(lane, bytes);
        (lane, envelope)
    }

    /// The next envelope, errors first; `None` once both queues are closed and empty.
    pub(crate) async fn next(&mut self) -> Option<(Lane, Box<Envelope>)> {
        let (lane, waiting) = tokio::select! {
            biased;
            Some(waiting) = self.errors.recv() => (Lane::Errors, waiting),
            Some(waiting) = self.transactions.recv() => (Lane::Transactions, waiting),
            else => return None,
        };
        Some(self.taken(lane, waiting))
    }

    /// The next envelope if one waits now, errors first.
    pub(crate) fn try_next(&mut self) -> Option<(Lane, Box<Envelope>)> {
        if let Ok(waiting) = self.errors.try_recv() {
            return Some(self.taken(Lane::Errors, waiting));
        }
        let waiting = self.transactions.try_recv().ok()?;
        Some(self.taken(Lane::Transactions, waiting))
    }

    /// Refuses every later envelope; those queued already can still be taken.
    pub(crate) fn close(&mut self) {
        self.errors.close();
        self.transactions.close();
    }

    /// Whether both queues are empty now.
    pub(crate) fn is_empty(&self) -> bool {
        self.errors.is_empty() && self.transactions.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sentry::protocol::{Event, Transaction};

    fn counts(errors: usize, transactions: usize) -> Bounds {
        Bounds {
            errors,
            transactions,
            error_bytes: usize::MAX,
            transaction_bytes: usize::MAX,
        }
    }

    fn error(message: &str) -> Envelope {
        let mut envelope = Envelope::new();
        envelope.add_item(Event {
            message: Some(message.to_owned()),
            ..Event::default()
        });
        envelope
    }

    fn transaction(name: &str) -> Envelope {
        let mut envelope = Envelope::new();
        envelope.add_item(Transaction {
            name: Some(name.to_owned()),
            ..Transaction::default()
        });
        envelope
    }

    fn name(envelope: &Envelope) -> String {
        match envelope.items().next() {
            Some(EnvelopeItem::Event(event)) => event.message.clone().unwrap(),
            Some(EnvelopeItem::Transaction(tx)) => tx.name.clone().unwrap(),
            other => panic!("unexpected item {other:?}"),
        }
    }

    #[test]
    fn errors_leave_before_transactions_each_in_arrival_order() {
        let (queues, mut receivers) = bounded(counts(10, 10));
        for envelope in [
            transaction("t1"),
            error("e1"),
            transaction("t2"),
            error("e2"),
        ] {
            queues.push(Lane::of(&envelope), envelope).unwrap();
        }
        let mut order = Vec::new();
        while let Some((_, envelope)) = receivers.try_next() {
            order.push(name(&envelope));
        }
        assert_eq!(order, ["e1", "e2", "t1", "t2"]);

        // the async side keeps the same order
        queues.push(Lane::Transactions, transaction("t3")).unwrap();
        queues.push(Lane::Errors, error("e3")).unwrap();
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let (lane, first) = runtime.block_on(receivers.next()).unwrap();
        assert_eq!((lane, name(&first).as_str()), (Lane::Errors, "e3"));
        let (lane, second) = runtime.block_on(receivers.next()).unwrap();
        assert_eq!((lane, name(&second).as_str()), (Lane::Transactions, "t3"));
    }

    #[test]
    fn a_full_queue_refuses_at_once_and_leaves_the_other_open() {
        let (queues, receivers) = bounded(counts(1, 2));
        queues.push(Lane::Transactions, transaction("t1")).unwrap();
        queues.push(Lane::Transactions, transaction("t2")).unwrap();
        let refused = queues
            .push(Lane::Transactions, transaction("t3"))
            .unwrap_err();
        assert_eq!(name(&refused), "t3");
        queues.push(Lane::Errors, error("e1")).unwrap();
        assert!(queues.push(Lane::Errors, error("e2")).is_err());
        assert_eq!(queues.depths(), [(1, 1), (2, 2)]);
        assert!(!receivers.is_empty());
    }

    #[test]
    fn a_queue_full_in_bytes_refuses_and_makes_room_as_it_drains() {
        let (queues, mut receivers) = bounded(Bounds {
            errors: 100,
            transactions: 100,
            error_bytes: 12_000,
            transaction_bytes: 12_000,
        });
        let big = |name: &str| {
            let mut envelope = Envelope::new();
            envelope.add_item(Transaction {
                name: Some(format!("{name}{}", "x".repeat(4000))),
                ..Transaction::default()
            });
            envelope
        };
        queues.push(Lane::Transactions, big("t1")).unwrap();
        queues.push(Lane::Transactions, big("t2")).unwrap();
        assert!(
            queues.push(Lane::Transactions, big("t3")).is_err(),
            "past 12,000 bytes"
        );
        // the other lane has its own room
        queues.push(Lane::Errors, error("e1")).unwrap();
        let [_, (waiting, bound)] = queues.weights();
        assert!(waiting > 8000 && waiting <= bound, "{waiting}");
        receivers.try_next().unwrap();
        receivers.try_next().unwrap();
        queues.push(Lane::Transactions, big("t4")).unwrap();
        // alone in its queue, an envelope bigger than the bound still goes
        while receivers.try_next().is_some() {}
        assert_eq!(queues.weights()[1].0, 0);
        let mut huge = Envelope::new();
        huge.add_item(Transaction {
            name: Some("x".repeat(50_000)),
            ..Transaction::default()
        });
        queues.push(Lane::Transactions, huge).unwrap();
    }
}
