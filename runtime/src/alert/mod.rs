//! Alerts of the application itself: a value read every interval (an async closure: "pending
//! reservations"), compared with a threshold, and actions when it fires and when it recovers —
//! a Sentry message at a level, with the value and threshold as context, and a Slack
//! incoming-webhook message (text and blocks).
//!
//! ```no_run
//! use std::time::Duration;
//! use kansoku::alert::{Alert, Slack};
//!
//! async fn pending_reservations() -> Result<u64, std::io::Error> { Ok(3) }
//!
//! # async fn run(telemetry: kansoku::Telemetry) -> Result<(), kansoku::alert::AlertError> {
//! let queue_alert = Alert::new("reservation_queue")
//!     .value(|| async { pending_reservations().await.map(|n| n as f64) })
//!     .above(100.0)                                  // fires while more than 100 wait
//!     .every(Duration::from_secs(60))
//!     .cooldown(Duration::from_secs(30 * 60))        // at most one message per 30 min
//!     .summary("Reservations are piling up: check the payment worker")
//!     .sentry(kansoku::Level::Warning)
//!     .slack(Slack::from_env())                      // KANSOKU_SLACK_WEBHOOK_URL, if set
//!     .spawn(&telemetry)?;                           // needs a tokio runtime
//! for status in telemetry.alerts() {
//!     println!("{} firing: {}", status.name, status.firing);
//! }
//! queue_alert.stop();
//! # Ok(()) }
//! ```
//!
//! How it behaves:
//! - **Cooldown**: a message when it starts firing; while it keeps firing, a reminder once per
//!   cooldown, not at every check; a firing that comes back within the cooldown of the last
//!   message waits for the cooldown's end.
//! - **Recovery**: a `RESOLVED` message when the value falls back (when the firing was
//!   announced).
//! - **State**: `ns_alert_firing{alert}` is 1 while it fires; [`Telemetry::alerts`] lists
//!   every alert's status.
//! - **Webhook failures**: each try is bounded by a timeout, retried with doubling backoff a
//!   bounded number of times ([`Slack::attempts`]), then given up with one log line. Messages
//!   are sent by a task of their own: a slow or hanging webhook never delays the checks, and
//!   nothing waits for it in the application.
//! - **A failing value source** (an `Err`, a panic, no answer within the interval) is reported
//!   once — a log line and a Sentry message — until it works again; the alert keeps its state
//!   meanwhile.

mod condition;
mod message;
mod runner;
mod slack;

pub use crate::board::AlertStatus;
pub use condition::Comparison;
pub use message::{Kind, Notice};
pub use slack::{Slack, SLACK_WEBHOOK_ENV};

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use condition::Condition;

use crate::Telemetry;

type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send>>;
pub(crate) type Source = Arc<dyn Fn() -> BoxFuture<Result<f64, String>> + Send + Sync>;

/// What happens when an alert fires or recovers.
#[derive(Debug, Default, Clone)]
pub(crate) struct Actions {
    pub(crate) sentry: Option<crate::Level>,
    pub(crate) slack: Option<Slack>,
}

/// An alert being configured; [`Alert::spawn`] starts it.
pub struct Alert {
    name: String,
    summary: String,
    source: Option<Source>,
    condition: Option<Condition>,
    every: Duration,
    cooldown: Duration,
    actions: Actions,
}

impl fmt::Debug for Alert {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Alert")
            .field("name", &self.name)
            .field("condition", &self.condition.map(|c| c.to_string()))
            .field("every", &self.every)
            .field("cooldown", &self.cooldown)
            .field("actions", &self.actions)
            .finish_non_exhaustive()
    }
}

/// Why an alert could not start.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlertError(pub String);

impl fmt::Display for AlertError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "cannot start the alert: {}", self.0)
    }
}

impl std::error::Error for AlertError {}

impl Alert {
    /// An alert named `name` (the `alert` label; letters, digits, `_`, `-`, `.`). Checks every
    /// 60 s with a 15-minute cooldown unless told otherwise.
    pub fn new(name: impl Into<String>) -> Alert {
        Alert {
            name: name.into(),
            summary: String::new(),
            source: None,
            condition: None,
            every: Duration::from_secs(60),
            cooldown: Duration::from_secs(15 * 60),
            actions: Actions::default(),
        }
    }

    /// Where the value comes from: an async closure returning a number or an error.
    #[must_use]
    pub fn value<F, Fut, E>(mut self, source: F) -> Alert
    where
        F: Fn() -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<f64, E>> + Send + 'static,
        E: fmt::Display + 'static,
    {
        self.source = Some(Arc::new(move || {
            let future = source();
            Box::pin(async move { future.await.map_err(|e| e.to_string()) })
        }));
        self
    }

    /// Fires when the value compared with `threshold` by `comparison` holds.
    #[must_use]
    pub fn when(mut self, comparison: Comparison, threshold: f64) -> Alert {
        self.condition = Some(Condition {
            comparison,
            threshold,
        });
        self
    }

    /// Fires while the value is greater than `threshold`.
    #[must_use]
    pub fn above(self, threshold: f64) -> Alert {
        self.when(Comparison::Above, threshold)
    }

    /// Fires while the value is less than `threshold`.
    #[must_use]
    pub fn below(self, threshold: f64) -> Alert {
        self.when(Comparison::Below, threshold)
    }

    /// How often the value is read. Default 60 s.
    #[must_use]
    pub fn every(mut self, interval: Duration) -> Alert {
        self.every = interval;
        self
    }

    /// The least time between two messages of this alert. Default 15 min.
    #[must_use]
    pub fn cooldown(mut self, cooldown: Duration) -> Alert {
        self.cooldown = cooldown;
        self
    }

    /// A line added to every message: what it means, what to do.
    #[must_use]
    pub fn summary(mut self, summary: impl Into<String>) -> Alert {
        self.summary = summary.into();
        self
    }

    /// Sends a Sentry message at `level` when it fires (and at `Info` when it recovers), with
    /// the value and the threshold as context. Without the `sentry` feature, or without a
    /// DSN, nothing is sent.
    #[must_use]
    pub fn sentry(mut self, level: crate::Level) -> Alert {
        self.actions.sentry = Some(level);
        self
    }

    /// Posts to a Slack incoming webhook; `None` (e.g. [`Slack::from_env`] with the variable
    /// unset) posts nothing.
    #[must_use]
    pub fn slack(mut self, slack: impl Into<Option<Slack>>) -> Alert {
        self.actions.slack = slack.into();
        self
    }

    fn check(&self) -> Result<(Source, Condition), AlertError> {
        let bad = |why: &str| Err(AlertError(format!("`{}`: {why}", self.name)));
        if self.name.is_empty()
            || !self
                .name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
        {
            return bad("the name must be letters, digits, `_`, `-` or `.`");
        }
        if self.every.is_zero() {
            return bad("the interval must be longer than zero");
        }
        if let Some(slack) = &self.actions.slack {
            if let Err(why) = slack.check() {
                return bad(&why);
            }
        }
        let Some(source) = self.source.clone() else {
            return bad("no value source: call `.value(|| async { … })`");
        };
        let Some(condition) = self.condition else {
            return bad("no threshold: call `.above(x)`, `.below(x)` or `.when(comparison, x)`");
        };
        if !condition.threshold.is_finite() {
            return bad("the threshold must be a finite number");
        }
        Ok((source, condition))
    }

    /// Starts checking, on the current tokio runtime, recording into `telemetry`.
    pub fn spawn(self, telemetry: &Telemetry) -> Result<AlertHandle, AlertError> {
        let (source, condition) = self.check()?;
        let runtime = tokio::runtime::Handle::try_current().map_err(|_| {
            AlertError(format!(
                "`{}`: no tokio runtime here; call `spawn` from inside one",
                self.name
            ))
        })?;
        let board = telemetry.alert_board();
        let status = board.register(AlertStatus::new(&self.name, condition.to_string()));
        let runner = runner::Runner {
            name: self.name.clone(),
            summary: self.summary,
            source,
            condition,
            every: self.every,
            // a read may take at most one interval, so checks never pile up
            source_timeout: self.every,
            cooldown: self.cooldown,
            status: status.clone(),
            telemetry: telemetry.clone(),
        };
        let task = runtime.spawn(telemetry.instrument(runner.run(self.actions)));
        Ok(AlertHandle {
            name: self.name,
            task,
            status,
            board,
            telemetry: telemetry.clone(),
        })
    }
}

/// A running alert. Dropping it leaves the alert running; [`AlertHandle::stop`] stops it.
pub struct AlertHandle {
    name: String,
    task: tokio::task::JoinHandle<()>,
    status: Arc<Mutex<AlertStatus>>,
    board: Arc<crate::board::Board>,
    telemetry: Telemetry,
}

impl fmt::Debug for AlertHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AlertHandle")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

impl AlertHandle {
    /// The alert's status now.
    pub fn status(&self) -> AlertStatus {
        self.status
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    /// Stops the checks, sets `ns_alert_firing` to 0 and removes the alert from
    /// [`Telemetry::alerts`]. A message already being sent finishes (within its bounded tries).
    pub fn stop(self) {
        self.task.abort();
        self.board.remove(&self.status);
        runner::clear(&self.telemetry, &self.name);
    }
}
