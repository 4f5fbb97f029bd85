//! What the ops router is told: the `/metrics` token, the health checks, their bounds.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use super::check::HealthCheck;
use super::health::Registered;

/// The default bound of one health check: [`OpsConfig::check_timeout`].
pub const DEFAULT_CHECK_TIMEOUT: Duration = Duration::from_secs(2);
/// The default time a health report is reused: [`OpsConfig::cache_ttl`].
pub const DEFAULT_CACHE_TTL: Duration = Duration::from_secs(1);

/// The configuration of [`ops_router`](crate::http::ops_router).
///
/// ```
/// use std::time::Duration;
/// use kansoku::http::{HttpCheck, OpsConfig};
///
/// # fn main() -> Result<(), kansoku::Error> {
/// let config = OpsConfig::from_env()               // the token from KANSOKU_OPS_TOKEN, if set
///     .degrading(HttpCheck::new("search", "http://127.0.0.1:7700")?)
///     .check_timeout(Duration::from_secs(1))
///     .cache_ttl(Duration::from_secs(2));
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct OpsConfig {
    pub(crate) token: Option<String>,
    pub(crate) checks: Vec<Registered>,
    pub(crate) check_timeout: Duration,
    pub(crate) cache_ttl: Duration,
    pub(crate) version: Option<String>,
    pub(crate) environment: Option<String>,
    pub(crate) checks_on_scrape: bool,
    /// `Some(critical)`: a check of the telemetry's own Redis, added by the router.
    #[cfg_attr(not(feature = "redis"), allow(dead_code))]
    pub(crate) telemetry_redis: Option<bool>,
}

impl fmt::Debug for OpsConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let checks: Vec<(&str, bool)> = self
            .checks
            .iter()
            .map(|r| (r.check.name(), r.critical))
            .collect();
        f.debug_struct("OpsConfig")
            .field("token", &self.token.as_ref().map(|_| "<redacted>"))
            .field("checks (name, critical)", &checks)
            .field("check_timeout", &self.check_timeout)
            .field("cache_ttl", &self.cache_ttl)
            .field("version", &self.version)
            .field("environment", &self.environment)
            .field("checks_on_scrape", &self.checks_on_scrape)
            .finish_non_exhaustive()
    }
}

impl Default for OpsConfig {
    fn default() -> Self {
        OpsConfig::new()
    }
}

impl OpsConfig {
    /// No token (so `/metrics` is served to loopback clients only), no check.
    pub fn new() -> OpsConfig {
        OpsConfig {
            token: None,
            checks: Vec::new(),
            check_timeout: DEFAULT_CHECK_TIMEOUT,
            cache_ttl: DEFAULT_CACHE_TTL,
            version: None,
            environment: None,
            checks_on_scrape: true,
            telemetry_redis: None,
        }
    }

    /// [`OpsConfig::new`] with the token from `KANSOKU_OPS_TOKEN` (an empty value counts as
    /// unset).
    pub fn from_env() -> OpsConfig {
        let config = OpsConfig::new();
        match std::env::var("KANSOKU_OPS_TOKEN") {
            Ok(token) => config.token(token),
            Err(_) => config,
        }
    }

    /// The bearer token `/metrics` requires (`Authorization: Bearer <token>`), from anywhere.
    /// An empty token counts as none.
    #[must_use]
    pub fn token(mut self, token: impl Into<String>) -> OpsConfig {
        // the credentials of a request are trimmed too; surrounding blanks are never meant
        let token = token.into().trim().to_owned();
        self.token = (!token.is_empty()).then_some(token);
        self
    }

    /// A check whose failure makes the service `unhealthy` (`/health/detailed` answers 503):
    /// the service cannot work without it.
    #[must_use]
    pub fn critical(mut self, check: impl HealthCheck) -> OpsConfig {
        self.checks.push(Registered {
            check: Arc::new(check),
            critical: true,
        });
        self
    }

    /// A check whose failure makes the service `degraded` (still 200): it works without it,
    /// less well.
    #[must_use]
    pub fn degrading(mut self, check: impl HealthCheck) -> OpsConfig {
        self.checks.push(Registered {
            check: Arc::new(check),
            critical: false,
        });
        self
    }

    /// Adds a check named `redis` of the Redis server the telemetry itself writes to
    /// (`KANSOKU_REDIS_URL` or the builder's `redis_url`/`redis_cluster`); nothing when the
    /// telemetry has none. The real-time counters wait for Redis, so `critical` is usually
    /// `false`.
    #[cfg(feature = "redis")]
    #[must_use]
    pub fn redis_check(mut self, critical: bool) -> OpsConfig {
        self.telemetry_redis = Some(critical);
        self
    }

    /// The bound of a check that does not set its own; default 2 s. `/health/detailed` answers
    /// within about the longest bound, however the dependencies behave.
    #[must_use]
    pub fn check_timeout(mut self, timeout: Duration) -> OpsConfig {
        self.check_timeout = timeout;
        self
    }

    /// How long a report is reused; default 1 s. Requests that arrive while the checks run wait
    /// for that run instead of starting their own, so a storm of health checks is one check
    /// of each dependency per TTL.
    #[must_use]
    pub fn cache_ttl(mut self, ttl: Duration) -> OpsConfig {
        self.cache_ttl = ttl;
        self
    }

    /// The `version` in the report; default the telemetry's release.
    #[must_use]
    pub fn version(mut self, version: impl Into<String>) -> OpsConfig {
        self.version = Some(version.into());
        self
    }

    /// The `environment` in the report; default the telemetry's environment.
    #[must_use]
    pub fn environment(mut self, environment: impl Into<String>) -> OpsConfig {
        self.environment = Some(environment.into());
        self
    }

    /// Whether a `/metrics` scrape also refreshes `ns_health_check_up` and
    /// `ns_health_check_duration_seconds`; default `true`, so the gauges follow the scrapes
    /// without anyone calling `/health/detailed`. The refresh runs in the background (through
    /// the same cache) and the scrape never waits for it: a hung dependency cannot slow
    /// `/metrics`, and the gauges served are those of the previous run.
    #[must_use]
    pub fn checks_on_scrape(mut self, refresh: bool) -> OpsConfig {
        self.checks_on_scrape = refresh;
        self
    }
}
