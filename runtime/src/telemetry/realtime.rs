//! The Redis backend's part of the handle: its builder setters and `realtime`.

use crate::redis::{RedisBackend, RedisConfig};
use crate::{Telemetry, TelemetryBuilder};

impl TelemetryBuilder {
    /// The Redis server that real-time counters go to:
    /// `redis://[[USER]:PASSWORD@]HOST[:PORT][/DB]`, or `rediss://…` for TLS (rustls; the
    /// server's certificate is verified against the system's roots, or the CA given to
    /// [`redis_tls_ca`](Self::redis_tls_ca); it can not be turned off). `USER` is an ACL user
    /// (README "Redis ACL" lists the commands it needs). Without a URL the Redis backend stays
    /// off. A URL that does not parse is an error from `build`/`install`; Redis being down, a
    /// certificate that does not verify or a refused password are not: they are logged once,
    /// reported by [`Telemetry::health`](crate::Telemetry::health), and counts are held and
    /// written once Redis accepts them. Passwords are masked wherever kansoku shows a URL.
    pub fn redis_url(mut self, url: impl Into<String>) -> Self {
        self.backends.redis.urls = vec![url.into()];
        self.backends.redis.cluster = false;
        self.backends.redis.sentinel = None;
        self
    }

    /// A Redis Cluster, by the URLs of some of its nodes (`redis://` or `rediss://`, as for
    /// [`redis_url`](Self::redis_url)).
    pub fn redis_cluster<S: Into<String>>(mut self, urls: impl IntoIterator<Item = S>) -> Self {
        self.backends.redis.urls = urls.into_iter().map(Into::into).collect();
        self.backends.redis.cluster = true;
        self.backends.redis.sentinel = None;
        self
    }

    /// The master that Redis Sentinels name `master_name`, by the Sentinels' URLs
    /// (`redis://[[USER]:PASSWORD@]HOST:PORT[/DB]`, or `rediss://` for TLS to the Sentinels and
    /// the master). The first URL's user, password and database are also used for the master,
    /// unless [`redis_sentinel_master_auth`](Self::redis_sentinel_master_auth) says otherwise.
    /// After a failover, writing resumes on the new master without a restart; a write counts
    /// as done once a replica has it (`WAIT 1`), so what the old master acknowledged is not
    /// lost with it. From the environment: `KANSOKU_REDIS_SENTINEL=MASTER@URL[,URL…]`.
    ///
    /// ```no_run
    /// let telemetry = kansoku::Telemetry::builder()
    ///     .redis_sentinel("mymaster", ["redis://10.0.0.1:26379", "redis://10.0.0.2:26379"])
    ///     .build()?;
    /// # Ok::<(), kansoku::Error>(())
    /// ```
    pub fn redis_sentinel<S: Into<String>>(
        mut self,
        master_name: impl Into<String>,
        sentinel_urls: impl IntoIterator<Item = S>,
    ) -> Self {
        self.backends.redis.sentinel = Some(crate::redis::SentinelConfig {
            master: master_name.into(),
            urls: sentinel_urls.into_iter().map(Into::into).collect(),
            master_auth: None,
        });
        self.backends.redis.urls.clear();
        self.backends.redis.cluster = false;
        self
    }

    /// The ACL user (or `None` for the default user) and password of the Sentinel master,
    /// when they differ from the Sentinels'. From the environment:
    /// `KANSOKU_REDIS_SENTINEL_MASTER_AUTH=[USER]:PASSWORD`.
    pub fn redis_sentinel_master_auth(
        mut self,
        user: Option<&str>,
        password: impl Into<String>,
    ) -> Self {
        if let Some(sentinel) = &mut self.backends.redis.sentinel {
            sentinel.master_auth = Some((user.map(str::to_owned), password.into()));
        }
        self
    }

    /// A PEM file with the CA certificate(s) that sign the Redis server's certificate, for
    /// `rediss://` servers whose CA is not among the system's roots (`KANSOKU_REDIS_TLS_CA`).
    /// A file that cannot be read or holds no certificate is an error from `build`/`install`.
    pub fn redis_tls_ca(mut self, path: impl Into<std::path::PathBuf>) -> Self {
        self.backends.redis.tls_ca = Some(path.into());
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
    /// `KANSOKU_REDIS_URL` (several, comma-separated: a cluster) or `KANSOKU_REDIS_SENTINEL`,
    /// and `KANSOKU_REDIS_TLS_CA`, where the builder set none.
    pub(crate) fn fill_from_env(&mut self, var: &dyn Fn(&str) -> Option<String>) {
        if self.tls_ca.is_none() {
            self.tls_ca = var("KANSOKU_REDIS_TLS_CA")
                .filter(|path| !path.trim().is_empty())
                .map(Into::into);
        }
        if self.urls.is_empty() && self.sentinel.is_none() {
            if let Some(spec) = var("KANSOKU_REDIS_SENTINEL").filter(|s| !s.trim().is_empty()) {
                // MASTER@URL[,URL…]: the master's name ends at the first `@`, before any URL
                let (master, urls) = spec.split_once('@').unwrap_or(("", spec.as_str()));
                let master_auth = var("KANSOKU_REDIS_SENTINEL_MASTER_AUTH").map(|auth| match auth
                    .split_once(':')
                {
                    Some((user, password)) => (
                        (!user.is_empty()).then(|| user.to_owned()),
                        password.to_owned(),
                    ),
                    None => (None, auth),
                });
                self.sentinel = Some(crate::redis::SentinelConfig {
                    master: master.trim().to_owned(),
                    urls: split_urls(urls),
                    master_auth,
                });
                return;
            }
        }
        if self.urls.is_empty() && self.sentinel.is_none() {
            if let Some(urls) = var("KANSOKU_REDIS_URL") {
                self.urls = split_urls(&urls);
            }
        }
    }
}

fn split_urls(urls: &str) -> Vec<String> {
    urls.split(',')
        .map(str::trim)
        .filter(|u| !u.is_empty())
        .map(str::to_owned)
        .collect()
}

impl Telemetry {
    /// Reads the real-time counters every instance writes to Redis; its snapshots fail with
    /// [`crate::RealtimeError::NotConfigured`] when no Redis URL is configured.
    pub fn realtime(&self) -> crate::Realtime {
        crate::Realtime::new(self.context().backend_arc::<RedisBackend>())
    }
}

impl Telemetry {
    /// The Redis configuration of the real-time counters, if one is set: the ops router's
    /// Redis check reaches the same server the same way.
    #[cfg(feature = "axum")]
    pub(crate) fn redis_config(&self) -> Option<&RedisConfig> {
        let config = &self.inner.config.backends.redis;
        (!config.urls.is_empty() || config.sentinel.is_some()).then_some(config)
    }
}
