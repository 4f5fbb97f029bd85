//! Sampled spans: recorded cheaply on the request's thread, turned into a Sentry transaction on
//! a background thread when the transaction's root finishes.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::sync::{mpsc, Arc, Mutex, PoisonError};
use std::time::{Duration, SystemTime};

use sentry::protocol::{self, SpanId, SpanStatus, TraceContext, TraceId, Value};

use super::call::{random_u64, ScopeData};
use super::SentryBackend;

/// One sampled transaction while it runs.
#[derive(Debug)]
pub(crate) struct TxRecord {
    pub(crate) trace_id: [u8; 16],
    /// The caller's span when the transaction continues an incoming trace.
    remote_parent: Option<[u8; 8]>,
    /// Children that have finished, in Sentry's form.
    spans: Mutex<Vec<protocol::Span>>,
}

/// Where a new child span goes: which transaction, under which span.
#[derive(Debug, Clone)]
pub(crate) struct SpanHandle {
    tx: Arc<TxRecord>,
    span_id: [u8; 8],
}

impl SpanHandle {
    pub(crate) fn child(&self, op: &str, description: Option<Cow<'static, str>>) -> TraceSpan {
        TraceSpan {
            tx: self.tx.clone(),
            span_id: new_span_id(),
            parent: Some(self.span_id),
            name: description.unwrap_or(Cow::Borrowed("")),
            op: Cow::Owned(op.to_owned()),
            start: SystemTime::now(),
            data: BTreeMap::new(),
        }
    }

    /// The id of the trace this span is in.
    pub(crate) fn trace_id(&self) -> [u8; 16] {
        self.tx.trace_id
    }

    pub(crate) fn trace_context(&self) -> TraceContext {
        TraceContext {
            trace_id: TraceId::from(self.tx.trace_id),
            span_id: SpanId::from(self.span_id),
            ..TraceContext::default()
        }
    }
}

fn new_span_id() -> [u8; 8] {
    let id = random_u64().max(1);
    id.to_be_bytes()
}

/// A sampled span in progress: a transaction's root (no parent) or a child.
#[derive(Debug)]
pub(crate) struct TraceSpan {
    tx: Arc<TxRecord>,
    span_id: [u8; 8],
    parent: Option<[u8; 8]>,
    /// The transaction's name (root) or the span's description (child).
    name: Cow<'static, str>,
    op: Cow<'static, str>,
    start: SystemTime,
    data: BTreeMap<String, Value>,
}

/// A finished root, on its way to the background thread.
#[derive(Debug)]
pub(crate) struct Finished {
    root: TraceSpan,
    status: SpanStatus,
    end: SystemTime,
    scope: Option<ScopeData>,
}

impl TraceSpan {
    /// The root of a new transaction: in a new trace, or in the caller's when `incoming`.
    pub(crate) fn root(
        name: Cow<'static, str>,
        op: Cow<'static, str>,
        incoming: Option<&Incoming>,
    ) -> TraceSpan {
        let trace_id = incoming.map_or_else(
            || {
                let mut trace_id = [0; 16];
                trace_id[..8].copy_from_slice(&random_u64().to_be_bytes());
                trace_id[8..].copy_from_slice(&random_u64().to_be_bytes());
                trace_id
            },
            |incoming| incoming.trace_id,
        );
        TraceSpan {
            tx: Arc::new(TxRecord {
                trace_id,
                remote_parent: incoming.map(|incoming| incoming.parent_span_id),
                spans: Mutex::new(Vec::new()),
            }),
            span_id: new_span_id(),
            parent: None,
            name,
            op,
            start: SystemTime::now(),
            data: BTreeMap::new(),
        }
    }

    pub(crate) fn handle(&self) -> SpanHandle {
        SpanHandle {
            tx: self.tx.clone(),
            span_id: self.span_id,
        }
    }

    pub(crate) fn set_data(&mut self, key: &str, value: Value) {
        self.data.insert(key.to_owned(), value);
    }

    /// Ends the span: a child joins its transaction's record; a root sends the transaction.
    pub(crate) fn finish(
        self,
        status: SpanStatus,
        backend: &SentryBackend,
        scope: Option<&ScopeData>,
    ) {
        let end = SystemTime::now();
        match self.parent {
            Some(parent) => {
                let span = protocol::Span {
                    span_id: SpanId::from(self.span_id),
                    trace_id: TraceId::from(self.tx.trace_id),
                    parent_span_id: Some(SpanId::from(parent)),
                    op: Some(self.op.into_owned()),
                    description: (!self.name.is_empty()).then(|| self.name.into_owned()),
                    timestamp: Some(end),
                    start_timestamp: self.start,
                    status: Some(status),
                    data: self.data.into_iter().collect(),
                    ..protocol::Span::default()
                };
                self.tx
                    .spans
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .push(span);
            }
            None => backend.send_transaction(Finished {
                root: self,
                status,
                end,
                scope: scope.cloned(),
            }),
        }
    }
}

/// What the background thread is sent.
#[derive(Debug)]
pub(crate) enum Job {
    /// A transaction to build and hand to the transport.
    Send(Box<Finished>),
    /// Answer once everything sent before has been handed to the transport.
    Flush(mpsc::Sender<()>),
    /// The same, then stop.
    Stop(mpsc::Sender<()>),
}

/// The background thread: builds each finished transaction and hands it to the transport.
///
/// It polls its queue rather than blocking in `recv`, so that a request finishing a sampled
/// transaction never has to wake it (a futex call per transaction, measured by `bench/`). Idle,
/// it polls every 10 ms; busy, every millisecond. With the queue's 8192 places that absorbs a
/// burst of 800,000 sampled transactions a second before any is dropped.
pub(crate) fn run_worker(jobs: &mpsc::Receiver<Job>, client: &sentry::Client) {
    const BUSY: Duration = Duration::from_millis(1);
    const IDLE: Duration = Duration::from_millis(10);
    let mut pause = BUSY;
    loop {
        match jobs.try_recv() {
            Ok(Job::Send(done)) => {
                client.send_envelope(envelope(*done, client));
                pause = BUSY;
            }
            Ok(Job::Flush(done)) => {
                let _ = done.send(());
            }
            Ok(Job::Stop(done)) => {
                let _ = done.send(());
                return;
            }
            Err(mpsc::TryRecvError::Empty) => {
                std::thread::sleep(pause);
                pause = (pause * 2).min(IDLE);
            }
            Err(mpsc::TryRecvError::Disconnected) => return,
        }
    }
}

fn envelope(done: Finished, client: &sentry::Client) -> protocol::Envelope {
    let Finished {
        root,
        status,
        end,
        scope,
    } = done;
    let spans = std::mem::take(&mut *root.tx.spans.lock().unwrap_or_else(PoisonError::into_inner));
    let trace = TraceContext {
        trace_id: TraceId::from(root.tx.trace_id),
        span_id: SpanId::from(root.span_id),
        parent_span_id: root.tx.remote_parent.map(SpanId::from),
        op: Some(root.op.into_owned()),
        status: Some(status),
        data: root.data.into_iter().collect(),
        ..TraceContext::default()
    };
    let options = client.options();
    let mut transaction = protocol::Transaction {
        name: Some(root.name.into_owned()),
        start_timestamp: root.start,
        timestamp: Some(end),
        spans,
        release: options.release.clone(),
        environment: options.environment.clone(),
        server_name: options.server_name.clone(),
        ..protocol::Transaction::default()
    };
    transaction.contexts.insert("trace".into(), trace.into());
    if let Some(scope) = scope {
        transaction.tags.extend(scope.tags);
        transaction.extra.extend(scope.extra);
        transaction.contexts.extend(scope.contexts);
        transaction.user = scope.user;
        transaction.request = scope.request.map(|describe| (describe.0)());
    }
    let mut envelope = protocol::Envelope::new();
    envelope.add_item(transaction);
    envelope
}

/// A trace a caller started, from its `sentry-trace` header: `TRACE_ID-SPAN_ID[-SAMPLED]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Incoming {
    pub(crate) trace_id: [u8; 16],
    pub(crate) parent_span_id: [u8; 8],
    /// The caller's sampling decision, honoured when present.
    pub(crate) sampled: Option<bool>,
}

impl Incoming {
    /// Parses a `sentry-trace` header value; `None` if it is malformed (a new trace starts).
    pub(crate) fn parse(header: &str) -> Option<Incoming> {
        let mut parts = header.trim().split('-');
        let trace_id = hex::<16>(parts.next()?)?;
        let parent_span_id = hex::<8>(parts.next()?)?;
        let sampled = match parts.next() {
            None => None,
            Some("1") => Some(true),
            Some("0") => Some(false),
            Some(_) => return None,
        };
        if parts.next().is_some() || trace_id == [0; 16] || parent_span_id == [0; 8] {
            return None;
        }
        Some(Incoming {
            trace_id,
            parent_span_id,
            sampled,
        })
    }
}

fn hex<const N: usize>(text: &str) -> Option<[u8; N]> {
    if text.len() != 2 * N {
        return None;
    }
    let mut out = [0; N];
    for (byte, pair) in out.iter_mut().zip(text.as_bytes().chunks(2)) {
        let pair = std::str::from_utf8(pair).ok()?;
        *byte = u8::from_str_radix(pair, 16).ok()?;
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::Incoming;

    #[test]
    fn sentry_trace_headers_parse_or_are_refused() {
        let incoming =
            Incoming::parse("771a43a4192642f0b136d5159a501700-a1b2c3d4e5f60718-1").unwrap();
        assert_eq!(incoming.trace_id[0], 0x77);
        assert_eq!(incoming.parent_span_id[7], 0x18);
        assert_eq!(incoming.sampled, Some(true));
        assert_eq!(
            Incoming::parse("771a43a4192642f0b136d5159a501700-a1b2c3d4e5f60718")
                .unwrap()
                .sampled,
            None
        );
        for bad in [
            "",
            "771a43a4192642f0b136d5159a501700",
            "771a43a4192642f0b136d5159a50170-a1b2c3d4e5f60718-1",
            "771a43a4192642f0b136d5159a501700-a1b2c3d4e5f60718-2",
            "zz1a43a4192642f0b136d5159a501700-a1b2c3d4e5f60718-1",
            "00000000000000000000000000000000-a1b2c3d4e5f60718-1",
            "771a43a4192642f0b136d5159a501700-a1b2c3d4e5f60718-1-x",
        ] {
            assert_eq!(Incoming::parse(bad), None, "{bad:?}");
        }
    }
}
