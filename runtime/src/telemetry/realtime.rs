//! The Redis backend's part of the handle: its builder setters and `realtime`.

use crate::redis::{RedisBackend, RedisConfig};
use crate::{Telemetry, TelemetryBuilder};

impl TelemetryBuilder {
    /// The Redis server that real-time counters go to (`redis://[:PASSWORD@]HOST[:PORT][/DB]`,
    /// or `rediss://` without TLS support: not yet). Without one the Redis backend stays off. A
    /// URL that does not parse is an error from `build`/`install`; Redis being down is not:
    /// counts are held and written when it comes up.
    pub fn redis_url(mut self, url: impl Into<String>) -> Self {
        self.backends.redis.urls = vec![url.into()];
        self.backends.redis.cluster = false;
        self
    }

    /// A Redis Cluster, by the URLs of some of its nodes.
    pub fn redis_cluster<S: Into<String>>(mut self, urls: impl IntoIterator<Item = S>) -> Self {
        self.backends.redis.urls = urls.into_iter().map(Into::into).collect();
        self.backends.redis.cluster = true;
        self
    }

    /// The length of a real-time time bucket, in whole seconds (at least 1); default 10 s.
    /// Every instance sharing a namespace should use the same.
    pub fn realtime_bucket(mut self, bucket: std::time::Duration) -> Self {
        self.backends.redis.bucket = bucket;
        self
    }

    /// How long a real-time bucket is kept in Redis (its keys' expiry); default 1 hour.
    pub fn realtime_retention(mut self, retention: std::time::Duration) -> Self {
        self.backends.redis.retention = retention;
        self
    }

    /// How often changes are written to Redis; default 1 s.
    pub fn realtime_flush_interval(mut self, interval: std::time::Duration) -> Self {
        self.backends.redis.flush_interval = interval;
        self
    }

    /// How many (series, time bucket) pairs are held in memory while Redis is unreachable;
    /// default [`crate::DEFAULT_MAX_PENDING`]. Recordings beyond it are left out of Redis
    /// (Prometheus still has them), counted in `ns_realtime_dropped_total` and logged once.
    pub fn realtime_max_pending(mut self, series_buckets: usize) -> Self {
        self.backends.redis.max_pending = series_buckets;
        self
    }

    /// How long `shutdown` waits for the last write to Redis; default 2 s.
    pub fn redis_shutdown_timeout(mut self, timeout: std::time::Duration) -> Self {
        self.backends.redis.shutdown_timeout = timeout;
        self
    }
}

impl RedisConfig {
    /// `KANSOKU_REDIS_URL` (several, comma-separated: a cluster), where the builder set none.
    pub(crate) fn fill_from_env(&mut self, var: &dyn Fn(&str) -> Option<String>) {
        if self.urls.is_empty() {
            if let Some(urls) = var("KANSOKU_REDIS_URL") {
                self.urls = urls
                    .split(',')
                    .map(str::trim)
                    .filter(|u| !u.is_empty())
                    .map(str::to_owned)
                    .collect();
            }
        }
    }
}

impl Telemetry {
    /// Reads the real-time counters every instance writes to Redis; its snapshots fail with
    /// [`crate::RealtimeError::NotConfigured`] when no Redis URL is configured.
    pub fn realtime(&self) -> crate::Realtime {
        crate::Realtime::new(self.context().backend_arc::<RedisBackend>())
    }
}

impl Telemetry {
    /// The Redis URLs the real-time counters use (empty: none), for the ops router's check.
    #[cfg(feature = "axum")]
    pub(crate) fn redis_urls(&self) -> &[String] {
        &self.inner.config.backends.redis.urls
    }
}
