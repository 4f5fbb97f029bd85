//! What a health check is: the trait the built-in checks implement and an application
//! implements for its own dependencies.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

/// The future a [`HealthCheck`] returns: `Ok` when the dependency answered as it should.
pub type CheckFuture<'a> = Pin<Box<dyn Future<Output = Result<(), CheckError>> + Send + 'a>>;

/// Why a check failed: one line for the `error` field of `/health/detailed`. Anything that
/// implements [`std::error::Error`] converts into it, so `?` works in a check.
///
/// Write it for the people who read the health page: it is served as is, so it must not carry
/// a password or a token (the built-in checks never put their URL in it).
///
/// ```
/// let error = kansoku::http::CheckError::new("queue has 3000 pending jobs");
/// assert_eq!(error.to_string(), "queue has 3000 pending jobs");
/// let from_io: kansoku::http::CheckError = std::io::Error::other("disk full").into();
/// assert_eq!(from_io.to_string(), "disk full");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckError(String);

impl CheckError {
    /// An error with this message.
    pub fn new(message: impl fmt::Display) -> CheckError {
        CheckError(message.to_string())
    }
}

impl fmt::Display for CheckError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl<E: std::error::Error> From<E> for CheckError {
    fn from(error: E) -> CheckError {
        CheckError::new(error)
    }
}

/// A dependency the service needs, checked by `/health/detailed` (and exported as
/// `ns_health_check_up{check}` and `ns_health_check_duration_seconds{check}`).
///
/// Register one with [`OpsConfig::critical`](crate::http::OpsConfig::critical) (down →
/// `unhealthy`, 503) or [`OpsConfig::degrading`](crate::http::OpsConfig::degrading) (down →
/// `degraded`, still 200). The check runs beside the others, under its own timeout (its
/// [`timeout`](HealthCheck::timeout), else the configuration's), and is dropped when the
/// timeout passes, so it may simply await its dependency.
///
/// ```
/// use kansoku::http::{CheckError, CheckFuture, HealthCheck};
///
/// struct ReservationQueue { pending: std::sync::Arc<std::sync::atomic::AtomicU64> }
///
/// impl HealthCheck for ReservationQueue {
///     fn name(&self) -> &str {
///         "reservation_queue"
///     }
///     fn check(&self) -> CheckFuture<'_> {
///         Box::pin(async move {
///             let pending = self.pending.load(std::sync::atomic::Ordering::Relaxed);
///             if pending > 1000 {
///                 return Err(CheckError::new(format!("{pending} reservations waiting")));
///             }
///             Ok(())
///         })
///     }
/// }
///
/// let config = kansoku::http::OpsConfig::new()
///     .degrading(ReservationQueue { pending: Default::default() });
/// ```
pub trait HealthCheck: Send + Sync + 'static {
    /// The check's name: the `name` in the JSON and the `check` label. Keep it stable.
    fn name(&self) -> &str;

    /// Asks the dependency once.
    fn check(&self) -> CheckFuture<'_>;

    /// This check's own bound; `None` takes
    /// [`OpsConfig::check_timeout`](crate::http::OpsConfig::check_timeout).
    fn timeout(&self) -> Option<Duration> {
        None
    }
}
