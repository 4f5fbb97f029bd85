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
        })
    }

    pub(super) async fn run(mut self, mut commands: mpsc::UnboundedReceiver<Command>) {
        let mut tick = tokio::time::interval(self.settings.interval);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        tick.tick().await; // the first tick is now: nothing recorded yet
        loop {
            let retry = self.retry;
            tokio::select! {
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
                        let _ = done.send(self.push(deadline).await);
                    }
                    Some(Command::Shutdown { deadline, done }) => {
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
        let outcome = match tokio::time::timeout_at(deadline.into(), self.exchange(body)).await {
            Ok(outcome) => outcome,
            Err(_) => Err(Failed::new(
                Failure::Timeout,
                format!("no answer within {:?}", self.settings.timeout),
            )),
        };
        match outcome {
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

    async fn exchange(&self, message: Bytes) -> Result<(), Failed> {
        let (content_type, body) = match self.settings.protocol {
            Protocol::HttpProtobuf => ("application/x-protobuf", message),
            Protocol::Grpc => ("application/grpc", grpc_frame(&message)),
        };
        let mut request = Request::builder()
            .method(Method::POST)
            .uri(self.settings.url.clone())
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
