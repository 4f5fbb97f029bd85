//! HTTP: the ops router (`/metrics`, `/health`, `/health/detailed`) and, from the layers'
//! half of issue 10, the middleware.

mod ops;

#[cfg(feature = "redis")]
pub use ops::RedisCheck;
#[cfg(feature = "sqlx")]
pub use ops::SqlxCheck;
pub use ops::{
    ops_router, CheckError, CheckFuture, HealthCheck, HttpCheck, OpsConfig, DEFAULT_CACHE_TTL,
    DEFAULT_CHECK_TIMEOUT,
};
