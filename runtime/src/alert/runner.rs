//! The task of one alert: read the value every interval, decide firing / resolved, keep the
//! gauge and the board current, and hand notices to the notifier task, which sends them. The
//! check loop never waits for a webhook: a full notifier queue drops the notice (and logs).

use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant, SystemTime};

use tokio::sync::mpsc;

use super::message::{Kind, Notice};
use super::{Actions, Source};
use crate::board::AlertStatus;
use crate::metrics::Gauge;
use crate::Telemetry;

/// `ns_alert_firing{alert}`, named in `names`.
static FIRING: Gauge<1> = Gauge::new(
    crate::names::ALERT_FIRING.name,
    crate::names::ALERT_FIRING.help,
    ["alert"],
);

/// Marks a stopped alert as not firing, in `telemetry`.
pub(crate) fn clear(telemetry: &Telemetry, name: &str) {
    let _scope = telemetry.enter();
    FIRING.set([name], 0.0);
}

/// Notices waiting for the notifier; beyond this the newest is dropped.
const QUEUE: usize = 32;

pub(crate) struct Runner {
    pub(crate) name: String,
    pub(crate) summary: String,
    pub(crate) source: Source,
    pub(crate) condition: super::condition::Condition,
    pub(crate) every: Duration,
    pub(crate) source_timeout: Duration,
    pub(crate) cooldown: Duration,
    pub(crate) status: Arc<Mutex<AlertStatus>>,
    pub(crate) telemetry: Telemetry,
}

/// The alert's memory between checks.
#[derive(Default)]
struct State {
    firing: bool,
    /// Whether this firing episode was announced (a recovery is announced only then).
    announced: bool,
    last_notice: Option<Instant>,
    source_failing: bool,
}

impl Runner {
    fn update(&self, change: impl FnOnce(&mut AlertStatus)) {
        change(&mut self.status.lock().unwrap_or_else(PoisonError::into_inner));
    }

    fn origin(&self) -> String {
        [self.telemetry.service_name(), self.telemetry.environment()]
            .into_iter()
            .flatten()
            .collect::<Vec<_>>()
            .join(" · ")
    }

    pub(crate) async fn run(self, actions: Actions) {
        let (notices, queue) = mpsc::channel(QUEUE);
        tokio::spawn(self.telemetry.instrument(notify(actions, queue)));
        FIRING.set([&self.name], 0.0);
        let mut ticker = tokio::time::interval(self.every);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut state = State::default();
        loop {
            ticker.tick().await;
            match self.read().await {
                Ok(value) => {
                    if state.source_failing {
                        state.source_failing = false;
                        tracing::info!(alert = %self.name, "kansoku alert: its value source works again");
                        self.update(|s| s.source_error = None);
                    }
                    if let Some(notice) = self.decide(&mut state, value) {
                        if notices.try_send(notice).is_err() {
                            tracing::warn!(alert = %self.name, "kansoku alert: notifier busy; a notice was dropped");
                        }
                    }
                }
                Err(why) => self.source_failed(&mut state, why),
            }
        }
    }

    /// The value, read in a task of its own so a panic in the source is caught, and bounded
    /// in time so a hanging source does not stop the checks for good.
    async fn read(&self) -> Result<f64, String> {
        let source = self.source.clone();
        let task = tokio::spawn(self.telemetry.instrument(async move { source().await }));
        let abort = task.abort_handle();
        match tokio::time::timeout(self.source_timeout, task).await {
            Ok(Ok(Ok(value))) if value.is_finite() => Ok(value),
            Ok(Ok(Ok(value))) => Err(format!("the value source returned {value}")),
            Ok(Ok(Err(error))) => Err(format!("the value source failed: {error}")),
            Ok(Err(join)) if join.is_panic() => Err("the value source panicked".to_owned()),
            Ok(Err(_)) => Err("the value source was cancelled".to_owned()),
            Err(_) => {
                abort.abort();
                Err(format!(
                    "the value source did not answer within {:?}",
                    self.source_timeout
                ))
            }
        }
    }

    /// Reports a failing source once per run of failures, not at every check.
    fn source_failed(&self, state: &mut State, why: String) {
        if !state.source_failing {
            state.source_failing = true;
            tracing::error!(alert = %self.name, error = %why, "kansoku alert: cannot read the value; the alert keeps its state until it can");
            crate::capture_message(
                &format!("kansoku alert {}: {why}", self.name),
                crate::Level::Error,
                &[("alert", self.name.as_str().into())],
            );
        }
        self.update(|s| s.source_error = Some(why));
    }

    fn decide(&self, state: &mut State, value: f64) -> Option<Notice> {
        let fires = self.condition.fires(value);
        let now = Instant::now();
        let cooled = state
            .last_notice
            .is_none_or(|last| now.duration_since(last) >= self.cooldown);
        let kind = match (state.firing, fires) {
            (false, true) => {
                state.firing = true;
                state.announced = cooled;
                FIRING.set([&self.name], 1.0);
                self.update(|s| s.firing_since = Some(SystemTime::now()));
                cooled.then_some(Kind::Firing)
            }
            // a firing that was not announced (it came back within the cooldown) is announced
            // once the cooldown is over
            (true, true) => cooled.then_some(if state.announced {
                Kind::StillFiring
            } else {
                Kind::Firing
            }),
            (true, false) => {
                state.firing = false;
                FIRING.set([&self.name], 0.0);
                self.update(|s| s.firing_since = None);
                // a recovery is news only to those who heard of the firing
                std::mem::take(&mut state.announced).then_some(Kind::Resolved)
            }
            (false, false) => None,
        };
        self.update(|s| {
            s.firing = fires;
            s.value = Some(value);
            s.checked_at = Some(SystemTime::now());
        });
        let kind = kind?;
        if kind != Kind::Resolved {
            state.announced = true;
        }
        state.last_notice = Some(now);
        Some(Notice::new(
            &self.name,
            kind,
            value,
            &self.condition,
            &self.summary,
            self.origin(),
        ))
    }
}

/// Sends the notices, one at a time, through every action.
async fn notify(actions: Actions, mut queue: mpsc::Receiver<Notice>) {
    let client = match &actions.slack {
        Some(_) => match super::slack::client() {
            Ok(client) => Some(client),
            Err(error) => {
                tracing::error!(%error, "kansoku alert: Slack notices are off");
                None
            }
        },
        None => None,
    };
    while let Some(notice) = queue.recv().await {
        let text = notice.text();
        tracing::warn!(alert = %notice.alert, "{text}");
        if let Some(level) = actions.sentry {
            let level = if notice.kind == Kind::Resolved {
                crate::Level::Info
            } else {
                level
            };
            crate::capture_message(
                &text,
                level,
                &[
                    ("alert", notice.alert.as_str().into()),
                    ("value", notice.value.into()),
                    ("threshold", notice.threshold.into()),
                    ("condition", notice.condition.as_str().into()),
                ],
            );
        }
        if let (Some(slack), Some(client)) = (&actions.slack, &client) {
            if let Err(last) = slack.post(client, &notice).await {
                tracing::warn!(
                    alert = %notice.alert,
                    host = %slack.host(),
                    attempts = slack.attempts,
                    "kansoku alert: Slack webhook gave up after every try ({last})"
                );
            }
        }
    }
}
