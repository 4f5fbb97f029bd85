//! The built-in health checks: Redis, an sqlx pool, an HTTP dependency.

mod http;
#[cfg(feature = "redis")]
mod redis;
#[cfg(feature = "sqlx")]
mod sqlx;

pub use self::http::HttpCheck;
#[cfg(feature = "redis")]
pub use self::redis::RedisCheck;
#[cfg(feature = "sqlx")]
pub use self::sqlx::SqlxCheck;
