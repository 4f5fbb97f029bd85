//! What an alert says when it fires, is still firing, or recovers: one text for logs and
//! Sentry, and a Slack message (text and blocks).

use serde_json::{json, Value};

use super::condition::Condition;

/// Which moment of an alert a message is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// It started firing.
    Firing,
    /// It has been firing for a cooldown and is still firing.
    StillFiring,
    /// It stopped firing.
    Resolved,
}

/// One notification.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq)]
pub struct Notice {
    /// The alert's name.
    pub alert: String,
    /// Firing, still firing or resolved.
    pub kind: Kind,
    /// The value that was read.
    pub value: f64,
    /// The condition, e.g. `> 100`.
    pub condition: String,
    /// The threshold in it.
    pub threshold: f64,
    /// The alert's own summary line.
    pub summary: String,
    /// Service and environment, when the telemetry knows them.
    pub origin: String,
}

impl Notice {
    pub(crate) fn new(
        alert: &str,
        kind: Kind,
        value: f64,
        condition: &Condition,
        summary: &str,
        origin: String,
    ) -> Notice {
        Notice {
            alert: alert.to_owned(),
            kind,
            value,
            condition: condition.to_string(),
            threshold: condition.threshold,
            summary: summary.to_owned(),
            origin,
        }
    }

    /// One line: `[FIRING] reservation_queue: value 120 (alert when > 100). Reservations wait.`
    pub fn text(&self) -> String {
        let state = match self.kind {
            Kind::Firing => "FIRING",
            Kind::StillFiring => "STILL FIRING",
            Kind::Resolved => "RESOLVED",
        };
        let mut text = format!(
            "[{state}] {}: value {} (alert when {})",
            self.alert, self.value, self.condition
        );
        if !self.summary.is_empty() {
            text.push_str(". ");
            text.push_str(&self.summary);
        }
        if !self.origin.is_empty() {
            text.push_str(" — ");
            text.push_str(&self.origin);
        }
        text
    }

    /// The body of a Slack incoming-webhook post: `text` (shown in notifications) and blocks.
    pub fn slack_body(&self) -> Value {
        let (emoji, state) = match self.kind {
            Kind::Firing => (":rotating_light:", "firing"),
            Kind::StillFiring => (":rotating_light:", "still firing"),
            Kind::Resolved => (":white_check_mark:", "resolved"),
        };
        let mut blocks = vec![
            json!({"type": "header", "text": {"type": "plain_text", "text": format!("{emoji} {} {state}", self.alert), "emoji": true}}),
            json!({"type": "section", "fields": [
                {"type": "mrkdwn", "text": format!("*Value*\n{}", self.value)},
                {"type": "mrkdwn", "text": format!("*Alert when*\n{}", self.condition)},
            ]}),
        ];
        if !self.summary.is_empty() {
            blocks
                .push(json!({"type": "section", "text": {"type": "mrkdwn", "text": self.summary}}));
        }
        if !self.origin.is_empty() {
            blocks.push(
                json!({"type": "context", "elements": [{"type": "mrkdwn", "text": self.origin}]}),
            );
        }
        json!({"text": self.text(), "blocks": blocks})
    }
}
