//! The read side shared by the exporters: every timed series of a [`Recorder`], merged by
//! label set, as cumulative snapshots.

use std::collections::BTreeMap;

use super::{Recorder, TimedSnapshot};
use crate::site::Attribute;

/// The timed series of one kind, merged by label set (two functions may share an endpoint):
/// `(endpoint, method)` for requests, `(operation, table)` for queries.
pub(crate) type Timed = BTreeMap<(String, String), TimedSnapshot>;

impl Recorder {
    /// Every request series and every query series, call sites and run-time labelled series
    /// alike, read now.
    pub(crate) fn timed_series(&self) -> (Timed, Timed) {
        let config = &self.config;
        let (mut api, mut db) = (Timed::new(), Timed::new());
        self.for_each_site(|site, state| {
            let (target, key) = match site.attribute {
                Attribute::ApiRequest { method, .. } => {
                    (&mut api, (site.name().to_owned(), method.to_owned()))
                }
                Attribute::DbQuery { operation, table } => {
                    (&mut db, (operation.to_owned(), table.to_owned()))
                }
                Attribute::Endpoint { .. } => return,
            };
            let snap = state.snapshot(config.bounds_for(site.kind()));
            target.entry(key).or_default().merge(&snap);
        });
        self.api.for_each(|l, state| {
            api.entry((l[0].to_owned(), l[1].to_owned()))
                .or_default()
                .merge(&state.snapshot(config.api_bounds));
        });
        self.db.for_each(|l, state| {
            db.entry((l[0].to_owned(), l[1].to_owned()))
                .or_default()
                .merge(&state.snapshot(config.db_bounds));
        });
        (api, db)
    }
}
