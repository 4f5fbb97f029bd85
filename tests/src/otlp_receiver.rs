//! An OTLP receiver on a loopback port it picks, standing in for an OpenTelemetry Collector
//! (none can be installed on this machine): over HTTP/1.1 it takes `POST /v1/metrics` and
//! `POST /v1/traces` (OTLP/HTTP), over HTTP/2 the gRPC methods `MetricsService/Export` and
//! `TraceService/Export` (OTLP/gRPC, its message in gRPC's length-prefixed frame, its outcome
//! in the `grpc-status` trailer). It decodes each push
//! with the official protobuf definitions (the `opentelemetry-proto` crate), records it, and
//! answers as a test tells it to: at once, with an error status, or never.
//!
//! It is a test server of the protocol, not a mock of kansoku.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};

use bytes::Bytes;
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt as _, Full, StreamBody};
use hyper::body::Frame;
use hyper::body::Incoming;
use hyper::{Request, Response};
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{any_value, KeyValue};
use opentelemetry_proto::tonic::metrics::v1::{metric, number_data_point, Metric};
use opentelemetry_proto::tonic::trace::v1::Span;
use prost::Message as _;
use tokio::sync::watch;

/// One push the receiver took.
#[derive(Debug, Clone)]
pub struct Push {
    pub path: String,
    pub content_type: Option<String>,
    pub headers: BTreeMap<String, String>,
    /// The decoded body.
    pub request: ExportMetricsServiceRequest,
    /// The status it was answered with.
    pub status: u16,
}

impl Push {
    /// Every metric of the push.
    pub fn metrics(&self) -> Vec<&Metric> {
        self.request
            .resource_metrics
            .iter()
            .flat_map(|rm| &rm.scope_metrics)
            .flat_map(|sm| &sm.metrics)
            .collect()
    }

    /// The resource's attributes.
    pub fn resource(&self) -> BTreeMap<String, String> {
        self.request
            .resource_metrics
            .iter()
            .filter_map(|rm| rm.resource.as_ref())
            .flat_map(|resource| resource.attributes.iter().map(pair))
            .collect()
    }

    /// The push as Prometheus samples, named as the Prometheus text names them: each point
    /// `name{labels sorted}`, a histogram as `_bucket{…,le}` (cumulative), `_sum` and `_count`.
    /// Counters and histograms are their values in this push (totals when cumulative).
    #[allow(clippy::cast_precision_loss)]
    pub fn samples(&self) -> BTreeMap<String, f64> {
        let mut out = BTreeMap::new();
        for metric in self.metrics() {
            let name = &metric.name;
            match &metric.data {
                Some(metric::Data::Sum(sum)) => {
                    for point in &sum.data_points {
                        out.insert(
                            series(name, &point.attributes, None),
                            number(point.value.as_ref()),
                        );
                    }
                }
                Some(metric::Data::Gauge(gauge)) => {
                    for point in &gauge.data_points {
                        out.insert(
                            series(name, &point.attributes, None),
                            number(point.value.as_ref()),
                        );
                    }
                }
                Some(metric::Data::Histogram(histogram)) => {
                    for point in &histogram.data_points {
                        let mut cumulative = 0;
                        let bounds = point.explicit_bounds.iter().map(|b| format!("{b}"));
                        for (le, n) in bounds
                            .chain(std::iter::once("+Inf".to_owned()))
                            .zip(&point.bucket_counts)
                        {
                            cumulative += n;
                            out.insert(
                                series(&format!("{name}_bucket"), &point.attributes, Some(&le)),
                                cumulative as f64,
                            );
                        }
                        out.insert(
                            series(&format!("{name}_sum"), &point.attributes, None),
                            point.sum.unwrap_or_default(),
                        );
                        out.insert(
                            series(&format!("{name}_count"), &point.attributes, None),
                            point.count as f64,
                        );
                    }
                }
                other => panic!("kansoku sends sums, gauges and histograms, not {other:?}"),
            }
        }
        out
    }
}

/// One export of spans the receiver took.
#[derive(Debug, Clone)]
pub struct TracePush {
    pub path: String,
    pub request: ExportTraceServiceRequest,
    pub status: u16,
}

impl TracePush {
    pub fn spans(&self) -> Vec<&Span> {
        self.request
            .resource_spans
            .iter()
            .flat_map(|rs| &rs.scope_spans)
            .flat_map(|ss| &ss.spans)
            .collect()
    }
}

/// A span's attributes, their values as text (an integer's digits).
pub fn span_attributes(span: &Span) -> BTreeMap<String, String> {
    span.attributes
        .iter()
        .map(|attribute| {
            let value = match attribute.value.as_ref().and_then(|v| v.value.as_ref()) {
                Some(any_value::Value::IntValue(n)) => n.to_string(),
                _ => pair(attribute).1,
            };
            (attribute.key.clone(), value)
        })
        .collect()
}

/// Lowercase hex, as trace and span ids are written in headers.
pub fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    bytes.iter().fold(String::new(), |mut out, b| {
        let _ = write!(out, "{b:02x}");
        out
    })
}

fn pair(attribute: &KeyValue) -> (String, String) {
    let value = match attribute.value.as_ref().and_then(|v| v.value.as_ref()) {
        Some(any_value::Value::StringValue(text)) => text.clone(),
        other => format!("{other:?}"),
    };
    (attribute.key.clone(), value)
}

#[allow(clippy::cast_precision_loss)]
fn number(value: Option<&number_data_point::Value>) -> f64 {
    match value {
        Some(number_data_point::Value::AsInt(n)) => *n as f64,
        Some(number_data_point::Value::AsDouble(v)) => *v,
        None => f64::NAN,
    }
}

fn series(name: &str, attributes: &[KeyValue], le: Option<&str>) -> String {
    let mut labels: Vec<(String, String)> = attributes.iter().map(pair).collect();
    labels.sort();
    if let Some(le) = le {
        labels.push(("le".to_owned(), le.to_owned()));
    }
    if labels.is_empty() {
        return name.to_owned();
    }
    let labels: Vec<String> = labels
        .iter()
        .map(|(key, value)| format!("{key}=\"{value}\""))
        .collect();
    format!("{name}{{{}}}", labels.join(","))
}

/// How to answer one push.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answer {
    /// This status at once.
    Status(u16),
    /// No answer until [`Receiver::release`].
    Hold,
}

type Policy = dyn Fn(usize) -> Answer + Send + Sync;

/// The gRPC method of an OTLP metrics push.
pub const GRPC_EXPORT: &str = "/opentelemetry.proto.collector.metrics.v1.MetricsService/Export";

struct State {
    /// Whether it speaks OTLP/gRPC (HTTP/2) rather than OTLP/HTTP (HTTP/1.1).
    grpc: bool,
    pushes: Mutex<Vec<Push>>,
    traces: Mutex<Vec<TracePush>>,
    /// Answers the `n`th push of each signal (metrics and spans counted apart).
    policy: Box<Policy>,
    release: watch::Sender<bool>,
}

/// The running receiver; stops when dropped.
#[allow(missing_debug_implementations)] // holds the answering policy, a closure
pub struct Receiver {
    addr: SocketAddr,
    state: Arc<State>,
    runtime: Option<tokio::runtime::Runtime>,
}

impl Receiver {
    /// A receiver answering `200` to every push.
    pub fn start() -> Receiver {
        Receiver::with_policy(|_| Answer::Status(200))
    }

    /// A receiver answering the `n`th push (from 0) as `policy` says.
    pub fn with_policy(policy: impl Fn(usize) -> Answer + Send + Sync + 'static) -> Receiver {
        Receiver::serve(false, Box::new(policy))
    }

    /// An OTLP/gRPC receiver (HTTP/2 without TLS) answering as `policy` says: a status of 200
    /// is `grpc-status 0`, 429 and 503 are `14` (`UNAVAILABLE`), any other `3` (`INVALID_ARGUMENT`).
    pub fn grpc_with_policy(policy: impl Fn(usize) -> Answer + Send + Sync + 'static) -> Receiver {
        Receiver::serve(true, Box::new(policy))
    }

    fn serve(grpc: bool, policy: Box<Policy>) -> Receiver {
        let state = Arc::new(State {
            grpc,
            pushes: Mutex::new(Vec::new()),
            traces: Mutex::new(Vec::new()),
            policy,
            release: watch::channel(false).0,
        });
        let serving = state.clone();
        let server = crate::loopback::serve("otlp-receiver", grpc, move |request| {
            handle(serving.clone(), request)
        });
        Receiver {
            addr: server.addr,
            state,
            runtime: Some(server.runtime),
        }
    }

    /// The base URL a client appends `/v1/metrics` to.
    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Every push so far, in arrival order (held ones included, with the status they will get).
    pub fn pushes(&self) -> Vec<Push> {
        self.state
            .pushes
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Every export of spans so far, in arrival order.
    pub fn trace_pushes(&self) -> Vec<TracePush> {
        self.state
            .traces
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// The spans of the exports answered with a 2xx.
    pub fn accepted_spans(&self) -> Vec<Span> {
        self.trace_pushes()
            .iter()
            .filter(|push| (200..300).contains(&push.status))
            .flat_map(|push| push.spans().into_iter().cloned())
            .collect()
    }

    /// The pushes answered with a 2xx.
    pub fn accepted(&self) -> Vec<Push> {
        self.pushes()
            .into_iter()
            .filter(|push| (200..300).contains(&push.status))
            .collect()
    }

    /// Lets every held push (and every later one) be answered, with `200`.
    pub fn release(&self) {
        self.state.release.send_replace(true);
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

type Body = BoxBody<Bytes, std::convert::Infallible>;

async fn handle(
    state: Arc<State>,
    request: Request<Incoming>,
) -> Result<Response<Body>, hyper::Error> {
    let path = request.uri().path().to_owned();
    let headers = request
        .headers()
        .iter()
        .map(|(name, value)| {
            (
                name.as_str().to_owned(),
                value.to_str().unwrap_or_default().to_owned(),
            )
        })
        .collect::<BTreeMap<_, _>>();
    let content_type = headers.get("content-type").cloned();
    let body = request.into_body().collect().await?.to_bytes();
    let message = if state.grpc {
        // not compressed, then the message's length, then the message
        assert_eq!(body.first(), Some(&0), "an uncompressed gRPC message");
        let length = u32::from_be_bytes(body[1..5].try_into().expect("a gRPC length prefix"));
        assert_eq!(body.len(), 5 + length as usize, "one whole gRPC message");
        body.slice(5..)
    } else {
        body
    };
    if path.ends_with("/v1/traces") || path.contains("TraceService") {
        let decoded = ExportTraceServiceRequest::decode(message)
            .unwrap_or_else(|e| panic!("an export that does not decode as OTLP spans: {e}"));
        let mut traces = state.traces.lock().unwrap_or_else(PoisonError::into_inner);
        let status = match (state.policy)(traces.len()) {
            Answer::Status(status) => status,
            Answer::Hold => 200,
        };
        traces.push(TracePush {
            path,
            request: decoded,
            status,
        });
        drop(traces);
        return Ok(answer(state.grpc, status));
    }
    let decoded = ExportMetricsServiceRequest::decode(message)
        .unwrap_or_else(|e| panic!("a push that does not decode as OTLP metrics: {e}"));
    let answer_now = {
        let mut pushes = state.pushes.lock().unwrap_or_else(PoisonError::into_inner);
        let answer = (state.policy)(pushes.len());
        pushes.push(Push {
            path,
            content_type,
            headers,
            request: decoded,
            status: match answer {
                Answer::Status(status) => status,
                Answer::Hold => 200,
            },
        });
        answer
    };
    let status = match answer_now {
        Answer::Status(status) => status,
        Answer::Hold => {
            let mut released = state.release.subscribe();
            let _ = released.wait_for(|released| *released).await;
            200
        }
    };
    Ok(answer(state.grpc, status))
}

/// The answer of a push with `status` (its gRPC form over gRPC).
fn answer(grpc: bool, status: u16) -> Response<Body> {
    if grpc {
        let code = match status {
            200 => "0",
            429 | 503 => "14",
            _ => "3",
        };
        let mut trailers = http::HeaderMap::new();
        trailers.insert("grpc-status", http::HeaderValue::from_static(code));
        // an empty ExportMetricsServiceResponse in its frame, then the trailers
        let frames = vec![
            Ok(Frame::data(Bytes::from_static(&[0, 0, 0, 0, 0]))),
            Ok(Frame::trailers(trailers)),
        ];
        return Response::builder()
            .status(200)
            .header("content-type", "application/grpc")
            .body(StreamBody::new(futures::stream::iter(frames)).boxed())
            .expect("a valid response");
    }
    Response::builder()
        .status(status)
        .header("content-type", "application/x-protobuf")
        .body(Full::new(Bytes::new()).boxed())
        .expect("a valid response")
}
