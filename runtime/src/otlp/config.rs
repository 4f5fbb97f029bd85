//! The OTLP backend's configuration: the builder's setters, the standard environment
//! variables, and their checked form.

use std::time::Duration;

use http::{HeaderName, HeaderValue, Uri};

use super::{Protocol, Temporality};
use crate::error::Error;
use crate::TelemetryBuilder;

/// The default push interval (`OTEL_METRIC_EXPORT_INTERVAL`'s default).
const DEFAULT_INTERVAL: Duration = Duration::from_secs(60);
/// The default time a push may take (`OTEL_EXPORTER_OTLP_TIMEOUT`'s default).
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);

/// What the builder and the environment set, unchecked.
#[derive(Clone, Default)]
pub(crate) struct OtlpConfig {
    /// Where the metrics go: a collector's base URL, or the metrics signal's own.
    endpoint: Option<Endpoint>,
    headers: Vec<(String, String)>,
    /// `OTEL_EXPORTER_OTLP_HEADERS` when the builder set none: `key=value,…`, percent-encoded.
    env_headers: Option<String>,
    timeout: Option<String>,
    interval: Option<String>,
    temporality: Option<String>,
    protocol: Option<String>,
    /// `OTEL_RESOURCE_ATTRIBUTES`: `key=value,…`, percent-encoded.
    resource: Option<String>,
    /// `otlp_traces(false)` or `OTEL_TRACES_EXPORTER=none`: no spans over OTLP.
    traces: Option<bool>,
    /// `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`: over HTTP, taken as it is.
    traces_endpoint: Option<String>,
    /// `OTEL_BSP_SCHEDULE_DELAY`, `OTEL_BSP_MAX_QUEUE_SIZE`, `OTEL_BSP_MAX_EXPORT_BATCH_SIZE`.
    span_delay: Option<String>,
    span_queue: Option<String>,
    span_batch: Option<String>,
    /// `OTEL_TRACES_SAMPLER` and `OTEL_TRACES_SAMPLER_ARG`.
    sampler: Option<String>,
    sampler_arg: Option<String>,
}

/// Header values (API keys) are never shown: only their names.
impl std::fmt::Debug for OtlpConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let names: Vec<&str> = self.headers.iter().map(|(name, _)| name.as_str()).collect();
        f.debug_struct("OtlpConfig")
            .field("endpoint", &self.endpoint)
            .field("headers", &names)
            .field("env_headers", &self.env_headers.as_ref().map(|_| "…"))
            .field("timeout", &self.timeout)
            .field("interval", &self.interval)
            .field("temporality", &self.temporality)
            .field("protocol", &self.protocol)
            .field("resource", &self.resource)
            .field("traces", &self.traces)
            .field("traces_endpoint", &self.traces_endpoint)
            .finish_non_exhaustive()
    }
}

/// A configured endpoint, as the OTLP exporters read them.
#[derive(Debug, Clone)]
enum Endpoint {
    /// The builder's or `OTEL_EXPORTER_OTLP_ENDPOINT`: over HTTP the metrics go to its
    /// `/v1/metrics`.
    Base(String),
    /// `OTEL_EXPORTER_OTLP_METRICS_ENDPOINT`: over HTTP, taken as it is.
    Signal(String),
}

/// The method of the OTLP metrics service, the path of a gRPC push.
const GRPC_EXPORT: &str = "/opentelemetry.proto.collector.metrics.v1.MetricsService/Export";
/// The method of the OTLP trace service.
const GRPC_TRACES: &str = "/opentelemetry.proto.collector.trace.v1.TraceService/Export";

/// The span batching defaults of the OpenTelemetry SDKs' batch span processor.
const DEFAULT_SPAN_DELAY: Duration = Duration::from_secs(5);
const DEFAULT_SPAN_QUEUE: usize = 2048;
const DEFAULT_SPAN_BATCH: usize = 512;

/// Where and how sampled spans are sent, when they are.
#[derive(Debug, Clone)]
pub(crate) struct SpanSettings {
    pub(crate) url: Uri,
    /// How often the queued spans are sent (sooner when a batch is full).
    pub(crate) delay: Duration,
    /// The most spans waiting; beyond it they are dropped and counted.
    pub(crate) queue: usize,
    /// The most spans in one export.
    pub(crate) batch: usize,
}

/// The checked configuration of a running backend.
#[derive(Debug, Clone)]
pub(crate) struct Settings {
    pub(crate) url: Uri,
    pub(crate) protocol: Protocol,
    pub(crate) headers: Vec<(HeaderName, HeaderValue)>,
    pub(crate) timeout: Duration,
    pub(crate) interval: Duration,
    pub(crate) temporality: Temporality,
    pub(crate) resource: Vec<(String, String)>,
    /// Sampled spans over OTLP: `None` when off, or when only the metrics' own endpoint is
    /// known.
    pub(crate) spans: Option<SpanSettings>,
}

impl TelemetryBuilder {
    /// The OTLP endpoint of a collector: `http://localhost:4318` for OTLP/HTTP (the metrics are
    /// posted to its `/v1/metrics`), `http://localhost:4317` for gRPC
    /// ([`otlp_protocol`](Self::otlp_protocol)). Without one (here or in
    /// `OTEL_EXPORTER_OTLP_ENDPOINT`), the OTLP backend stays off and says so at install.
    ///
    /// ```
    /// let telemetry = kansoku::Telemetry::builder()
    ///     .otlp_endpoint("http://127.0.0.1:4318")
    ///     .otlp_export_interval(std::time::Duration::from_secs(15))
    ///     .build()?;
    /// # futures::executor::block_on(telemetry.shutdown());
    /// # Ok::<(), kansoku::Error>(())
    /// ```
    pub fn otlp_endpoint(mut self, endpoint: impl AsRef<str>) -> Self {
        self.backends.otlp.endpoint = Some(Endpoint::Base(endpoint.as_ref().to_owned()));
        self
    }

    /// OTLP/HTTP with protobuf bodies (the default) or gRPC (`OTEL_EXPORTER_OTLP_PROTOCOL`:
    /// `http/protobuf` or `grpc`).
    pub fn otlp_protocol(mut self, protocol: Protocol) -> Self {
        self.backends.otlp.protocol = Some(protocol.name().to_owned());
        self
    }

    /// A header sent with every push (an API key: `("x-api-key", "…")`); never logged.
    pub fn otlp_header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.backends.otlp.headers.push((name.into(), value.into()));
        self
    }

    /// How often the metrics are pushed; default 60 s (`OTEL_METRIC_EXPORT_INTERVAL`).
    pub fn otlp_export_interval(mut self, every: Duration) -> Self {
        self.backends.otlp.interval = Some(whole_millis(every));
        self
    }

    /// How long one push may take; default 10 s (`OTEL_EXPORTER_OTLP_TIMEOUT`). Also the
    /// longest `shutdown` waits for the last push.
    pub fn otlp_timeout(mut self, timeout: Duration) -> Self {
        self.backends.otlp.timeout = Some(whole_millis(timeout));
        self
    }

    /// Cumulative (the default) or delta counters and histograms
    /// (`OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE`).
    pub fn otlp_temporality(mut self, temporality: Temporality) -> Self {
        self.backends.otlp.temporality = Some(
            match temporality {
                Temporality::Cumulative => "cumulative",
                Temporality::Delta => "delta",
            }
            .to_owned(),
        );
        self
    }
}

impl TelemetryBuilder {
    /// Whether sampled calls also go out as OpenTelemetry spans to the collector's
    /// `/v1/traces` (on by default with an endpoint; `OTEL_TRACES_EXPORTER=none` turns it off).
    /// Spans need the `sentry` feature, which holds kansoku's trace context (a Sentry DSN is
    /// not needed); they share the sampling decision (`traces_sample_rate`) and the trace id
    /// with Sentry when both are on.
    pub fn otlp_traces(mut self, on: bool) -> Self {
        self.backends.otlp.traces = Some(on);
        self
    }
}

impl Protocol {
    fn name(self) -> &'static str {
        match self {
            Protocol::HttpProtobuf => "http/protobuf",
            Protocol::Grpc => "grpc",
        }
    }
}

impl Endpoint {
    /// The URL a push of `protocol` goes to: over HTTP, a base's `/v1/metrics` (a signal's own
    /// URL as it is); over gRPC, the metrics service's method at the endpoint's origin.
    fn url(&self, protocol: Protocol) -> Result<Uri, Error> {
        self.url_of(protocol, "/v1/metrics", GRPC_EXPORT)
    }

    /// The URL of the signal at `path` over HTTP (from a base), at `method` over gRPC.
    fn url_of(&self, protocol: Protocol, path: &str, method: &str) -> Result<Uri, Error> {
        let (given, url) = match (self, protocol) {
            (Endpoint::Base(base), Protocol::HttpProtobuf) => {
                (base, format!("{}{path}", base.trim_end_matches('/')))
            }
            (Endpoint::Signal(url), Protocol::HttpProtobuf) => (url, url.clone()),
            (Endpoint::Base(url) | Endpoint::Signal(url), Protocol::Grpc) => {
                let origin: Uri = url
                    .parse()
                    .map_err(|e| Error::Otlp(format!("endpoint `{url}`: {e}")))?;
                let origin = format!(
                    "{}://{}",
                    origin.scheme_str().unwrap_or_default(),
                    origin
                        .authority()
                        .map(http::uri::Authority::as_str)
                        .unwrap_or_default()
                );
                (url, format!("{origin}{method}"))
            }
        };
        let uri: Uri = url
            .parse()
            .map_err(|e| Error::Otlp(format!("endpoint `{given}`: {e}")))?;
        if !matches!(uri.scheme_str(), Some("http" | "https")) || uri.host().is_none() {
            return Err(Error::Otlp(format!(
                "endpoint `{given}`: not an http:// or https:// URL"
            )));
        }
        Ok(uri)
    }
}

/// `%XX` escapes decoded (the W3C baggage form `OTEL_*_HEADERS` and
/// `OTEL_RESOURCE_ATTRIBUTES` use); a malformed escape is kept as it is.
fn percent_decoded(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |at: usize| {
            bytes
                .get(at)
                .and_then(|b| char::from(*b).to_digit(16))
                .and_then(|d| u8::try_from(d).ok())
        };
        match (bytes[i], hex(i + 1), hex(i + 2)) {
            (b'%', Some(high), Some(low)) => {
                out.push(high * 16 + low);
                i += 3;
            }
            (byte, _, _) => {
                out.push(byte);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// `key=value,key=value` pairs, trimmed and percent-decoded; an entry without `=` is an error.
fn pairs(text: &str, what: &str) -> Result<Vec<(String, String)>, Error> {
    text.split(',')
        .map(str::trim)
        .filter(|entry| !entry.is_empty())
        .map(|entry| {
            entry
                .split_once('=')
                .map(|(key, value)| (percent_decoded(key.trim()), percent_decoded(value.trim())))
                .filter(|(key, _)| !key.is_empty())
                .ok_or_else(|| Error::Otlp(format!("{what}: `{entry}` is not `key=value`")))
        })
        .collect()
}

/// `duration` in the environment variables' unit: whole milliseconds, a fraction of one rounded
/// up (so that only zero reads as zero, and is refused).
fn whole_millis(duration: Duration) -> String {
    let ms = duration.as_millis();
    (ms + u128::from(duration > Duration::from_millis(u64::try_from(ms).unwrap_or(u64::MAX))))
        .to_string()
}

fn millis(text: Option<&str>, what: &str, default: Duration) -> Result<Duration, Error> {
    match text {
        None => Ok(default),
        Some(text) => match text.trim().parse::<u64>() {
            Ok(0) | Err(_) => Err(Error::Otlp(format!(
                "{what}: `{text}` is not a positive number of milliseconds"
            ))),
            Ok(ms) => Ok(Duration::from_millis(ms)),
        },
    }
}

impl OtlpConfig {
    /// Fills what the environment sets and the builder has not.
    pub(crate) fn fill_from_env(&mut self, var: &dyn Fn(&str) -> Option<String>) {
        let signal = |name: &str| {
            var(&format!("OTEL_EXPORTER_OTLP_METRICS_{name}"))
                .or_else(|| var(&format!("OTEL_EXPORTER_OTLP_{name}")))
        };
        if self.endpoint.is_none() {
            self.endpoint = var("OTEL_EXPORTER_OTLP_METRICS_ENDPOINT")
                .map(Endpoint::Signal)
                .or_else(|| var("OTEL_EXPORTER_OTLP_ENDPOINT").map(Endpoint::Base));
        }
        if self.headers.is_empty() {
            self.env_headers = signal("HEADERS");
        }
        self.timeout = self.timeout.take().or_else(|| signal("TIMEOUT"));
        self.protocol = self.protocol.take().or_else(|| signal("PROTOCOL"));
        self.interval = self
            .interval
            .take()
            .or_else(|| var("OTEL_METRIC_EXPORT_INTERVAL"));
        self.temporality = self
            .temporality
            .take()
            .or_else(|| var("OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE"));
        self.resource = self
            .resource
            .take()
            .or_else(|| var("OTEL_RESOURCE_ATTRIBUTES"));
        if self.traces.is_none() {
            self.traces = var("OTEL_TRACES_EXPORTER")
                .map(|exporters| exporters.split(',').any(|e| e.trim() == "otlp"));
        }
        self.traces_endpoint = self
            .traces_endpoint
            .take()
            .or_else(|| var("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"));
        self.span_delay = self
            .span_delay
            .take()
            .or_else(|| var("OTEL_BSP_SCHEDULE_DELAY"));
        self.span_queue = self
            .span_queue
            .take()
            .or_else(|| var("OTEL_BSP_MAX_QUEUE_SIZE"));
        self.span_batch = self
            .span_batch
            .take()
            .or_else(|| var("OTEL_BSP_MAX_EXPORT_BATCH_SIZE"));
        self.sampler = self.sampler.take().or_else(|| var("OTEL_TRACES_SAMPLER"));
        self.sampler_arg = self
            .sampler_arg
            .take()
            .or_else(|| var("OTEL_TRACES_SAMPLER_ARG"));
    }

    /// The sample rate `OTEL_TRACES_SAMPLER` (with its `_ARG`) asks for, if it is set: the
    /// always-on and always-off samplers, and the trace-id ratio ones (whose parent-based forms
    /// kansoku follows anyway: a caller's decision is taken, see `trust_incoming_sampling`).
    #[cfg(feature = "sentry")]
    pub(crate) fn sampler_rate(&self) -> Result<Option<f32>, Error> {
        let Some(sampler) = self.sampler.as_deref().map(str::trim) else {
            return Ok(None);
        };
        let ratio = || match self.sampler_arg.as_deref().map(str::trim) {
            None => Ok(1.0),
            Some(arg) => arg
                .parse::<f32>()
                .ok()
                .filter(|rate| (0.0..=1.0).contains(rate))
                .ok_or_else(|| {
                    Error::Otlp(format!(
                        "OTEL_TRACES_SAMPLER_ARG: `{arg}` is not a rate from 0 to 1"
                    ))
                }),
        };
        match sampler {
            "always_on" | "parentbased_always_on" => Ok(Some(1.0)),
            "always_off" | "parentbased_always_off" => Ok(Some(0.0)),
            "traceidratio" | "parentbased_traceidratio" => ratio().map(Some),
            other => Err(Error::Otlp(format!(
                "OTEL_TRACES_SAMPLER: `{other}` is not one kansoku follows (always_on, always_off, traceidratio and their parentbased_ forms)"
            ))),
        }
    }

    /// Whether spans are wanted: an endpoint is set and they are not turned off (the Sentry
    /// backend then keeps a trace context even without a DSN).
    pub(crate) fn wants_spans(&self) -> bool {
        // the trace context is the Sentry backend's: without it, no span is ever made
        cfg!(feature = "sentry") && self.endpoint.is_some() && self.traces != Some(false)
    }

    /// Where sampled spans go, if they are wanted and an endpoint for them is known.
    fn span_settings(&self, protocol: Protocol) -> Result<Option<SpanSettings>, Error> {
        if !self.wants_spans() {
            return Ok(None);
        }
        let url = match (&self.traces_endpoint, &self.endpoint) {
            (Some(url), _) => Endpoint::Signal(url.clone()).url_of(protocol, "", GRPC_TRACES)?,
            (None, Some(base @ Endpoint::Base(_))) => {
                base.url_of(protocol, "/v1/traces", GRPC_TRACES)?
            }
            // only the metrics' own URL: where the traces go is not known
            _ => return Ok(None),
        };
        let count = |text: &Option<String>, what: &str, default: usize| match text {
            None => Ok(default),
            Some(text) => match text.trim().parse::<usize>() {
                Ok(n) if n > 0 => Ok(n),
                _ => Err(Error::Otlp(format!(
                    "{what}: `{text}` is not a positive number"
                ))),
            },
        };
        let queue = count(
            &self.span_queue,
            "OTEL_BSP_MAX_QUEUE_SIZE",
            DEFAULT_SPAN_QUEUE,
        )?;
        Ok(Some(SpanSettings {
            url,
            delay: millis(
                self.span_delay.as_deref(),
                "OTEL_BSP_SCHEDULE_DELAY",
                DEFAULT_SPAN_DELAY,
            )?,
            queue,
            batch: count(
                &self.span_batch,
                "OTEL_BSP_MAX_EXPORT_BATCH_SIZE",
                DEFAULT_SPAN_BATCH,
            )?
            .min(queue),
        }))
    }

    /// The checked configuration, `None` without an endpoint; a value that does not parse is
    /// an error naming it.
    pub(crate) fn settings(&self) -> Result<Option<Settings>, Error> {
        let Some(endpoint) = &self.endpoint else {
            return Ok(None);
        };
        let protocol = match self.protocol.as_deref().map(str::trim) {
            None | Some("http/protobuf") => Protocol::HttpProtobuf,
            Some("grpc") => Protocol::Grpc,
            Some(other) => {
                return Err(Error::Otlp(format!(
                    "protocol `{other}`: http/protobuf or grpc (http/json is not spoken)"
                )))
            }
        };
        let url = endpoint.url(protocol)?;
        // the rate spans are sampled at without a Sentry DSN
        #[cfg(feature = "sentry")]
        self.sampler_rate()?;
        let listed = match &self.env_headers {
            Some(text) => pairs(text, "OTEL_EXPORTER_OTLP_HEADERS")?,
            None => self.headers.clone(),
        };
        let mut headers = Vec::new();
        for (name, value) in listed {
            let header = HeaderName::try_from(name.as_str())
                .map_err(|_| Error::Otlp(format!("header name `{name}` is not valid")))?;
            let mut value = HeaderValue::try_from(value.as_str())
                .map_err(|_| Error::Otlp(format!("the value of header `{name}` is not valid")))?;
            value.set_sensitive(true);
            headers.push((header, value));
        }
        let temporality = match self.temporality.as_deref().map(str::trim) {
            None => Temporality::Cumulative,
            Some(text) if text.eq_ignore_ascii_case("cumulative") => Temporality::Cumulative,
            // low memory: delta for counters and histograms, which is all kansoku has
            Some(text)
                if text.eq_ignore_ascii_case("delta") || text.eq_ignore_ascii_case("lowmemory") =>
            {
                Temporality::Delta
            }
            Some(other) => {
                return Err(Error::Otlp(format!(
                    "temporality `{other}`: cumulative, delta or lowmemory"
                )))
            }
        };
        Ok(Some(Settings {
            url,
            protocol,
            headers,
            timeout: millis(
                self.timeout.as_deref(),
                "the OTLP timeout (otlp_timeout or OTEL_EXPORTER_OTLP_TIMEOUT)",
                DEFAULT_TIMEOUT,
            )?,
            interval: millis(
                self.interval.as_deref(),
                "the OTLP export interval (otlp_export_interval or OTEL_METRIC_EXPORT_INTERVAL)",
                DEFAULT_INTERVAL,
            )?,
            temporality,
            resource: match &self.resource {
                Some(text) => pairs(text, "OTEL_RESOURCE_ATTRIBUTES")?,
                None => Vec::new(),
            },
            spans: self.span_settings(protocol)?,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn from_env(vars: &[(&str, &str)]) -> OtlpConfig {
        let mut config = OtlpConfig::default();
        config.fill_from_env(&|name| {
            vars.iter()
                .find(|(key, _)| *key == name)
                .map(|(_, value)| (*value).to_owned())
        });
        config
    }

    #[test]
    fn the_environment_sets_what_the_builder_does_not() {
        let settings = from_env(&[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4318/"),
            (
                "OTEL_EXPORTER_OTLP_HEADERS",
                "x-api-key=a%2Cb , tenant=shops",
            ),
            ("OTEL_EXPORTER_OTLP_METRICS_TIMEOUT", "2500"),
            ("OTEL_EXPORTER_OTLP_TIMEOUT", "9000"),
            ("OTEL_METRIC_EXPORT_INTERVAL", "15000"),
            ("OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE", "Delta"),
            (
                "OTEL_RESOURCE_ATTRIBUTES",
                "k8s.pod.name=shops-1,team=web%20ops",
            ),
        ])
        .settings()
        .unwrap()
        .unwrap();
        assert_eq!(settings.url, "http://collector:4318/v1/metrics");
        let headers: Vec<_> = settings
            .headers
            .iter()
            .map(|(name, value)| (name.as_str(), value.to_str().unwrap()))
            .collect();
        assert_eq!(headers, [("x-api-key", "a,b"), ("tenant", "shops")]);
        assert!(settings
            .headers
            .iter()
            .all(|(_, value)| value.is_sensitive()));
        assert_eq!(settings.timeout, Duration::from_millis(2500));
        assert_eq!(settings.interval, Duration::from_secs(15));
        assert_eq!(settings.temporality, Temporality::Delta);
        assert_eq!(
            settings.resource,
            [
                ("k8s.pod.name".to_owned(), "shops-1".to_owned()),
                ("team".to_owned(), "web ops".to_owned())
            ]
        );
        // the signal's own endpoint is taken as it is
        let settings = from_env(&[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://ignored:4318"),
            (
                "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT",
                "https://otlp.example/api/m",
            ),
        ])
        .settings()
        .unwrap()
        .unwrap();
        assert_eq!(settings.url, "https://otlp.example/api/m");
        assert_eq!(settings.interval, DEFAULT_INTERVAL);
        assert_eq!(settings.timeout, DEFAULT_TIMEOUT);
        assert_eq!(settings.temporality, Temporality::Cumulative);
        assert_eq!(settings.protocol, Protocol::HttpProtobuf);
        // over gRPC, the service's method at the endpoint's origin
        let settings = from_env(&[
            (
                "OTEL_EXPORTER_OTLP_ENDPOINT",
                "https://collector:4317/ignored",
            ),
            ("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc"),
        ])
        .settings()
        .unwrap()
        .unwrap();
        assert_eq!(settings.protocol, Protocol::Grpc);
        assert_eq!(
            settings.url,
            "https://collector:4317/opentelemetry.proto.collector.metrics.v1.MetricsService/Export"
        );
    }

    #[test]
    fn without_an_endpoint_it_is_off_and_a_bad_value_is_an_error_naming_it() {
        assert!(OtlpConfig::default().settings().unwrap().is_none());
        let error = |vars: &[(&str, &str)]| {
            let mut all = vec![("OTEL_EXPORTER_OTLP_ENDPOINT", "http://c:4318")];
            all.extend_from_slice(vars);
            from_env(&all).settings().unwrap_err().to_string()
        };
        assert!(error(&[("OTEL_EXPORTER_OTLP_PROTOCOL", "http/json")]).contains("http/json"));
        assert!(error(&[("OTEL_EXPORTER_OTLP_TIMEOUT", "soon")]).contains("soon"));
        assert!(error(&[("OTEL_METRIC_EXPORT_INTERVAL", "0")]).contains("INTERVAL"));
        assert!(error(&[("OTEL_EXPORTER_OTLP_HEADERS", "novalue")]).contains("novalue"));
        assert!(error(&[("OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE", "x")]).contains('x'));
        // set in code: a fraction of a millisecond is one, zero is refused naming the setter
        assert_eq!(whole_millis(Duration::from_micros(300)), "1");
        assert_eq!(whole_millis(Duration::from_micros(1500)), "2");
        assert_eq!(whole_millis(Duration::from_secs(2)), "2000");
        let zero = crate::Telemetry::builder()
            .otlp_endpoint("http://127.0.0.1:4318")
            .otlp_export_interval(Duration::ZERO)
            .build()
            .unwrap_err();
        assert!(zero.to_string().contains("otlp_export_interval"), "{zero}");
        let bad = from_env(&[("OTEL_EXPORTER_OTLP_ENDPOINT", "collector:4318")]).settings();
        assert!(bad.unwrap_err().to_string().contains("collector:4318"));
    }
}
