//! The Slack incoming webhook: a post per notice, each try under a timeout, retried with
//! backoff a bounded number of times, then given up (and logged) — never more.

use std::fmt;
use std::time::Duration;

use super::message::Notice;

/// The environment variable [`Slack::from_env`] reads.
pub const SLACK_WEBHOOK_ENV: &str = "KANSOKU_SLACK_WEBHOOK_URL";

/// A Slack incoming webhook, and how hard to try it. The URL is a secret: `Debug` shows only
/// its host.
///
/// ```
/// use std::time::Duration;
/// let slack = kansoku::alert::Slack::new("https://hooks.slack.com/services/T000/B000/XXXX")
///     .timeout(Duration::from_secs(5))   // each try (default 5 s)
///     .attempts(3)                       // tries in all (default 3)
///     .backoff(Duration::from_secs(1));  // before the 2nd try; doubles after (default 1 s)
/// assert_eq!(format!("{slack:?}"), "Slack { host: \"hooks.slack.com\", attempts: 3, timeout: 5s, backoff: 1s }");
/// ```
#[derive(Clone)]
pub struct Slack {
    url: String,
    pub(crate) timeout: Duration,
    pub(crate) attempts: u32,
    pub(crate) backoff: Duration,
}

// the URL is left out on purpose: it is the secret
#[allow(clippy::missing_fields_in_debug)]
impl fmt::Debug for Slack {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Slack")
            .field("host", &self.host())
            .field("attempts", &self.attempts)
            .field("timeout", &self.timeout)
            .field("backoff", &self.backoff)
            .finish()
    }
}

impl Slack {
    /// The webhook at `url`.
    pub fn new(url: impl Into<String>) -> Slack {
        Slack {
            url: url.into(),
            timeout: Duration::from_secs(5),
            attempts: 3,
            backoff: Duration::from_secs(1),
        }
    }

    /// The webhook in `KANSOKU_SLACK_WEBHOOK_URL`, if it is set and not empty.
    pub fn from_env() -> Option<Slack> {
        std::env::var(SLACK_WEBHOOK_ENV)
            .ok()
            .filter(|url| !url.trim().is_empty())
            .map(Slack::new)
    }

    /// How long one try may take (connect, send, answer). Default 5 s.
    #[must_use]
    pub fn timeout(mut self, timeout: Duration) -> Slack {
        self.timeout = timeout;
        self
    }

    /// How many tries in all, at least 1. Default 3.
    #[must_use]
    pub fn attempts(mut self, attempts: u32) -> Slack {
        self.attempts = attempts.max(1);
        self
    }

    /// The wait before the second try; it doubles before each next one. Default 1 s.
    #[must_use]
    pub fn backoff(mut self, backoff: Duration) -> Slack {
        self.backoff = backoff;
        self
    }

    /// The URL's host, the only part of it that is shown.
    pub(crate) fn host(&self) -> String {
        self.url
            .parse::<http::Uri>()
            .ok()
            .and_then(|url| url.host().map(str::to_owned))
            .unwrap_or_else(|| "(unparsable URL)".to_owned())
    }

    pub(crate) fn check(&self) -> Result<(), String> {
        match self.url.parse::<http::Uri>() {
            Ok(url)
                if matches!(url.scheme_str(), Some("https" | "http")) && url.host().is_some() =>
            {
                Ok(())
            }
            _ => Err("the Slack webhook URL is not an http(s) URL".to_owned()),
        }
    }

    /// Posts `notice`; `Err` with the last failure after every try failed.
    pub(crate) async fn post(
        &self,
        client: &crate::https::Client,
        notice: &Notice,
    ) -> Result<u32, String> {
        let body = notice.slack_body().to_string();
        let mut wait = self.backoff;
        let mut last = String::new();
        for attempt in 1..=self.attempts {
            if attempt > 1 {
                tokio::time::sleep(wait).await;
                wait = wait.saturating_mul(2);
            }
            let request = http::Request::post(&self.url)
                .header(http::header::CONTENT_TYPE, "application/json")
                .body(http_body_util::Full::new(bytes::Bytes::from(body.clone())))
                .map_err(|_| "the Slack webhook URL is not valid".to_owned())?;
            let sent = crate::https::exchange(client, request, 64 * 1024);
            last = match tokio::time::timeout(self.timeout, sent).await {
                Ok(Ok((status, _))) if status.is_success() => return Ok(attempt),
                Ok(Ok((status, _))) => format!("HTTP {}", status.as_u16()),
                // without the URL: it is the secret
                Ok(Err(crate::https::Failed::Connect(why))) => format!("connection failed: {why}"),
                Ok(Err(crate::https::Failed::Request(why) | crate::https::Failed::Body(why))) => {
                    format!("request failed: {why}")
                }
                Err(_) => format!("no answer within {:?}", self.timeout),
            };
        }
        Err(last)
    }
}

/// The HTTP client of the webhooks: kansoku's own (hyper, rustls with ring), as the Sentry
/// transport's; a redirect is not followed.
pub(crate) fn client() -> Result<crate::https::Client, String> {
    crate::https::client(Duration::from_secs(10))
        .map_err(|e| format!("cannot build the webhook client: {e}"))
}
