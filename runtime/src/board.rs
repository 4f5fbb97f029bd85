//! The application alerts' current states: written by the alert tasks (`alert`), read through
//! [`Telemetry::alerts`](crate::Telemetry::alerts) (a live page, `/health/detailed`). It knows
//! nothing of how an alert is checked or sent.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::SystemTime;

/// What one application alert says now.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct AlertStatus {
    /// Its name (the `alert` label of `ns_alert_firing`).
    pub name: String,
    /// Whether its condition held at the last check.
    pub firing: bool,
    /// The value of the last successful check.
    pub value: Option<f64>,
    /// The condition, e.g. `> 100`.
    pub condition: String,
    /// When it started firing (while it fires).
    pub firing_since: Option<SystemTime>,
    /// When it was last checked successfully.
    pub checked_at: Option<SystemTime>,
    /// Why the value could not be read, while it cannot.
    pub source_error: Option<String>,
}

impl AlertStatus {
    pub(crate) fn new(name: &str, condition: String) -> AlertStatus {
        AlertStatus {
            name: name.to_owned(),
            firing: false,
            value: None,
            condition,
            firing_since: None,
            checked_at: None,
            source_error: None,
        }
    }
}

/// Every alert of one telemetry instance, by registration order.
#[derive(Debug, Default)]
pub(crate) struct Board {
    alerts: Mutex<Vec<Arc<Mutex<AlertStatus>>>>,
}

impl Board {
    /// Adds an alert; the returned cell is where its task writes.
    pub(crate) fn register(&self, status: AlertStatus) -> Arc<Mutex<AlertStatus>> {
        let cell = Arc::new(Mutex::new(status));
        self.alerts
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(cell.clone());
        cell
    }

    /// Removes a stopped alert.
    pub(crate) fn remove(&self, cell: &Arc<Mutex<AlertStatus>>) {
        self.alerts
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .retain(|c| !Arc::ptr_eq(c, cell));
    }

    pub(crate) fn statuses(&self) -> Vec<AlertStatus> {
        self.alerts
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
            .map(|cell| cell.lock().unwrap_or_else(PoisonError::into_inner).clone())
            .collect()
    }
}
