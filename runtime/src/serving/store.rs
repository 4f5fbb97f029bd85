//! A served route's part in the store (`prometheus`, `otlp` or `redis`): the recorder of the layer
//! that made it and its request series there. Its twin `no_store.rs` holds nothing.

use std::sync::{Arc, OnceLock};

use super::Served;
use crate::record::{Bounds, Recorder};
use crate::site::counters::TimedState;

/// The recorder of the layer that made a route, if it records, and the
/// `ns_api_requests_*{endpoint=route, method}` series of that recorder, made on first use.
#[derive(Debug, Default)]
pub(crate) struct Series {
    recorder: Option<Arc<Recorder>>,
    api: OnceLock<(Arc<TimedState>, &'static Bounds)>,
}

impl Series {
    /// A route no store records (the Sentry layer's alone).
    pub(crate) fn none() -> Series {
        Series::default()
    }

    /// A route recorded into `recorder`.
    pub(crate) fn of(recorder: Arc<Recorder>) -> Series {
        Series {
            recorder: Some(recorder),
            api: OnceLock::new(),
        }
    }
}

impl Served {
    /// The request series of this route and `method` in `recorder`: cached when it is the
    /// layer's own recorder and the request's method (the common case: no lock, no hash).
    pub(crate) fn api_series(
        &self,
        recorder: &Recorder,
        method: &str,
    ) -> (Arc<TimedState>, &'static Bounds) {
        let own = self
            .series
            .recorder
            .as_deref()
            .is_some_and(|own| std::ptr::eq(own, recorder));
        if own && method == self.method {
            let (state, bounds) = self.series.api.get_or_init(|| {
                recorder
                    .labelled_series(crate::site::SiteKind::TrackApiRequest, [self.route, method])
            });
            return (state.clone(), bounds);
        }
        recorder.labelled_series(crate::site::SiteKind::TrackApiRequest, [self.route, method])
    }
}
