//! A route's `ns_http_*` series in the store (`prometheus`, `otlp` or `redis`). Its twin
//! `no_series.rs` holds and records nothing, so that the layer names no feature.

use std::sync::Arc;

use crate::context::Context;
use crate::record::{Bounds, HttpSeries};
use crate::serving::Served;
use crate::site::Incomplete;
use crate::Status;

/// The series of one (route, method) and the buckets its durations are counted in.
#[derive(Debug)]
pub(crate) struct RouteSeries {
    series: Arc<HttpSeries>,
    bounds: &'static Bounds,
}

impl RouteSeries {
    /// The series of `route` and `method` in `context`'s store, and the request they name.
    pub(super) fn new(
        context: &Context,
        route: &str,
        method: &'static str,
    ) -> (RouteSeries, Served) {
        let recorder = context.recorder.clone();
        let series = RouteSeries {
            series: recorder.http_series(method, route),
            bounds: recorder.config.api_bounds,
        };
        (
            series,
            Served::new(route, method, crate::serving::Series::of(recorder)),
        )
    }

    /// A request begins: in flight.
    #[inline]
    pub(super) fn begin(&self) {
        self.series.timed.begin();
    }

    /// A request ended with `status` (and `code` when a head went out, `grpc` when it was a
    /// gRPC call whose status was seen), after `nanos`; its body ended early when `incomplete`
    /// says why.
    #[inline]
    pub(super) fn end(
        &self,
        status: Status,
        code: Option<u16>,
        grpc: Option<u8>,
        nanos: u64,
        slow: bool,
        incomplete: Option<Incomplete>,
    ) {
        if let Some(code) = code {
            self.series.count_code(code);
        }
        if let Some(grpc) = grpc {
            self.series.count_grpc(grpc);
        }
        if let Some(why) = incomplete {
            self.series.count_incomplete(why);
        }
        self.series
            .timed
            .end(status, self.bounds.index(nanos), nanos);
        if slow {
            self.series
                .slow
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        }
    }
}
