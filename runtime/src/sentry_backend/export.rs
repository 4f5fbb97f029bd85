//! Sampled calls sent on as OpenTelemetry spans (with the `otlp` backend): the part of a
//! sampled call's state that becomes its OTLP span, and the queue it goes to when it ends.
//! Its twin without `otlp` is `no_export.rs`.
//!
//! The trace context is the Sentry backend's: the same sampling decision and the same trace
//! and span ids as the Sentry transaction (and as the `traceparent` sent downstream).

use std::sync::atomic::{AtomicU16, AtomicU8};
use std::sync::{Arc, OnceLock};
use std::time::SystemTime;

use sentry::protocol::SpanStatus;

use super::hub::TraceIds;
use crate::context::Context;
use crate::otlp::traces::{Attr, Kind, SpanQueue, SpanRecord};

/// Where a backend's sampled spans go, once the OTLP backend beside it is known.
#[derive(Debug, Default)]
pub(crate) struct Exporter(OnceLock<Arc<SpanQueue>>);

/// What a sampled call is, for its span's kind and attributes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Role {
    /// A request served by the HTTP layer: its name is `METHOD route`.
    Request,
    /// A database query: `db.*` attributes are added.
    Query,
    Other,
}

/// A sampled call's span as it will go out.
#[derive(Debug)]
pub(crate) struct OutSpan {
    name: String,
    kind: Kind,
    start: SystemTime,
    attributes: Vec<(&'static str, Attr)>,
    /// The response's status code (a request's), 0 until known.
    code: AtomicU16,
    /// A gRPC call's status plus one, 0 until known.
    grpc: AtomicU8,
    /// A text known only at the end (why a streamed body ended early).
    late: OnceLock<(&'static str, &'static str)>,
}

impl Exporter {
    /// Finds the OTLP backend's span queue among the telemetry's backends.
    pub(crate) fn attach(&self, context: &Context) {
        if let Some(queue) = context
            .backend::<crate::otlp::OtlpBackend>()
            .and_then(crate::otlp::OtlpBackend::span_queue)
        {
            let _ = self.0.set(queue);
        }
    }

    /// The span a sampled call named `name` will send, if spans go anywhere.
    #[inline]
    pub(crate) fn open(&self, name: &str, role: Role) -> Option<Box<OutSpan>> {
        self.0.get()?;
        let mut attributes = Vec::new();
        let kind = match role {
            Role::Request => {
                if let Some((method, route)) = name.split_once(' ') {
                    attributes.push(("http.request.method", Attr::Text(method.to_owned())));
                    attributes.push(("http.route", Attr::Text(route.to_owned())));
                }
                Kind::Server
            }
            Role::Query => Kind::Client,
            Role::Other => Kind::Internal,
        };
        Some(Box::new(OutSpan {
            name: name.to_owned(),
            kind,
            start: SystemTime::now(),
            attributes,
            code: AtomicU16::new(0),
            grpc: AtomicU8::new(0),
            late: OnceLock::new(),
        }))
    }

    /// Queues the span of a call that ended with `status`.
    pub(crate) fn close(&self, out: OutSpan, ids: &TraceIds, remote: bool, status: SpanStatus) {
        let Some(queue) = self.0.get() else { return };
        let OutSpan {
            name,
            kind,
            start,
            mut attributes,
            code,
            grpc,
            late,
        } = out;
        if let Some((key, value)) = late.into_inner() {
            attributes.push((key, Attr::Text(value.to_owned())));
        }
        let code = code.into_inner();
        if code != 0 {
            attributes.push(("http.response.status_code", Attr::Int(i64::from(code))));
        }
        let grpc = grpc.into_inner().checked_sub(1);
        if let Some(grpc) = grpc {
            attributes.push(("rpc.system", Attr::Text("grpc".to_owned())));
            attributes.push(("rpc.grpc.status_code", Attr::Int(i64::from(grpc))));
        }
        // a server's 4xx is the client's error, not the span's (OpenTelemetry's HTTP rules);
        // of a gRPC server's statuses, those its RPC rules count as the server's own
        let failed = match status {
            _ if grpc.is_some() && code < 500 => {
                matches!(grpc, Some(2 | 4 | 12 | 13 | 14 | 15))
            }
            SpanStatus::Ok | SpanStatus::Cancelled => false,
            // a 5xx, a panic, a body that failed after its head
            SpanStatus::InternalError => true,
            _ if kind == Kind::Server && code != 0 => code >= 500,
            _ => true,
        };
        queue.push(SpanRecord {
            trace_id: ids.trace_id,
            span_id: ids.span_id,
            parent: ids.parent,
            remote_parent: remote,
            name,
            kind,
            start,
            end: SystemTime::now(),
            error: failed.then(|| status.to_string()),
            attributes,
        });
    }
}

impl OutSpan {
    /// The response's status code, for a request's span.
    #[cfg(feature = "axum")]
    pub(crate) fn set_status_code(&self, code: u16) {
        self.code.store(code, std::sync::atomic::Ordering::Relaxed);
    }

    /// A gRPC call's status, for a request's span.
    #[cfg(feature = "axum")]
    pub(crate) fn set_grpc_status(&self, code: u8) {
        self.grpc
            .store(code.saturating_add(1), std::sync::atomic::Ordering::Relaxed);
    }

    /// A text known only at the end (one).
    #[cfg(feature = "axum")]
    pub(crate) fn set_text(&self, key: &'static str, value: &'static str) {
        let _ = self.late.set((key, value));
    }

    /// An attribute known when the span opens.
    pub(crate) fn add(&mut self, key: &'static str, value: &str) {
        self.attributes.push((key, Attr::Text(value.to_owned())));
    }
}
