//! The series of the HTTP request-metrics layer: one per (method, route template).

// Written only by the layer (feature `axum`); without it the store holds none.
#![cfg_attr(not(feature = "axum"), allow(dead_code))]

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU16, AtomicU64, Ordering::Relaxed};
use std::sync::{Mutex, PoisonError};

use crate::site::counters::{TimedSnapshot, TimedState};
pub(crate) use crate::site::Incomplete;
use crate::site::Status;

/// Status codes counted without a lock; a series seeing more distinct codes than this counts
/// the rest under a mutex (only a misbehaving service answers with that many).
const CODE_SLOTS: usize = 12;

/// One (method, route) of `ns_http_*`.
#[derive(Debug)]
pub(crate) struct HttpSeries {
    /// Durations and in flight. Status: `Ok` for an answer below 500, `Error` for a 5xx,
    /// `Panic`, `Cancelled` (the client went away).
    pub(crate) timed: TimedState,
    codes: [(AtomicU16, AtomicU64); CODE_SLOTS],
    more_codes: Mutex<BTreeMap<u16, u64>>,
    pub(crate) slow: AtomicU64,
    /// Responses whose body ended early, by [`Incomplete`].
    incomplete: [AtomicU64; 2],
    /// gRPC calls by status (`grpc-status`, 0 to 16).
    grpc: [AtomicU64; GRPC_CODES],
}

/// The gRPC status codes: `0` (`OK`) to `16` (`UNAUTHENTICATED`).
pub(crate) const GRPC_CODES: usize = 17;

/// What the exporter reads of an [`HttpSeries`].
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct HttpSnapshot {
    pub(crate) timed: TimedSnapshot,
    /// Answered requests by status code, ascending.
    pub(crate) codes: Vec<(u16, u64)>,
    pub(crate) slow: u64,
    /// Responses whose body ended early, by [`Incomplete`].
    pub(crate) incomplete: [u64; 2],
    /// gRPC calls by status code.
    pub(crate) grpc: [u64; GRPC_CODES],
}

impl HttpSeries {
    pub(crate) fn new() -> HttpSeries {
        HttpSeries {
            timed: TimedState::new(),
            codes: std::array::from_fn(|_| (AtomicU16::new(0), AtomicU64::new(0))),
            more_codes: Mutex::new(BTreeMap::new()),
            slow: AtomicU64::new(0),
            incomplete: Default::default(),
            grpc: Default::default(),
        }
    }

    /// Counts a gRPC call that ended with status `code` (0 to 16).
    pub(crate) fn count_grpc(&self, code: u8) {
        if let Some(count) = self.grpc.get(usize::from(code)) {
            count.fetch_add(1, Relaxed);
        }
    }

    /// Counts a response whose body ended early.
    pub(crate) fn count_incomplete(&self, why: Incomplete) {
        self.incomplete[why as usize].fetch_add(1, Relaxed);
    }

    /// Counts one answer with status `code`: the slot holding `code`, or the first free one.
    pub(crate) fn count_code(&self, code: u16) {
        for (slot, count) in &self.codes {
            let held = slot.load(Relaxed);
            if held == code {
                count.fetch_add(1, Relaxed);
                return;
            }
            if held == 0 {
                match slot.compare_exchange(0, code, Relaxed, Relaxed) {
                    Ok(_) => {
                        count.fetch_add(1, Relaxed);
                        return;
                    }
                    Err(now) if now == code => {
                        count.fetch_add(1, Relaxed);
                        return;
                    }
                    Err(_) => {}
                }
            }
        }
        *self
            .more_codes
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .entry(code)
            .or_default() += 1;
    }

    pub(crate) fn snapshot(&self, bounds: &super::Bounds) -> HttpSnapshot {
        let mut codes: BTreeMap<u16, u64> = self
            .more_codes
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        for (slot, count) in &self.codes {
            let code = slot.load(Relaxed);
            if code != 0 {
                *codes.entry(code).or_default() += count.load(Relaxed);
            }
        }
        HttpSnapshot {
            timed: self.timed.snapshot(bounds),
            codes: codes.into_iter().filter(|(_, n)| *n > 0).collect(),
            slow: self.slow.load(Relaxed),
            incomplete: [
                self.incomplete[0].load(Relaxed),
                self.incomplete[1].load(Relaxed),
            ],
            grpc: std::array::from_fn(|code| self.grpc[code].load(Relaxed)),
        }
    }
}

impl HttpSnapshot {
    /// Requests cancelled by the client (`status_code="cancelled"`).
    pub(crate) fn cancelled(&self) -> u64 {
        self.timed.by_status[Status::Cancelled.index()]
    }
}

/// The labels the exporters write (here, where only a store reads them).
impl Incomplete {
    pub(crate) const ALL: [Incomplete; 2] = [Incomplete::ClientGone, Incomplete::BodyError];

    pub(crate) fn name(self) -> &'static str {
        match self {
            Incomplete::ClientGone => "client_gone",
            Incomplete::BodyError => "body_error",
        }
    }
}
