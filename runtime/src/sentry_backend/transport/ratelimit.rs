//! Sentry's rate limits, as Relay states them and an SDK must honour them: `429` with
//! `Retry-After`, and `X-Sentry-Rate-Limits` (on any status) per data category.
//!
//! `X-Sentry-Rate-Limits: <limit>(,<limit>)*` where
//! `<limit> = <seconds>:<category>(;<category>)*:<scope>(:<reason_code>(:<namespaces>)?)?`.
//! An empty category list limits every category; the scope (`organization`, `project`, `key`)
//! and the reason code are informative only: an SDK obeys every limit it is given. A limit
//! only ever lengthens: a shorter one later does not lift a longer one.

use std::collections::BTreeMap;
use std::time::{Duration, Instant, SystemTime};

/// How long to wait after a `429` that says nothing about it (Relay's and the SDKs' default).
const DEFAULT_RETRY_AFTER: Duration = Duration::from_secs(60);

/// One `<limit>` of an `X-Sentry-Rate-Limits` header.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Limit {
    pub(crate) retry_after: Duration,
    /// The categories it limits; empty means all of them.
    pub(crate) categories: Vec<String>,
    pub(crate) scope: String,
    pub(crate) reason: Option<String>,
}

/// Parses an `X-Sentry-Rate-Limits` value. A malformed limit is skipped (the others still
/// hold), as Relay's own SDK-side parser does.
pub(crate) fn parse_rate_limits(header: &str) -> Vec<Limit> {
    header
        .split(',')
        .filter_map(|group| {
            let mut fields = group.trim().split(':');
            let seconds: f64 = fields.next()?.trim().parse().ok()?;
            if !seconds.is_finite() || seconds < 0.0 {
                return None;
            }
            let categories = fields
                .next()?
                .split(';')
                .map(str::trim)
                .filter(|c| !c.is_empty())
                .map(str::to_owned)
                .collect();
            let scope = fields.next().unwrap_or("").trim().to_owned();
            let reason = fields
                .next()
                .map(str::trim)
                .filter(|r| !r.is_empty())
                .map(str::to_owned);
            Some(Limit {
                retry_after: Duration::from_secs_f64(seconds.ceil()),
                categories,
                scope,
                reason,
            })
        })
        .collect()
}

/// Parses a `Retry-After` value: delay-seconds (fractions rounded up) or an HTTP date.
pub(crate) fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let value = value.trim();
    if let Ok(seconds) = value.parse::<f64>() {
        return (seconds.is_finite() && seconds >= 0.0)
            .then(|| Duration::from_secs_f64(seconds.ceil()));
    }
    let at = httpdate::parse_http_date(value).ok()?;
    Some(at.duration_since(now).unwrap_or(Duration::ZERO))
}

/// The limits in force: until when each category (or all of them) may not be sent.
#[derive(Debug, Default, Clone)]
pub(crate) struct RateLimits {
    all: Option<Instant>,
    by_category: BTreeMap<String, Instant>,
}

impl RateLimits {
    /// Takes in what a response said. `rate_limits` wins over `Retry-After` when both are
    /// there (Relay sends both on a `429`).
    pub(crate) fn update(
        &mut self,
        now: Instant,
        status: u16,
        retry_after: Option<&str>,
        rate_limits: Option<&str>,
    ) {
        if let Some(header) = rate_limits {
            for limit in parse_rate_limits(header) {
                let until = now + limit.retry_after;
                if limit.categories.is_empty() {
                    extend(&mut self.all, until);
                } else {
                    for category in limit.categories {
                        let slot = self.by_category.entry(category).or_insert(until);
                        *slot = (*slot).max(until);
                    }
                }
            }
        } else if status == 429 {
            let wait = retry_after
                .and_then(|value| parse_retry_after(value, SystemTime::now()))
                .unwrap_or(DEFAULT_RETRY_AFTER);
            extend(&mut self.all, now + wait);
        }
    }

    /// Until when `category` may not be sent, if it is limited at `now`.
    pub(crate) fn limited_until(&self, category: &str, now: Instant) -> Option<Instant> {
        let own = self.by_category.get(category).copied();
        [self.all, own]
            .into_iter()
            .flatten()
            .filter(|until| *until > now)
            .max()
    }

    /// The categories limited at `now` and until when (`*` for all), for the health report.
    pub(crate) fn active(&self, now: Instant) -> Vec<(String, Instant)> {
        self.all
            .filter(|until| *until > now)
            .map(|until| ("*".to_owned(), until))
            .into_iter()
            .chain(
                self.by_category
                    .iter()
                    .filter(|(_, until)| **until > now)
                    .map(|(category, until)| (category.clone(), *until)),
            )
            .collect()
    }
}

fn extend(slot: &mut Option<Instant>, until: Instant) {
    *slot = Some(slot.map_or(until, |current| current.max(until)));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_full_grammar_parses() {
        let limits = parse_rate_limits(
            "60:transaction:key, 2.5:error;default;attachment:organization:usage_exceeded, \
             10::project:quota:custom",
        );
        assert_eq!(limits.len(), 3);
        assert_eq!(limits[0].retry_after, Duration::from_secs(60));
        assert_eq!(limits[0].categories, ["transaction"]);
        assert_eq!(limits[0].scope, "key");
        assert_eq!(limits[0].reason, None);
        // fractions round up
        assert_eq!(limits[1].retry_after, Duration::from_secs(3));
        assert_eq!(limits[1].categories, ["error", "default", "attachment"]);
        assert_eq!(limits[1].reason.as_deref(), Some("usage_exceeded"));
        // empty category list: every category
        assert!(limits[2].categories.is_empty());
        assert_eq!(limits[2].reason.as_deref(), Some("quota"));
    }

    #[test]
    fn malformed_limits_are_skipped_and_the_rest_kept() {
        let limits = parse_rate_limits("abc:error:key, 5, -3:error:key, 7:transaction:key,");
        assert_eq!(limits.len(), 1, "{limits:?}");
        assert_eq!(limits[0].categories, ["transaction"]);
        assert!(parse_rate_limits("").is_empty());
    }

    #[test]
    fn retry_after_is_seconds_or_an_http_date() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(784_111_777);
        assert_eq!(parse_retry_after("2", now), Some(Duration::from_secs(2)));
        assert_eq!(parse_retry_after("0.2", now), Some(Duration::from_secs(1)));
        assert_eq!(
            parse_retry_after("Sun, 06 Nov 1994 08:49:47 GMT", now),
            Some(Duration::from_secs(10))
        );
        assert_eq!(parse_retry_after("soon", now), None);
    }

    #[test]
    fn limits_apply_per_category_and_only_lengthen() {
        let now = Instant::now();
        let mut limits = RateLimits::default();
        limits.update(now, 200, None, Some("60:transaction:key"));
        assert!(limits.limited_until("transaction", now).is_some());
        assert!(limits.limited_until("error", now).is_none());
        limits.update(now, 429, Some("1"), Some("5:transaction:key"));
        assert_eq!(
            limits.limited_until("transaction", now),
            Some(now + Duration::from_secs(60))
        );
        assert!(limits
            .limited_until("transaction", now + Duration::from_secs(61))
            .is_none());
    }

    #[test]
    fn a_bare_429_limits_everything_for_its_retry_after_or_a_minute() {
        let now = Instant::now();
        let mut limits = RateLimits::default();
        limits.update(now, 429, Some("2"), None);
        assert_eq!(
            limits.limited_until("error", now),
            Some(now + Duration::from_secs(2))
        );
        let mut limits = RateLimits::default();
        limits.update(now, 429, None, None);
        assert_eq!(
            limits.limited_until("transaction", now),
            Some(now + DEFAULT_RETRY_AFTER)
        );
        // a 200 without the header changes nothing
        let mut limits = RateLimits::default();
        limits.update(now, 200, Some("30"), None);
        assert!(limits.active(now).is_empty());
    }

    #[test]
    fn an_empty_category_list_limits_all() {
        let now = Instant::now();
        let mut limits = RateLimits::default();
        limits.update(now, 429, None, Some("3::organization"));
        assert!(limits.limited_until("error", now).is_some());
        assert!(limits.limited_until("transaction", now).is_some());
        assert_eq!(limits.active(now).len(), 1);
    }
}
