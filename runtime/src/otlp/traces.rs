//! Sampled calls as OpenTelemetry spans: the record a finished span leaves, the bounded queue
//! it waits in, and its OTLP form.
//!
//! The Sentry backend holds the trace context (one sampling decision, one trace id for both
//! Sentry and OTLP) and hands each sampled span that ends to [`SpanQueue::push`]: a lock taken
//! for a push onto a ring, nothing else on the call's path. The push thread takes batches off
//! it, encodes them and posts them to the collector's `/v1/traces` (or `TraceService/Export`).
//! Without the `sentry` feature nothing makes spans, and the queue is never made.
#![cfg_attr(not(feature = "sentry"), allow(dead_code))]

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Mutex, PoisonError};
use std::time::{SystemTime, UNIX_EPOCH};

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{any_value, AnyValue, InstrumentationScope, KeyValue};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::{
    span, status, ResourceSpans, ScopeSpans, Span, Status,
};

/// What a span is, as OpenTelemetry says it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// A request served by the HTTP layer.
    Server,
    /// A call to a database (`#[track_database_query]`).
    Client,
    /// Anything else: an endpoint, a hand-made transaction.
    Internal,
}

/// An attribute's value.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Attr {
    Text(String),
    Int(i64),
}

/// One finished span.
#[derive(Debug, Clone)]
pub(crate) struct SpanRecord {
    pub(crate) trace_id: [u8; 16],
    pub(crate) span_id: [u8; 8],
    pub(crate) parent: Option<[u8; 8]>,
    /// Whether the parent is another process's (a continued `traceparent`/`sentry-trace`).
    pub(crate) remote_parent: bool,
    pub(crate) name: String,
    pub(crate) kind: Kind,
    pub(crate) start: SystemTime,
    pub(crate) end: SystemTime,
    /// `Some(message)` for a span that failed.
    pub(crate) error: Option<String>,
    pub(crate) attributes: Vec<(&'static str, Attr)>,
}

/// Why spans were dropped: the label of `ns_otlp_spans_dropped_total`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Dropped {
    /// The queue was full (the collector slower than the calls, or away too long).
    QueueFull,
    /// The collector refused them (a 4xx other than 429), or they still failed at shutdown.
    Rejected,
}

impl Dropped {
    pub(crate) const ALL: [Dropped; 2] = [Dropped::QueueFull, Dropped::Rejected];

    pub(crate) fn name(self) -> &'static str {
        match self {
            Dropped::QueueFull => "queue_full",
            Dropped::Rejected => "rejected",
        }
    }
}

/// Finished spans waiting for the push thread, at most `capacity`.
#[derive(Debug)]
pub(crate) struct SpanQueue {
    waiting: Mutex<VecDeque<SpanRecord>>,
    capacity: usize,
    dropped: [AtomicU64; 2],
}

impl SpanQueue {
    pub(crate) fn new(capacity: usize) -> SpanQueue {
        SpanQueue {
            waiting: Mutex::new(VecDeque::new()),
            capacity,
            dropped: Default::default(),
        }
    }

    /// Queues a finished span; with the queue full, drops it and counts it. Never waits for
    /// the collector.
    pub(crate) fn push(&self, record: SpanRecord) {
        let mut waiting = self.waiting.lock().unwrap_or_else(PoisonError::into_inner);
        if waiting.len() >= self.capacity {
            drop(waiting);
            self.drop_spans(Dropped::QueueFull, 1);
            return;
        }
        waiting.push_back(record);
    }

    /// Up to `n` of the oldest spans.
    pub(crate) fn take(&self, n: usize) -> Vec<SpanRecord> {
        let mut waiting = self.waiting.lock().unwrap_or_else(PoisonError::into_inner);
        let n = n.min(waiting.len());
        waiting.drain(..n).collect()
    }

    /// Puts a batch that could not be sent back at the front, as far as there is room; what
    /// does not fit is dropped and counted.
    pub(crate) fn put_back(&self, batch: Vec<SpanRecord>) {
        let mut waiting = self.waiting.lock().unwrap_or_else(PoisonError::into_inner);
        let room = self.capacity.saturating_sub(waiting.len());
        let lost = batch.len().saturating_sub(room);
        for record in batch.into_iter().take(room).rev() {
            waiting.push_front(record);
        }
        drop(waiting);
        self.drop_spans(Dropped::QueueFull, lost);
    }

    pub(crate) fn len(&self) -> usize {
        self.waiting
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }

    pub(crate) fn drop_spans(&self, why: Dropped, n: usize) {
        if n > 0 {
            self.dropped[why as usize].fetch_add(n as u64, Relaxed);
        }
    }

    pub(crate) fn dropped(&self, why: Dropped) -> u64 {
        self.dropped[why as usize].load(Relaxed)
    }
}

fn nanos(at: SystemTime) -> u64 {
    at.duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
}

fn key_value(key: &str, value: &Attr) -> KeyValue {
    KeyValue {
        key: key.to_owned(),
        value: Some(AnyValue {
            value: Some(match value {
                Attr::Text(text) => any_value::Value::StringValue(text.clone()),
                Attr::Int(n) => any_value::Value::IntValue(*n),
            }),
        }),
        ..KeyValue::default()
    }
}

/// W3C's sampled flag, and that whether the parent is remote is known (OTLP's span flags).
const SAMPLED: u32 = 0x01;
const HAS_IS_REMOTE: u32 = 0x100;
const IS_REMOTE: u32 = 0x200;

fn span(record: &SpanRecord) -> Span {
    Span {
        trace_id: record.trace_id.to_vec(),
        span_id: record.span_id.to_vec(),
        parent_span_id: record.parent.map(|p| p.to_vec()).unwrap_or_default(),
        flags: SAMPLED | HAS_IS_REMOTE | if record.remote_parent { IS_REMOTE } else { 0 },
        name: record.name.clone(),
        kind: match record.kind {
            Kind::Server => span::SpanKind::Server,
            Kind::Client => span::SpanKind::Client,
            Kind::Internal => span::SpanKind::Internal,
        } as i32,
        start_time_unix_nano: nanos(record.start),
        end_time_unix_nano: nanos(record.end),
        attributes: record
            .attributes
            .iter()
            .map(|(key, value)| key_value(key, value))
            .collect(),
        status: record.error.as_ref().map(|message| Status {
            message: message.clone(),
            code: status::StatusCode::Error as i32,
        }),
        ..Span::default()
    }
}

/// One export of `batch`, about `resource`.
pub(crate) fn request(batch: &[SpanRecord], resource: &Resource) -> ExportTraceServiceRequest {
    ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            resource: Some(resource.clone()),
            scope_spans: vec![ScopeSpans {
                scope: Some(InstrumentationScope {
                    name: "kansoku".to_owned(),
                    version: env!("CARGO_PKG_VERSION").to_owned(),
                    ..InstrumentationScope::default()
                }),
                spans: batch.iter().map(span).collect(),
                schema_url: String::new(),
            }],
            schema_url: String::new(),
        }],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(n: u8) -> SpanRecord {
        SpanRecord {
            trace_id: [n; 16],
            span_id: [n; 8],
            parent: None,
            remote_parent: false,
            name: format!("span {n}"),
            kind: Kind::Internal,
            start: SystemTime::now(),
            end: SystemTime::now(),
            error: None,
            attributes: Vec::new(),
        }
    }

    #[test]
    fn a_full_queue_drops_and_counts_and_a_failed_batch_goes_back_first() {
        let queue = SpanQueue::new(3);
        for n in 1..=4 {
            queue.push(record(n));
        }
        assert_eq!(queue.dropped(Dropped::QueueFull), 1);
        let batch = queue.take(2);
        assert_eq!(
            batch.iter().map(|r| r.span_id[0]).collect::<Vec<_>>(),
            [1, 2]
        );
        queue.push(record(5));
        // room for one of the two
        queue.put_back(batch);
        assert_eq!(queue.dropped(Dropped::QueueFull), 2);
        let left: Vec<u8> = queue.take(10).iter().map(|r| r.span_id[0]).collect();
        assert_eq!(left, [1, 3, 5], "the oldest kept");
    }
}
