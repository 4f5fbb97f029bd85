//! The `otlp` backend: every metric family kansoku exports in the Prometheus text — attribute,
//! HTTP, business, health, alert and the backends' own counters — pushed periodically over
//! OTLP/HTTP (protobuf) or OTLP/gRPC to a collector (an OpenTelemetry Collector, Grafana Alloy, a vendor's
//! endpoint), with the same values the text shows.
//!
//! It reads the store at export time, as the Prometheus exporter does at scrape time: no
//! OpenTelemetry instrument and no lookup on a call's path. A push runs on its own thread; a
//! collector that is down, slow or refusing slows no call, and loses nothing: the next push
//! carries the totals (cumulative) or every change since the last accepted push (delta).
//!
//! With the `sentry` feature, sampled calls also go out as spans (the queue of `traces.rs`, filled
//! by the Sentry backend, which keeps the trace context with or without a DSN), batched to the
//! collector's `/v1/traces` by the same thread.
//!
//! Configured by the builder's `otlp_*` setters or the standard environment variables
//! (`OTEL_EXPORTER_OTLP_ENDPOINT`, `_HEADERS`, `_TIMEOUT`, their `_METRICS_` forms,
//! `OTEL_EXPORTER_OTLP_PROTOCOL`, `OTEL_METRIC_EXPORT_INTERVAL`, `OTEL_RESOURCE_ATTRIBUTES`,
//! `OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE`; for spans `OTEL_TRACES_EXPORTER`,
//! `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`, `OTEL_TRACES_SAMPLER` and `_ARG`, `OTEL_BSP_*`).

mod config;
mod encode;
mod push;
pub(crate) mod traces;

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, OnceLock, Weak};
use std::time::{Duration, Instant};

use tokio::sync::{mpsc, oneshot};

use crate::backend::{Backend, BackendHealth, BoxFuture, CounterFamily, HealthCell};
use crate::context::Context;
use crate::error::Error;
use crate::record::Recorder;

pub(crate) use config::OtlpConfig;

/// How counters and histograms are reported over OTLP.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Temporality {
    /// Totals since the process began (what Prometheus and Mimir expect).
    #[default]
    Cumulative,
    /// What changed since the last accepted push (what Datadog and some vendors prefer).
    Delta,
}

/// How the metrics travel to the collector.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Protocol {
    /// OTLP/HTTP, protobuf bodies posted to `…/v1/metrics` (port 4318 by convention).
    #[default]
    HttpProtobuf,
    /// OTLP/gRPC over HTTP/2 (port 4317 by convention); `http://` is HTTP/2 without TLS.
    Grpc,
}

/// Why a push failed: the label of `ns_otlp_exports_failed_total`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Failure {
    Network,
    Timeout,
    Rejected,
    Unavailable,
}

impl Failure {
    const ALL: [Failure; 4] = [
        Failure::Network,
        Failure::Timeout,
        Failure::Rejected,
        Failure::Unavailable,
    ];

    fn name(self) -> &'static str {
        match self {
            Failure::Network => "network",
            Failure::Timeout => "timeout",
            Failure::Rejected => "rejected",
            Failure::Unavailable => "unavailable",
        }
    }
}

/// Failed pushes by reason, written by the push thread, read when the metrics are exported.
#[derive(Debug, Default)]
pub(crate) struct Failures([AtomicU64; 4]);

impl Failures {
    pub(crate) fn note(&self, failure: Failure) {
        self.0[failure as usize].fetch_add(1, Relaxed);
    }
}

/// What the handle asks of the push thread; the thread keeps the deadline (the caller may run
/// on any executor, or none).
enum Command {
    /// Push now; answers whether the collector took it by `deadline`.
    Flush {
        deadline: Instant,
        done: oneshot::Sender<bool>,
    },
    /// Push once more (until `deadline`) and stop.
    Shutdown {
        deadline: Instant,
        done: oneshot::Sender<()>,
    },
}

pub(crate) struct OtlpBackend {
    commands: mpsc::UnboundedSender<Command>,
    /// The telemetry it pushes, set once it exists.
    context: Arc<OnceLock<Weak<Context>>>,
    health: Arc<HealthCell>,
    failures: Arc<Failures>,
    /// Where it pushes (headers, which may hold a key, are never shown).
    target: String,
    shutdown_timeout: Duration,
    /// Sampled spans waiting to be sent, when spans go to the collector too.
    spans: Option<Arc<traces::SpanQueue>>,
}

impl std::fmt::Debug for OtlpBackend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OtlpBackend")
            .field("target", &self.target)
            .finish_non_exhaustive()
    }
}

/// Who the metrics are about: what the resource says besides `OTEL_RESOURCE_ATTRIBUTES`.
pub(crate) struct Identity<'a> {
    pub(crate) namespace: &'a str,
    pub(crate) service_name: Option<&'a str>,
    pub(crate) release: Option<&'a str>,
    pub(crate) environment: Option<&'a str>,
}

/// A URL for logs and health reports: a password in it masked.
fn shown(url: &http::Uri) -> String {
    let text = url.to_string();
    match url.authority().map(http::uri::Authority::as_str) {
        Some(authority) if authority.contains('@') => {
            let host = authority
                .rsplit_once('@')
                .map_or(authority, |(_, host)| host);
            text.replacen(authority, &format!("***@{host}"), 1)
        }
        _ => text,
    }
}

impl OtlpBackend {
    /// Starts the push thread when an endpoint is configured; `None` without one.
    pub(crate) fn start(
        config: &OtlpConfig,
        recorder: Arc<Recorder>,
        identity: &Identity<'_>,
    ) -> Result<Option<Arc<OtlpBackend>>, Error> {
        let Some(settings) = config.settings()? else {
            return Ok(None);
        };
        let context = Arc::new(OnceLock::new());
        let health = Arc::new(HealthCell::default());
        let failures = Arc::new(Failures::default());
        let target = shown(&settings.url);
        let shutdown_timeout = settings.timeout;
        let spans = settings
            .spans
            .as_ref()
            .map(|spans| Arc::new(traces::SpanQueue::new(spans.queue)));
        let pusher = push::Pusher::new(
            settings,
            recorder,
            identity,
            context.clone(),
            health.clone(),
            failures.clone(),
            spans.clone(),
        )?;
        let (commands, receiver) = mpsc::unbounded_channel();
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| Error::Otlp(format!("cannot start the push thread's runtime: {e}")))?;
        std::thread::Builder::new()
            .name("kansoku-otlp".into())
            .spawn(move || runtime.block_on(pusher.run(receiver)))
            .map_err(|e| Error::Otlp(format!("cannot start the push thread: {e}")))?;
        Ok(Some(Arc::new(OtlpBackend {
            commands,
            context,
            health,
            failures,
            target,
            shutdown_timeout,
            spans,
        })))
    }

    /// Where the Sentry backend queues sampled spans, when they go to the collector too.
    #[cfg(feature = "sentry")]
    pub(crate) fn span_queue(&self) -> Option<Arc<traces::SpanQueue>> {
        self.spans.clone()
    }

    /// Pushes now; true when the collector took it within `timeout`.
    async fn push_now(&self, timeout: Duration) -> bool {
        let (done, answer) = oneshot::channel();
        let deadline = Instant::now() + timeout;
        if self
            .commands
            .send(Command::Flush { deadline, done })
            .is_err()
        {
            return false;
        }
        answer.await.unwrap_or(false)
    }
}

impl Backend for OtlpBackend {
    fn health(&self) -> BackendHealth {
        let spans = if self.spans.is_some() {
            " (and sampled spans to its traces endpoint)"
        } else {
            ""
        };
        self.health
            .report("otlp", format!("pushing metrics to {}{spans}", self.target))
    }

    fn attached(&self, context: &Arc<Context>) {
        let _ = self.context.set(Arc::downgrade(context));
    }

    fn flush(self: Arc<Self>, timeout: Duration) -> BoxFuture<bool> {
        Box::pin(async move { self.push_now(timeout).await })
    }

    fn shutdown(self: Arc<Self>) -> BoxFuture<()> {
        Box::pin(async move {
            let (done, stopped) = oneshot::channel();
            let deadline = Instant::now() + self.shutdown_timeout;
            if self
                .commands
                .send(Command::Shutdown { deadline, done })
                .is_ok()
            {
                let _ = stopped.await;
            }
        })
    }

    fn counters(&self) -> Vec<CounterFamily> {
        let spans = self.spans.as_ref().map(|queue| CounterFamily {
            family: crate::names::OTLP_SPANS_DROPPED,
            values: traces::Dropped::ALL
                .iter()
                .map(|why| (vec![why.name()], queue.dropped(*why)))
                .filter(|(_, n)| *n > 0)
                .collect(),
        });
        let mut families = vec![CounterFamily {
            family: crate::names::OTLP_EXPORTS_FAILED,
            values: Failure::ALL
                .iter()
                .map(|failure| {
                    (
                        vec![failure.name()],
                        self.failures.0[*failure as usize].load(Relaxed),
                    )
                })
                .filter(|(_, n)| *n > 0)
                .collect(),
        }];
        families.extend(spans);
        families
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_password_in_the_endpoint_is_not_shown() {
        let url: http::Uri = "https://user:s3cret@otlp.example:4318/v1/metrics"
            .parse()
            .unwrap();
        assert_eq!(
            super::shown(&url),
            "https://***@otlp.example:4318/v1/metrics"
        );
        let url: http::Uri = "http://collector:4318/v1/metrics".parse().unwrap();
        assert_eq!(super::shown(&url), "http://collector:4318/v1/metrics");
    }
}
