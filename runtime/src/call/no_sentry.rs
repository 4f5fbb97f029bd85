//! A call without the `sentry` feature: `sentry.rs`'s items, holding and doing nothing.

// Each item keeps the signature of its twin in `sentry.rs`.
#![allow(clippy::unused_self, clippy::trivially_copy_pass_by_ref)]

use std::marker::PhantomData;

use crate::site::{Ending, Site};

#[derive(Debug)]
pub(crate) struct Scope;

pub(crate) type Entered = PhantomData<()>;

/// A [`super::Bound`] future holds nothing of its call: nothing enters it at each poll.
pub(crate) type CallRef<'a> = PhantomData<&'a super::Call>;

impl Scope {
    #[inline(always)]
    pub(super) fn start(_site: &'static Site, _type_name: Option<fn() -> &'static str>) -> Scope {
        Scope
    }

    #[inline(always)]
    pub(super) fn enter(&self) -> Entered {
        PhantomData
    }

    #[inline(always)]
    pub(super) fn field(&self, _name: &'static str, _value: &dyn core::fmt::Debug) {}

    #[inline(always)]
    pub(super) fn end(self, _ending: &Ending<'_>) {}
}

#[inline(always)]
pub(super) fn call_ref(_call: &super::Call) -> CallRef<'_> {
    PhantomData
}

#[inline(always)]
pub(super) fn enter_for_poll(_call: &CallRef<'_>) -> impl Sized {
    PhantomData::<()>
}
