//! The `redis` backend: real-time counters that every instance of a service writes into the
//! same time buckets in Redis, and any instance reads back with [`Realtime::snapshot`].
//!
//! The hot path does not change: calls record into the same per-site atomics the Prometheus
//! exporter reads. A background flusher (see `flusher.rs`) turns what changed into deltas per
//! (time bucket, series) and writes them with one script call per bucket, so a flush costs one
//! round trip whose size grows with the series that changed, not with the calls made. The key
//! layout is in `batch.rs`.

mod batch;
mod conn;
mod flusher;
mod read;
mod secret;
mod snapshot;

pub use snapshot::RealtimeError;

use crate::stats::RealtimeSnapshot;

use std::fmt;
use std::hash::{BuildHasher as _, Hasher as _};
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::{mpsc, oneshot};

use crate::backend::{Backend, BackendHealth, BoxFuture, CounterFamily, HealthCell};
use crate::error::Error;
use crate::record::Recorder;
use conn::Server;
use flusher::{Command, Flusher};
use read::Reader;

/// The health report's reason for what [`RedisBackend::counters`] counts.
const BACKLOG_FULL: &str = "backlog_full";

/// What the builder collects for this backend. Its `Debug` masks every password.
#[derive(Clone)]
pub(crate) struct RedisConfig {
    pub(crate) urls: Vec<String>,
    pub(crate) cluster: bool,
    /// Instead of `urls`: the master that these Sentinels name.
    pub(crate) sentinel: Option<SentinelConfig>,
    /// A PEM file of the CA(s) that sign the server's certificate, instead of the system's.
    pub(crate) tls_ca: Option<std::path::PathBuf>,
    pub(crate) bucket: Duration,
    pub(crate) retention: Duration,
    pub(crate) flush_interval: Duration,
    pub(crate) max_pending: usize,
    pub(crate) shutdown_timeout: Duration,
}

/// Sentinel mode: the master's name, the Sentinels' URLs (their credentials, database and
/// `rediss://` also apply to the master unless `master_auth` is given).
#[derive(Clone)]
pub(crate) struct SentinelConfig {
    pub(crate) master: String,
    pub(crate) urls: Vec<String>,
    /// `(user, password)` for the master, when it differs from the Sentinels'.
    pub(crate) master_auth: Option<(Option<String>, String)>,
}

impl fmt::Debug for RedisConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisConfig")
            .field("urls", &secret::MaskedUrls(&self.urls))
            .field("cluster", &self.cluster)
            .field("sentinel", &self.sentinel)
            .field("tls_ca", &self.tls_ca)
            .field("bucket", &self.bucket)
            .field("retention", &self.retention)
            .field("flush_interval", &self.flush_interval)
            .field("max_pending", &self.max_pending)
            .field("shutdown_timeout", &self.shutdown_timeout)
            .finish()
    }
}

impl fmt::Debug for SentinelConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SentinelConfig")
            .field("master", &self.master)
            .field("urls", &secret::MaskedUrls(&self.urls))
            .field(
                "master_auth",
                &self.master_auth.as_ref().map(|(user, _)| (user, "***")),
            )
            .finish()
    }
}

/// The default of [`TelemetryBuilder::realtime_max_pending`](crate::TelemetryBuilder::realtime_max_pending).
pub const DEFAULT_MAX_PENDING: usize = 100_000;

impl Default for RedisConfig {
    fn default() -> Self {
        RedisConfig {
            urls: Vec::new(),
            cluster: false,
            sentinel: None,
            tls_ca: None,
            bucket: Duration::from_secs(10),
            retention: Duration::from_secs(3600),
            flush_interval: Duration::from_secs(1),
            max_pending: DEFAULT_MAX_PENDING,
            shutdown_timeout: Duration::from_secs(2),
        }
    }
}

/// This process's id in Redis, `host:pid:random`: its batches' sequence numbers are its own,
/// and the live page names the instances that wrote by it.
fn instance_id() -> String {
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u32(std::process::id());
    hasher.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos()),
    );
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .map(|h| h.trim().replace(['{', '}', ':'], "_"))
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "host".to_owned());
    format!(
        "{host}:{}:{:08x}",
        std::process::id(),
        hasher.finish() >> 32
    )
}

/// The backend's own way to its server (TLS, Cluster, Sentinel), for the ops router's Redis
/// health check: one `PING` on a new connection.
#[cfg(feature = "axum")]
#[derive(Clone)]
pub(crate) struct Probe(Server);

#[cfg(feature = "axum")]
impl Probe {
    pub(crate) fn new(config: &RedisConfig) -> Result<Probe, Error> {
        Server::new(config).map(Probe)
    }

    pub(crate) async fn ping(&self) -> Result<(), ::redis::RedisError> {
        let ping = ::redis::cmd("PING");
        match conn::connect(&self.0).await? {
            conn::Conn::Single(mut conn) => ping.query_async(&mut conn).await,
            conn::Conn::Cluster(mut conn) => ping.query_async(&mut conn).await,
        }
    }
}

/// The running backend of one `Telemetry`: a channel to its flusher thread, and a reader
/// that does not go through it.
pub(crate) struct RedisBackend {
    commands: mpsc::UnboundedSender<Command>,
    reader: Arc<Reader>,
    shutdown_timeout: Duration,
    health: Arc<HealthCell>,
    /// Recordings left out of Redis while it was unreachable (`ns_realtime_dropped_total`).
    dropped: Arc<AtomicU64>,
    /// Where it writes, the password masked.
    target: String,
}

impl fmt::Debug for RedisBackend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisBackend").finish_non_exhaustive()
    }
}

impl RedisBackend {
    /// Starts the flusher when a URL is configured. Redis need not be up: it connects when it
    /// can, holding counts meanwhile.
    pub(crate) fn start(
        config: &RedisConfig,
        recorder: Arc<Recorder>,
        namespace: &str,
    ) -> Result<Option<Arc<RedisBackend>>, Error> {
        if config.urls.is_empty() && config.sentinel.is_none() {
            return Ok(None);
        }
        let target = Server::new(config)?;
        let bucket_secs = config.bucket.as_secs().max(1);
        let ttl_secs = config.retention.as_secs().max(bucket_secs) + bucket_secs;
        let layout = batch::Layout::new(
            namespace,
            bucket_secs,
            ttl_secs,
            recorder.config.api_bounds,
            recorder.config.db_bounds,
        );
        let health = Arc::new(HealthCell::default());
        let layout = Arc::new(layout);
        let flusher = Flusher::new(
            recorder,
            target.clone(),
            layout.clone(),
            instance_id(),
            config.flush_interval.max(Duration::from_millis(10)),
            config.max_pending,
            config.shutdown_timeout,
            health.clone(),
            config.shown(),
        );
        let (commands, receiver) = mpsc::unbounded_channel();
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| Error::Redis(format!("cannot start the flusher's runtime: {e}")))?;
        let reader = Arc::new(Reader::new(runtime.handle().clone(), target, layout));
        std::thread::Builder::new()
            .name("kansoku-redis".into())
            .spawn(move || runtime.block_on(flusher.run(receiver)))
            .map_err(|e| Error::Redis(format!("cannot start the flusher thread: {e}")))?;
        Ok(Some(Arc::new(RedisBackend {
            commands,
            reader,
            shutdown_timeout: config.shutdown_timeout,
            dropped: health.drop_counter(BACKLOG_FULL),
            health,
            target: config.shown(),
        })))
    }

    /// Writes what is pending now, within `timeout`; true when nothing is left unwritten.
    pub(crate) async fn flush(&self, timeout: Duration) -> bool {
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

    /// A last flush within the configured shutdown timeout, then the flusher stops.
    pub(crate) async fn shutdown(&self) -> bool {
        let (done, answer) = oneshot::channel();
        let deadline = Instant::now() + self.shutdown_timeout;
        if self
            .commands
            .send(Command::Shutdown { deadline, done })
            .is_err()
        {
            return false;
        }
        answer.await.unwrap_or(false)
    }
}

impl RedisConfig {
    /// Where it writes, for logs and health reports: passwords masked.
    fn shown(&self) -> String {
        match &self.sentinel {
            Some(sentinel) => format!(
                "the master `{}` named by Sentinel {}",
                sentinel.master,
                secret::masked(&sentinel.urls.join(","))
            ),
            None => secret::masked(&self.urls.join(",")),
        }
    }
}

impl Backend for RedisBackend {
    fn health(&self) -> BackendHealth {
        self.health
            .report("redis", format!("writing to {}", self.target))
    }

    fn counters(&self) -> Vec<CounterFamily> {
        vec![CounterFamily {
            family: crate::names::REALTIME_DROPPED,
            values: vec![(Vec::new(), self.dropped.load(Relaxed))],
        }]
    }

    fn flush(self: Arc<Self>, timeout: Duration) -> BoxFuture<bool> {
        Box::pin(async move { RedisBackend::flush(&self, timeout).await })
    }

    fn shutdown(self: Arc<Self>) -> BoxFuture<()> {
        Box::pin(async move {
            RedisBackend::shutdown(&self).await;
        })
    }
}

/// Reads the real-time counters in Redis: what every instance writing to the same Redis under
/// the same namespace recorded. Made by [`Telemetry::realtime`](crate::Telemetry::realtime).
///
/// ```no_run
/// # async fn dashboard() -> Result<(), Box<dyn std::error::Error>> {
/// use std::time::Duration;
///
/// let telemetry = kansoku::Telemetry::builder()
///     .namespace("osakamenesu")
///     .redis_url("redis://127.0.0.1:6379/")
///     .build()?;
/// let now = telemetry.realtime().snapshot(Duration::from_secs(60)).await?;
/// for ((endpoint, method), stats) in &now.endpoints {
///     println!(
///         "{method} {endpoint}: {:.1} req/s, {:.1}% errors, p95 {:?}",
///         stats.rate,
///         stats.error_ratio * 100.0,
///         stats.p95,
///     );
/// }
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct Realtime {
    backend: Option<Arc<RedisBackend>>,
}

impl Realtime {
    pub(crate) fn new(backend: Option<Arc<RedisBackend>>) -> Realtime {
        Realtime { backend }
    }

    /// What every instance recorded over the last `window` (whole time buckets: the current
    /// one and those before it that the window reaches). Counts still in an instance's memory
    /// (up to one flush interval) are not in it yet. Works on any async runtime.
    ///
    /// The read has a connection of its own: it does not wait for a flush in progress, even
    /// one stuck on an unresponsive Redis.
    pub async fn snapshot(&self, window: Duration) -> Result<RealtimeSnapshot, RealtimeError> {
        let backend = self.backend.as_ref().ok_or(RealtimeError::NotConfigured)?;
        backend.reader.snapshot(window).await
    }
}
