//! The errors of start-up, from the lowest layer: every backend returns them.

use std::fmt;

/// Why [`TelemetryBuilder::build`](crate::TelemetryBuilder::build) or [`TelemetryBuilder::install`](crate::TelemetryBuilder::install) failed.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Error {
    /// The namespace is not a Prometheus metric-name prefix (`[a-zA-Z_][a-zA-Z0-9_]*`).
    InvalidNamespace(String),
    /// Histogram bucket bounds that are empty, unsorted, not positive or too many.
    InvalidBuckets(String),
    /// `max_series_per_metric(0)`.
    InvalidLimit,
    /// `install()` ran before in this process.
    AlreadyInstalled,
    /// The OpenTelemetry exporter could not be set up.
    Otel(String),
    /// The Sentry DSN does not parse.
    InvalidDsn(String),
    /// A trace sample rate outside 0.0..=1.0.
    InvalidSampleRate(f32),
    /// The Sentry backend could not start.
    Sentry(String),
    /// A Redis URL (`redis_url`, `redis_cluster` or `KANSOKU_REDIS_URL`) that does not parse.
    InvalidRedisUrl(String),
    /// The Redis backend could not start.
    Redis(String),
    /// The OTLP backend's configuration is invalid (an endpoint, a header, a duration, a
    /// protocol), or it could not start.
    Otlp(String),
    /// A health check's URL (`HttpCheck`) that does not parse or is not `http(s)://`.
    InvalidCheckUrl(String),
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::InvalidNamespace(ns) => write!(
                f,
                "invalid metric namespace `{ns}`: expected letters, digits and `_`, not starting with a digit"
            ),
            Error::InvalidBuckets(why) => write!(f, "invalid histogram buckets: {why}"),
            Error::InvalidLimit => f.write_str("max_series_per_metric must be at least 1"),
            Error::AlreadyInstalled => f.write_str("a kansoku Telemetry is already installed in this process"),
            Error::Otel(why) => write!(f, "OpenTelemetry exporter: {why}"),
            Error::InvalidDsn(why) => write!(f, "invalid Sentry DSN: {why}"),
            Error::InvalidSampleRate(rate) => {
                write!(f, "invalid traces sample rate {rate}: expected a number from 0.0 to 1.0")
            }
            Error::Sentry(why) => write!(f, "Sentry: {why}"),
            Error::InvalidRedisUrl(why) => write!(f, "invalid Redis URL: {why}"),
            Error::Redis(why) => write!(f, "Redis: {why}"),
            Error::Otlp(why) => write!(f, "OTLP: {why}"),
            Error::InvalidCheckUrl(why) => write!(f, "invalid health check URL: {why}"),
        }
    }
}

impl std::error::Error for Error {}
