//! What was lost, by Sentry data category and discard reason: counted once when it happens,
//! shown in `ns_sentry_events_dropped_total{category,reason}` and the backend's health, and
//! reported to Sentry as [client reports](https://develop.sentry.dev/sdk/telemetry/client-reports/)
//! so the loss is visible on both sides.
//!
//! Losses the `sentry` client itself decides (`before_send`, event processors, error sampling)
//! reach the transport as client report items riding on the next envelope; the transport takes
//! them off, counts them here and reports them with its own, so there is one report stream.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

use sentry::protocol::client_report::{
    Category as SentryCategory, Item, LossSource, Reason as SentryReason,
};
use sentry::protocol::{ClientReport, Envelope, EnvelopeItem};

/// A data category, named as Relay names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Category {
    Error,
    Transaction,
    Span,
    Session,
    Attachment,
    Monitor,
    LogItem,
    LogByte,
    TraceMetric,
    TraceMetricByte,
}

/// A discard reason, named as Sentry's client reports name it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Reason {
    QueueOverflow,
    RatelimitBackoff,
    NetworkError,
    SendError,
    BeforeSend,
    EventProcessor,
    SampleRate,
    InternalSdkError,
    BufferOverflow,
}

const CATEGORIES: [Category; 10] = [
    Category::Error,
    Category::Transaction,
    Category::Span,
    Category::Session,
    Category::Attachment,
    Category::Monitor,
    Category::LogItem,
    Category::LogByte,
    Category::TraceMetric,
    Category::TraceMetricByte,
];

const REASONS: [Reason; 9] = [
    Reason::QueueOverflow,
    Reason::RatelimitBackoff,
    Reason::NetworkError,
    Reason::SendError,
    Reason::BeforeSend,
    Reason::EventProcessor,
    Reason::SampleRate,
    Reason::InternalSdkError,
    Reason::BufferOverflow,
];

impl Category {
    pub(crate) fn name(self) -> &'static str {
        match self {
            Category::Error => "error",
            Category::Transaction => "transaction",
            Category::Span => "span",
            Category::Session => "session",
            Category::Attachment => "attachment",
            Category::Monitor => "monitor",
            Category::LogItem => "log_item",
            Category::LogByte => "log_byte",
            Category::TraceMetric => "trace_metric",
            Category::TraceMetricByte => "trace_metric_byte",
        }
    }

    fn sentry(self) -> SentryCategory {
        match self {
            Category::Error => SentryCategory::Error,
            Category::Transaction => SentryCategory::Transaction,
            Category::Span => SentryCategory::Span,
            Category::Session => SentryCategory::Session,
            Category::Attachment => SentryCategory::Attachment,
            Category::Monitor => SentryCategory::Monitor,
            Category::LogItem => SentryCategory::LogItem,
            Category::LogByte => SentryCategory::LogByte,
            Category::TraceMetric => SentryCategory::TraceMetric,
            Category::TraceMetricByte => SentryCategory::TraceMetricByte,
        }
    }

    fn from_sentry(category: SentryCategory) -> Option<Category> {
        CATEGORIES.into_iter().find(|c| c.sentry() == category)
    }

    fn index(self) -> usize {
        CATEGORIES.iter().position(|c| *c == self).unwrap_or(0)
    }
}

impl Reason {
    pub(crate) fn name(self) -> &'static str {
        match self {
            Reason::QueueOverflow => "queue_overflow",
            Reason::RatelimitBackoff => "ratelimit_backoff",
            Reason::NetworkError => "network_error",
            Reason::SendError => "send_error",
            Reason::BeforeSend => "before_send",
            Reason::EventProcessor => "event_processor",
            Reason::SampleRate => "sample_rate",
            Reason::InternalSdkError => "internal_sdk_error",
            Reason::BufferOverflow => "buffer_overflow",
        }
    }

    fn sentry(self) -> SentryReason {
        match self {
            Reason::QueueOverflow => SentryReason::QueueOverflow,
            Reason::RatelimitBackoff => SentryReason::RatelimitBackoff,
            Reason::NetworkError => SentryReason::NetworkError,
            Reason::SendError => SentryReason::SendError,
            Reason::BeforeSend => SentryReason::BeforeSend,
            Reason::EventProcessor => SentryReason::EventProcessor,
            Reason::SampleRate => SentryReason::SampleRate,
            Reason::InternalSdkError => SentryReason::InternalSdkError,
            Reason::BufferOverflow => SentryReason::BufferOverflow,
        }
    }

    fn from_sentry(reason: SentryReason) -> Option<Reason> {
        REASONS.into_iter().find(|r| r.sentry() == reason)
    }

    fn index(self) -> usize {
        REASONS.iter().position(|r| *r == self).unwrap_or(0)
    }
}

type Table = [[AtomicU64; REASONS.len()]; CATEGORIES.len()];

fn table() -> Table {
    std::array::from_fn(|_| std::array::from_fn(|_| AtomicU64::new(0)))
}

/// A counter on a cache line of its own (two: x86 prefetches lines in pairs).
#[repr(align(128))]
#[derive(Default)]
struct Padded(AtomicU64);

/// Stripes of the unsampled-transaction count: written on the hot path of most calls (90% of
/// them at a 10% rate), so concurrent calls must not all write one cache line.
const UNSAMPLED_STRIPES: usize = 8;

/// Every loss since start-up (`total`) and those not yet reported to Sentry (`pending`).
/// Lock-free: a request that drops something pays one atomic add per counter.
pub(crate) struct Losses {
    total: Table,
    pending: Table,
    /// Transactions not sampled (reason `sample_rate`, one transaction and its root span each).
    unsampled: [Padded; UNSAMPLED_STRIPES],
    /// How many of them went into a client report already.
    unsampled_reported: AtomicU64,
}

impl std::fmt::Debug for Losses {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_map()
            .entries(
                self.totals()
                    .into_iter()
                    .map(|(c, r, n)| (format!("{}/{}", c.name(), r.name()), n)),
            )
            .finish()
    }
}

impl Default for Losses {
    fn default() -> Self {
        Losses {
            total: table(),
            pending: table(),
            unsampled: Default::default(),
            unsampled_reported: AtomicU64::new(0),
        }
    }
}

impl Losses {
    /// `quantity` items of `category` lost for `reason`, now.
    pub(crate) fn record(&self, category: Category, reason: Reason, quantity: u64) {
        if quantity == 0 {
            return;
        }
        self.total[category.index()][reason.index()].fetch_add(quantity, Relaxed);
        self.pending[category.index()][reason.index()].fetch_add(quantity, Relaxed);
    }

    /// One transaction not sampled; `pick` (any number: the sampling draw) chooses the stripe.
    #[inline]
    pub(crate) fn unsampled(&self, pick: u32) {
        self.unsampled[pick as usize % UNSAMPLED_STRIPES]
            .0
            .fetch_add(1, Relaxed);
    }

    fn unsampled_total(&self) -> u64 {
        self.unsampled.iter().map(|s| s.0.load(Relaxed)).sum()
    }

    /// Everything `envelope` carries, refused by the server with a `429`: counted here, but
    /// not reported, since Relay counts what it refuses itself. Client reports it carries go
    /// back to the pending report.
    pub(crate) fn record_refused(&self, envelope: &Envelope) {
        for item in envelope.items() {
            if let EnvelopeItem::ClientReport(report) = item {
                self.restore(report);
                continue;
            }
            for loss in item.losses() {
                if let Some(category) = Category::from_sentry(loss.category) {
                    self.total[category.index()][Reason::RatelimitBackoff.index()]
                        .fetch_add(loss.quantity, Relaxed);
                }
            }
        }
    }

    /// Everything `envelope` carries, lost for `reason`. Client reports it carries are not a
    /// loss of their own: their counts go back to the pending report.
    pub(crate) fn record_envelope(&self, envelope: &Envelope, reason: Reason) {
        for item in envelope.items() {
            self.record_item(item, reason);
        }
    }

    /// As [`Self::record_envelope`] for one item.
    pub(crate) fn record_item(&self, item: &EnvelopeItem, reason: Reason) {
        if let EnvelopeItem::ClientReport(report) = item {
            self.restore(report);
            return;
        }
        for loss in item.losses() {
            if let Some(category) = Category::from_sentry(loss.category) {
                self.record(category, reason, loss.quantity);
            }
        }
    }

    /// Takes in a client report the `sentry` client attached (losses it decided itself): they
    /// are counted, and reported again with the transport's own.
    pub(crate) fn absorb(&self, report: &ClientReport) {
        for loss in report.losses() {
            let reason = loss.reason.and_then(Reason::from_sentry);
            if let (Some(category), Some(reason)) = (Category::from_sentry(loss.category), reason) {
                self.record(category, reason, loss.quantity);
            }
        }
    }

    /// Puts the counts of a report that could not be sent back into the next one.
    fn restore(&self, report: &ClientReport) {
        for loss in report.losses() {
            let reason = loss.reason.and_then(Reason::from_sentry);
            if let (Some(category), Some(reason)) = (Category::from_sentry(loss.category), reason) {
                self.pending[category.index()][reason.index()].fetch_add(loss.quantity, Relaxed);
            }
        }
    }

    /// The losses not reported yet, as a client report, and resets them; `None` if there are
    /// none.
    pub(crate) fn take_report(&self) -> Option<ClientReport> {
        let mut items = Vec::new();
        let unsampled = self.unsampled_total();
        let fresh = unsampled.saturating_sub(self.unsampled_reported.swap(unsampled, Relaxed));
        if fresh > 0 {
            for category in [SentryCategory::Transaction, SentryCategory::Span] {
                items.push(Item::new(category, SentryReason::SampleRate, fresh));
            }
        }
        for category in CATEGORIES {
            for reason in REASONS {
                let count = self.pending[category.index()][reason.index()].swap(0, Relaxed);
                if count > 0 {
                    items.push(Item::new(category.sentry(), reason.sentry(), count));
                }
            }
        }
        (!items.is_empty()).then(|| ClientReport::new(items))
    }

    /// Whether some loss waits to be reported.
    pub(crate) fn has_pending(&self) -> bool {
        self.unsampled_total() != self.unsampled_reported.load(Relaxed)
            || self
                .pending
                .iter()
                .flatten()
                .any(|count| count.load(Relaxed) > 0)
    }

    /// Every non-zero total: `(category, reason, count)`.
    pub(crate) fn totals(&self) -> Vec<(Category, Reason, u64)> {
        let mut out = Vec::new();
        let unsampled = self.unsampled_total();
        for category in CATEGORIES {
            for reason in REASONS {
                let mut count = self.total[category.index()][reason.index()].load(Relaxed);
                if reason == Reason::SampleRate
                    && matches!(category, Category::Transaction | Category::Span)
                {
                    count += unsampled;
                }
                if count > 0 {
                    out.push((category, reason, count));
                }
            }
        }
        out
    }

    /// The totals by reason, of events and transactions (what the health report shows; spans
    /// and bytes would count one loss several times).
    pub(crate) fn by_reason(&self) -> BTreeMap<&'static str, u64> {
        let mut out = BTreeMap::new();
        for (category, reason, count) in self.totals() {
            if !matches!(
                category,
                Category::Span | Category::LogByte | Category::TraceMetricByte
            ) {
                *out.entry(reason.name()).or_default() += count;
            }
        }
        out
    }
}

/// An envelope carrying one client report.
pub(crate) fn report_envelope(report: ClientReport) -> Envelope {
    let mut envelope = Envelope::new();
    envelope.add_item(report);
    envelope
}

#[cfg(test)]
mod tests {
    use super::*;
    use sentry::protocol::{Event, Span, Transaction};

    fn quantities(report: &ClientReport) -> Vec<(SentryCategory, Option<SentryReason>, u64)> {
        report
            .losses()
            .map(|loss| (loss.category, loss.reason, loss.quantity))
            .collect()
    }

    #[test]
    fn losses_are_counted_once_and_reported_once() {
        let losses = Losses::default();
        let mut envelope = Envelope::new();
        envelope.add_item(Transaction {
            spans: vec![Span::default(), Span::default()],
            ..Transaction::default()
        });
        losses.record_envelope(&envelope, Reason::QueueOverflow);
        losses.record(Category::Error, Reason::NetworkError, 2);
        assert_eq!(
            losses.totals(),
            [
                (Category::Error, Reason::NetworkError, 2),
                (Category::Transaction, Reason::QueueOverflow, 1),
                (Category::Span, Reason::QueueOverflow, 3),
            ]
        );
        let report = losses.take_report().unwrap();
        assert_eq!(
            quantities(&report),
            [
                (SentryCategory::Error, Some(SentryReason::NetworkError), 2),
                (
                    SentryCategory::Transaction,
                    Some(SentryReason::QueueOverflow),
                    1
                ),
                (SentryCategory::Span, Some(SentryReason::QueueOverflow), 3),
            ]
        );
        assert!(losses.take_report().is_none());
        assert!(!losses.has_pending());

        // a report that could not be sent goes back into the next one, not into the totals
        losses.record_envelope(&report_envelope(report), Reason::NetworkError);
        assert_eq!(losses.take_report().map(|r| quantities(&r).len()), Some(3));
        assert_eq!(losses.by_reason().get("network_error"), Some(&2));

        // unsampled transactions: striped, counted with their root span, reported once
        for pick in 0..5 {
            losses.unsampled(pick);
        }
        assert!(losses.has_pending());
        assert!(losses
            .totals()
            .contains(&(Category::Span, Reason::SampleRate, 5)));
        let report = losses.take_report().unwrap();
        assert_eq!(
            quantities(&report),
            [
                (
                    SentryCategory::Transaction,
                    Some(SentryReason::SampleRate),
                    5
                ),
                (SentryCategory::Span, Some(SentryReason::SampleRate), 5),
            ]
        );
        assert!(!losses.has_pending());
    }

    #[test]
    fn the_clients_own_reports_are_absorbed() {
        let losses = Losses::default();
        let report = ClientReport::new([Item::new(
            SentryCategory::Error,
            SentryReason::BeforeSend,
            4,
        )]);
        losses.absorb(&report);
        losses.record_item(
            &EnvelopeItem::Event(Box::new(Event::default())),
            Reason::SendError,
        );
        assert_eq!(
            losses.totals(),
            [
                (Category::Error, Reason::SendError, 1),
                (Category::Error, Reason::BeforeSend, 4),
            ]
        );
    }
}
