//! The push thread: every interval (and on `flush`), the families of the telemetry encoded and
//! posted to the collector over HTTP/1.1, TLS by rustls with ring, as the Sentry transport does.

use std::sync::{Arc, OnceLock, Weak};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use http::header::{CONTENT_TYPE, USER_AGENT};
use http::{Method, Request, StatusCode};
use http_body_util::{BodyExt as _, Full, Limited};
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use opentelemetry_proto::tonic::resource::v1::Resource;
use prost::Message as _;
use tokio::sync::mpsc;

use super::config::Settings;
use super::encode::{self, Baseline};
use super::traces::{self, Dropped, SpanQueue};
use super::{Command, Failure, Failures, Identity, Protocol, Temporality};
use crate::backend::HealthCell;
use crate::context::Context;
use crate::error::Error;
use crate::record::export;
use crate::record::Recorder;

/// The most of a collector's answer that is read (it is only a status and a short message).
const MAX_ANSWER: usize = 64 * 1024;

fn unix_nanos() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
}

pub(super) struct Pusher {
    client: Client<HttpsConnector<HttpConnector>, Full<Bytes>>,
    settings: Settings,
    /// The store it reads at each push.
    recorder: Arc<Recorder>,
    namespace: String,
    resource: Resource,
    context: Arc<OnceLock<Weak<Context>>>,
    health: Arc<HealthCell>,
    failures: Arc<Failures>,
    /// Unix nanos when it started: the start of every cumulative series.
    start: u64,
    baseline: Baseline,
    /// When to try again after a push that may succeed later (the collector down, busy or
    /// slow), before the next interval: 1 s, doubling up to the interval, or what the
    /// collector's `Retry-After` asks.
    retry: Option<tokio::time::Instant>,
    backoff: Duration,
    /// Whether the last push failed (a warning when pushes start failing, a line when they
    /// recover: not one per push).
    failing: bool,
    /// The sampled spans' queue, when spans go to the collector too.
    spans: Option<Arc<SpanQueue>>,
    /// Whether the last span export failed (said once per outage, as for metrics).
    spans_failing: bool,
}

/// A push that did not go through.
struct Failed {
    failure: Failure,
    why: String,
    /// What the collector asked (`Retry-After` in seconds), if it did.
    retry_after: Option<Duration>,
}

impl Failed {
    fn new(failure: Failure, why: impl Into<String>) -> Failed {
        Failed {
            failure,
            why: why.into(),
            retry_after: None,
        }
    }
}

/// The first wait before trying a failed push again.
const FIRST_BACKOFF: Duration = Duration::from_secs(1);

impl Pusher {
    pub(super) fn new(
        settings: Settings,
        recorder: Arc<Recorder>,
        identity: &Identity<'_>,
        context: Arc<OnceLock<Weak<Context>>>,
        health: Arc<HealthCell>,
        failures: Arc<Failures>,
        spans: Option<Arc<SpanQueue>>,
    ) -> Result<Pusher, Error> {
        let http = crate::https::tcp(settings.timeout);
        let tls = crate::https::tls().map_err(Error::Otlp)?;
        let mut client = Client::builder(TokioExecutor::new());
        client.pool_max_idle_per_host(1);
        let client = match settings.protocol {
            Protocol::HttpProtobuf => client.build(tls.enable_http1().wrap_connector(http)),
            // HTTP/2 only: negotiated by ALPN over TLS, with prior knowledge without it
            Protocol::Grpc => client
                .http2_only(true)
                .build(tls.enable_http2().wrap_connector(http)),
        };
        let start = unix_nanos();
        Ok(Pusher {
            client,
            resource: encode::resource(identity, &settings.resource),
            namespace: identity.namespace.to_owned(),
            settings,
            recorder,
            context,
            health,
            failures,
            start,
            baseline: Baseline::new(start),
            retry: None,
            backoff: FIRST_BACKOFF,
            failing: false,
            spans,
            spans_failing: false,
        })
    }

    pub(super) async fn run(mut self, mut commands: mpsc::UnboundedReceiver<Command>) {
        let mut tick = tokio::time::interval(self.settings.interval);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        tick.tick().await; // the first tick is now: nothing recorded yet
        let span_delay = self
            .settings
            .spans
            .as_ref()
            .map_or(Duration::from_secs(3600), |spans| spans.delay);
        let mut span_tick = tokio::time::interval(span_delay);
        span_tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        span_tick.tick().await;
        // a full batch does not wait for the delay: the queue is looked at this often
        let mut span_poll = tokio::time::interval(Duration::from_millis(100).min(span_delay));
        span_poll.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            let retry = self.retry;
            tokio::select! {
                _ = span_tick.tick(), if self.spans.is_some() => {
                    let deadline = Instant::now() + self.settings.timeout;
                    self.push_spans(deadline, false).await;
                }
                // (a guard would be read only when the loop comes round: the poll itself looks)
                _ = span_poll.tick(), if self.spans.is_some() => {
                    if self.batch_ready() {
                        let deadline = Instant::now() + self.settings.timeout;
                        self.push_spans(deadline, false).await;
                    }
                }
                _ = tick.tick() => {
                    let deadline = Instant::now() + self.settings.timeout;
                    self.push(deadline).await;
                }
                () = sleep_until_some(retry) => {
                    let deadline = Instant::now() + self.settings.timeout;
                    self.push(deadline).await;
                }
                command = commands.recv() => match command {
                    Some(Command::Flush { deadline, done }) => {
                        let spans = self.push_spans(deadline, false).await;
                        let metrics = self.push(deadline).await;
                        let _ = done.send(metrics && spans);
                    }
                    Some(Command::Shutdown { deadline, done }) => {
                        self.push_spans(deadline, true).await;
                        self.push(deadline).await;
                        let _ = done.send(());
                        return;
                    }
                    // the handle is gone without a shutdown: nothing more to push to
                    None => return,
                },
            }
        }
    }

    /// One push of every family, by `deadline` and within the push timeout; true when the
    /// collector took it.
    async fn push(&mut self, deadline: Instant) -> bool {
        let deadline = deadline.min(Instant::now() + self.settings.timeout);
        let mut families = export::families(&self.recorder.snapshot(), &self.namespace);
        // the backends' own counters (this one's included), while the telemetry lives
        if let Some(context) = self.context.get().and_then(Weak::upgrade) {
            families.extend(export::backend_counters(&context));
        }
        let push = encode::push(
            &families,
            &self.namespace,
            &self.resource,
            self.settings.temporality,
            self.start,
            &self.baseline,
            unix_nanos(),
        );
        let body = Bytes::from(push.request.encode_to_vec());
        let url = self.settings.url.clone();
        match self.send(&url, body, deadline).await {
            Ok(()) => {
                self.health.reached();
                if self.settings.temporality == Temporality::Delta {
                    self.baseline = push.accepted;
                }
                self.retry = None;
                self.backoff = FIRST_BACKOFF;
                if std::mem::take(&mut self.failing) {
                    tracing::info!(url = %self.settings.url, "kansoku: OTLP pushes go through again");
                }
                true
            }
            Err(failed) => {
                self.failed(failed);
                false
            }
        }
    }

    /// Counts a failed push, says so once per outage, and plans an early retry when one may
    /// succeed (nothing is lost meanwhile: the next push carries it).
    fn failed(&mut self, failed: Failed) {
        let Failed {
            failure,
            why,
            retry_after,
        } = failed;
        self.failures.note(failure);
        self.health
            .failed(format_args!("pushing to {}: {why}", self.settings.url));
        if !std::mem::replace(&mut self.failing, true) {
            tracing::warn!(
                url = %self.settings.url,
                "kansoku: OTLP push failed ({why}); retrying, nothing is lost meanwhile"
            );
        }
        if failure == Failure::Rejected {
            // the same push would be refused again: the next interval's
            self.retry = None;
            return;
        }
        let wait = retry_after
            .unwrap_or(self.backoff)
            .min(self.settings.interval);
        self.retry = Some(tokio::time::Instant::now() + wait);
        self.backoff = (self.backoff * 2).min(self.settings.interval);
    }

    /// Whether a whole batch of spans is waiting.
    fn batch_ready(&self) -> bool {
        match (&self.spans, &self.settings.spans) {
            (Some(queue), Some(settings)) => queue.len() >= settings.batch,
            _ => false,
        }
    }

    /// Sends every queued span, a batch per export, by `deadline`; true when all went
    /// through (or there were none). A batch that fails for a while (the collector down, busy
    /// or slow) goes back to the front of the queue for the next try, as far as the queue
    /// holds it; one the collector refuses, or any left at `last` (the shutdown), is dropped
    /// and counted.
    async fn push_spans(&mut self, deadline: Instant, last: bool) -> bool {
        let (Some(queue), Some(settings)) = (self.spans.clone(), self.settings.spans.clone())
        else {
            return true;
        };
        let deadline = deadline.min(Instant::now() + self.settings.timeout);
        loop {
            let batch = queue.take(settings.batch);
            if batch.is_empty() {
                return true;
            }
            let body = Bytes::from(traces::request(&batch, &self.resource).encode_to_vec());
            match self.send(&settings.url, body, deadline).await {
                Ok(()) => {
                    if std::mem::take(&mut self.spans_failing) {
                        tracing::info!(url = %settings.url, "kansoku: OTLP span exports go through again");
                    }
                }
                Err(failed) => {
                    self.failures.note(failed.failure);
                    if !std::mem::replace(&mut self.spans_failing, true) {
                        tracing::warn!(
                            url = %settings.url,
                            "kansoku: OTLP span export failed ({}); the spans wait in the queue for the next try",
                            failed.why
                        );
                    }
                    if failed.failure == Failure::Rejected || last {
                        queue.drop_spans(Dropped::Rejected, batch.len());
                        if last {
                            // what is still queued will not be sent either
                            let rest = queue.take(usize::MAX).len();
                            queue.drop_spans(Dropped::Rejected, rest);
                        }
                    } else {
                        queue.put_back(batch);
                    }
                    return false;
                }
            }
        }
    }

    /// One exchange with the collector, given up (as a timeout) at `deadline`.
    async fn send(&self, url: &http::Uri, body: Bytes, deadline: Instant) -> Result<(), Failed> {
        tokio::time::timeout_at(deadline.into(), self.exchange(url, body))
            .await
            .unwrap_or_else(|_| {
                Err(Failed::new(
                    Failure::Timeout,
                    format!("no answer within {:?}", self.settings.timeout),
                ))
            })
    }

    async fn exchange(&self, url: &http::Uri, message: Bytes) -> Result<(), Failed> {
        let (content_type, body) = match self.settings.protocol {
            Protocol::HttpProtobuf => ("application/x-protobuf", message),
            Protocol::Grpc => ("application/grpc", grpc_frame(&message)),
        };
        let mut request = Request::builder()
            .method(Method::POST)
            .uri(url.clone())
            .header(CONTENT_TYPE, content_type)
            .header(USER_AGENT, concat!("kansoku/", env!("CARGO_PKG_VERSION")));
        if self.settings.protocol == Protocol::Grpc {
            request = request.header("te", "trailers");
        }
        for (name, value) in &self.settings.headers {
            request = request.header(name, value);
        }
        let request = request
            .body(Full::new(body))
            .map_err(|e| Failed::new(Failure::Network, e.to_string()))?;
        let response = self
            .client
            .request(request)
            .await
            .map_err(|e| Failed::new(Failure::Network, crate::https::describe(&e)))?;
        let (head, body) = response.into_parts();
        // read the answer whole (bounded), so the connection goes back to the pool
        let answer = Limited::new(body, MAX_ANSWER).collect().await.ok();
        if head.status.is_success() && self.settings.protocol == Protocol::Grpc {
            // gRPC says how the call went in `grpc-status`: in the trailers, or in the head
            // of a trailers-only answer
            let trailers = answer
                .as_ref()
                .and_then(http_body_util::Collected::trailers);
            let field = |name: &str| {
                trailers
                    .and_then(|t| t.get(name))
                    .or_else(|| head.headers.get(name))
                    .and_then(|value| value.to_str().ok())
            };
            return match field("grpc-status").map(str::trim) {
                Some("0") => Ok(()),
                Some(code) => {
                    let message = field("grpc-message").unwrap_or_default();
                    // UNAVAILABLE, RESOURCE_EXHAUSTED, DEADLINE_EXCEEDED, ABORTED: try again later
                    let failure = if matches!(code, "14" | "8" | "4" | "10") {
                        Failure::Unavailable
                    } else {
                        Failure::Rejected
                    };
                    Err(Failed::new(
                        failure,
                        format!("grpc-status {code} {message}").trim(),
                    ))
                }
                None => Err(Failed::new(
                    Failure::Rejected,
                    "an answer without grpc-status",
                )),
            };
        }
        if head.status.is_success() {
            return Ok(());
        }
        let text = answer
            .map(http_body_util::Collected::to_bytes)
            .unwrap_or_default();
        let why = format!(
            "answered {}{}",
            head.status,
            std::str::from_utf8(&text)
                .ok()
                .filter(|text| !text.trim().is_empty() && text.len() < 300)
                .map(|text| format!(": {}", text.trim()))
                .unwrap_or_default()
        );
        let failure = match head.status {
            StatusCode::TOO_MANY_REQUESTS
            | StatusCode::BAD_GATEWAY
            | StatusCode::SERVICE_UNAVAILABLE
            | StatusCode::GATEWAY_TIMEOUT => Failure::Unavailable,
            status if status.is_server_error() => Failure::Unavailable,
            _ => Failure::Rejected,
        };
        let retry_after = head
            .headers
            .get(http::header::RETRY_AFTER)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.trim().parse::<u64>().ok())
            .map(Duration::from_secs);
        Err(Failed {
            failure,
            why,
            retry_after,
        })
    }
}

/// Waits until `at`, or forever without one.
async fn sleep_until_some(at: Option<tokio::time::Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

/// A gRPC message: not compressed (0), its length (big-endian), the message.
fn grpc_frame(message: &[u8]) -> Bytes {
    let mut frame = Vec::with_capacity(5 + message.len());
    frame.push(0);
    frame.extend_from_slice(
        &u32::try_from(message.len())
            .unwrap_or(u32::MAX)
            .to_be_bytes(),
    );
    frame.extend_from_slice(message);
    Bytes::from(frame)
}
