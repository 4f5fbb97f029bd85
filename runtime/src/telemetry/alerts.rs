//! The application alerts' part of the handle: their board, and `alerts`.

use std::sync::Arc;

use crate::board::{AlertStatus, Board};
use crate::Telemetry;

impl Telemetry {
    /// Every application alert started on this telemetry ([`kansoku::alert`](crate::alert)),
    /// with whether it fires now, its last value and since when it fires.
    ///
    /// ```
    /// let telemetry = kansoku::Telemetry::builder().build()?;
    /// assert!(telemetry.alerts().iter().all(|alert| !alert.firing));
    /// # Ok::<(), kansoku::Error>(())
    /// ```
    pub fn alerts(&self) -> Vec<AlertStatus> {
        self.alert_board().statuses()
    }

    pub(crate) fn alert_board(&self) -> Arc<Board> {
        self.inner.alerts.clone()
    }
}
