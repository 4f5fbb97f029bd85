//! The metrics API without a store (neither `prometheus` nor `redis`): `store.rs`'s items, doing
//! nothing.

// Each item keeps the signature of its twin in `store.rs`.
#![allow(clippy::unused_self)]

use std::time::Duration;

use super::{Counter, Gauge};
use crate::__private::SiteKind;
use crate::Status;

pub(super) fn add<const N: usize>(_counter: &'static Counter<N>, _values: [&str; N], _n: u64) {}

pub(super) fn set<const N: usize>(_gauge: &'static Gauge<N>, _values: [&str; N], _value: f64) {}

pub(super) fn set_db_connections(_used: u64, _max: u64) {}

pub(super) fn record_timed(
    _kind: SiteKind,
    _labels: [&str; 2],
    _status: Status,
    _elapsed: Duration,
) {
}

pub(super) fn record_error(_endpoint: &str, _kind: &str) {}

#[derive(Debug)]
pub(super) struct Started;

impl Started {
    pub(super) fn start(_endpoint: &str, _method: &str) -> Started {
        Started
    }

    pub(super) fn end(&mut self, _status: Status) {}
}
