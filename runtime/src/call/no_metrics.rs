//! A call without a store (neither `prometheus`, `otlp` nor `redis`): `metrics.rs`'s `Active`,
//! holding and doing nothing.

// Each item keeps the signature of its twin in `metrics.rs`.
#![allow(clippy::unused_self, clippy::needless_pass_by_value)]

use crate::site::{Ending, Site};

#[derive(Debug)]
pub(crate) struct Active;

impl Active {
    #[inline(always)]
    pub(crate) fn start(_site: &'static Site, _type_name: Option<fn() -> &'static str>) -> Active {
        Active
    }

    #[inline(always)]
    pub(crate) fn end(self, _ending: &Ending<'_>) {}
}
