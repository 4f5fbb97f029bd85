//! The transport's two bounded queues: error events, which a team needs most in an incident,
//! and everything else (transactions first of all). The sending side never waits: a full queue
//! refuses the envelope at once and the caller counts it as dropped. The receiving side takes
//! errors before anything else whenever both wait.

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

/// The sending side, held by the transport.
#[derive(Debug, Clone)]
pub(crate) struct Queues {
    errors: mpsc::Sender<Box<Envelope>>,
    transactions: mpsc::Sender<Box<Envelope>>,
}

/// The receiving side, held by the sending task.
#[derive(Debug)]
pub(crate) struct Receivers {
    errors: mpsc::Receiver<Box<Envelope>>,
    transactions: mpsc::Receiver<Box<Envelope>>,
}

/// Two queues holding at most `errors` and `transactions` envelopes (each at least 1).
pub(crate) fn bounded(errors: usize, transactions: usize) -> (Queues, Receivers) {
    let (error_tx, error_rx) = mpsc::channel(errors.max(1));
    let (tx_tx, tx_rx) = mpsc::channel(transactions.max(1));
    (
        Queues {
            errors: error_tx,
            transactions: tx_tx,
        },
        Receivers {
            errors: error_rx,
            transactions: tx_rx,
        },
    )
}

impl Queues {
    /// Queues `envelope` in `lane`, or hands it back at once when that queue is full (or the
    /// sending task is gone).
    pub(crate) fn push(&self, lane: Lane, envelope: Envelope) -> Result<(), Box<Envelope>> {
        let queue = match lane {
            Lane::Errors => &self.errors,
            Lane::Transactions => &self.transactions,
        };
        queue
            .try_send(Box::new(envelope))
            .map_err(|error| match error {
                mpsc::error::TrySendError::Full(envelope)
                | mpsc::error::TrySendError::Closed(envelope) => envelope,
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
}

impl Receivers {
    /// The next envelope, errors first; `None` once both queues are closed and empty.
    pub(crate) async fn next(&mut self) -> Option<(Lane, Box<Envelope>)> {
        tokio::select! {
            biased;
            Some(envelope) = self.errors.recv() => Some((Lane::Errors, envelope)),
            Some(envelope) = self.transactions.recv() => Some((Lane::Transactions, envelope)),
            else => None,
        }
    }

    /// The next envelope if one waits now, errors first.
    pub(crate) fn try_next(&mut self) -> Option<(Lane, Box<Envelope>)> {
        if let Ok(envelope) = self.errors.try_recv() {
            return Some((Lane::Errors, envelope));
        }
        self.transactions
            .try_recv()
            .ok()
            .map(|envelope| (Lane::Transactions, envelope))
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
        let (queues, mut receivers) = bounded(10, 10);
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
        let (queues, receivers) = bounded(1, 2);
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
}
