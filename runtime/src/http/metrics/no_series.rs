//! A route without a store (neither `prometheus`, `otlp` nor `redis`): `series.rs`'s `RouteSeries`,
//! holding and recording nothing.

// Each item keeps the signature of its twin in `series.rs`.
#![allow(clippy::unused_self)]

use crate::context::Context;
use crate::serving::Served;
use crate::site::Incomplete;
use crate::Status;

#[derive(Debug)]
pub(crate) struct RouteSeries;

impl RouteSeries {
    pub(super) fn new(
        _context: &Context,
        route: &str,
        method: &'static str,
    ) -> (RouteSeries, Served) {
        (
            RouteSeries,
            Served::new(route, method, crate::serving::Series::none()),
        )
    }

    pub(super) fn begin(&self) {}

    pub(super) fn end(
        &self,
        _status: Status,
        _code: Option<u16>,
        _grpc: Option<u8>,
        _nanos: u64,
        _slow: bool,
        _incomplete: Option<Incomplete>,
    ) {
    }
}
