//! The metrics part of a call: what the store counts for it (the hot path).

use std::sync::Arc;

use crate::context::{local_recorder, with_recorder};
use crate::record::{clock, global_bounds, Recorder};
use crate::site::bounds::Bounds;
use crate::site::counters::TimedState;
use crate::site::{Attribute, Ending, Site, SiteKind};

static NO_BOUNDS: Bounds = Bounds {
    nanos: Vec::new(),
    seconds: Vec::new(),
};

/// Where one call records.
#[derive(Debug)]
enum Counters {
    /// The site's own static counters (the process-wide recorder).
    Site,
    /// A test-local recorder's copy of the site's counters.
    Local(Arc<Recorder>, Arc<TimedState>),
    /// The series of the request being served (a site naming no endpoint, inside the HTTP
    /// layers): `endpoint` is its route template.
    Served {
        endpoint: &'static str,
        state: Option<Arc<TimedState>>,
    },
}

/// A call in progress (inside [`super::Call`]).
#[derive(Debug)]
pub(crate) struct Active {
    site: &'static Site,
    counters: Counters,
    bounds: &'static Bounds,
    start: u64,
}

impl Active {
    #[inline(always)]
    pub(crate) fn start(site: &'static Site, type_name: Option<fn() -> &'static str>) -> Active {
        if site.takes_request_labels() {
            if let Some(active) = Active::start_served(site) {
                return active;
            }
        }
        if site.kind() == SiteKind::MonitorApiEndpoint {
            // An endpoint only counts errors, into the recorder current when one happens
            // (still inside the call's poll): nothing to look up or time on the way in.
            site.resolved_name(type_name);
            return Active {
                site,
                counters: Counters::Site,
                bounds: &NO_BOUNDS,
                start: 0,
            };
        }
        site.ensure_registered(type_name);
        let (counters, recorder_bounds) = match local_recorder() {
            None => (Counters::Site, None),
            Some(recorder) => {
                let bounds = recorder.config.bounds_for(site.kind());
                match recorder.local_state(site) {
                    Some(state) => (Counters::Local(recorder, state), Some(bounds)),
                    // the process-wide recorder, entered explicitly
                    None => (Counters::Site, None),
                }
            }
        };
        let bounds = recorder_bounds.unwrap_or_else(|| global_bounds(site.kind()));
        match &counters {
            Counters::Site => site.counters.state.begin(),
            Counters::Local(_, state) => state.begin(),
            Counters::Served { .. } => {}
        }
        let start = clock().raw();
        Active {
            site,
            counters,
            bounds,
            start,
        }
    }

    /// A call of a site naming no endpoint, inside a request served by the HTTP layers: it
    /// records under the request's route template (and method, for `ANY`), through the
    /// handles the layer cached for that route.
    #[inline(never)]
    fn start_served(site: &'static Site) -> Option<Active> {
        crate::serving::with_current(|served| {
            let Attribute::TrackApiRequest { method, .. } = site.attribute else {
                return Active {
                    site,
                    counters: Counters::Served {
                        endpoint: served.route,
                        state: None,
                    },
                    bounds: &NO_BOUNDS,
                    start: 0,
                };
            };
            let method = if method == "ANY" {
                served.method
            } else {
                method
            };
            let found = with_recorder(|recorder| served.api_series(recorder, method));
            let (state, bounds) = match found {
                Some((state, bounds)) => (Some(state), bounds),
                None => (None, &NO_BOUNDS),
            };
            if let Some(state) = &state {
                state.begin();
            }
            Active {
                site,
                counters: Counters::Served {
                    endpoint: served.route,
                    state,
                },
                bounds,
                start: clock().raw(),
            }
        })
    }

    fn state(&self) -> Option<&TimedState> {
        match &self.counters {
            Counters::Site => Some(&self.site.counters.state),
            Counters::Local(_, state) => Some(state),
            Counters::Served { state, .. } => state.as_deref(),
        }
    }

    /// The call ended so.
    #[inline(always)]
    pub(crate) fn end(self, ending: &Ending<'_>) {
        if self.site.kind() == SiteKind::MonitorApiEndpoint {
            // an endpoint only counts its errors, by kind
            match ending {
                Ending::Error(error) => self.record_error(error.short_type_name()),
                Ending::Panic => self.record_error("panic"),
                Ending::Ok | Ending::Cancelled => {}
            }
            return;
        }
        let Some(state) = self.state() else { return };
        let clock = clock();
        let nanos = clock.delta_as_nanos(self.start, clock.raw());
        let bucket = self.bounds.index(nanos);
        state.end(ending.status(), bucket, nanos);
    }

    #[cold]
    #[inline(never)]
    fn record_error(&self, kind: &'static str) {
        match &self.counters {
            Counters::Local(recorder, _) => recorder.record_error(self.site.name(), kind),
            Counters::Site => {
                with_recorder(|recorder| recorder.record_error(self.site.name(), kind));
            }
            Counters::Served { endpoint, .. } => {
                with_recorder(|recorder| recorder.record_error(endpoint, kind));
            }
        }
    }
}
