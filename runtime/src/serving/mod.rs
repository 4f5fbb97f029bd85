//! The request a call serves: set by the HTTP layers for the duration of each poll of a
//! request, read by the attributes that name no endpoint (they take its method and route
//! template) and by the Sentry backend (it names their spans after it).
//!
//! Like the Sentry backend's current call, this is a thread-local pointer set while a poll
//! runs, so it follows the request onto whichever thread polls it; `kansoku::bind` carries it
//! into a task the handler spawns.

// With no backend on, only the layers read it.
// Written by the layers (feature `axum`), read by the backends: with either side off, parts
// of it are unused.
#![cfg_attr(
    not(all(feature = "axum", feature = "sentry", store)),
    allow(dead_code)
)]

use std::cell::Cell;
use std::collections::HashSet;
use std::sync::{Arc, Mutex, PoisonError};

// A route's part in the store, or its twin that holds nothing.
#[cfg_attr(store, path = "store.rs")]
#[cfg_attr(not(store), path = "no_store.rs")]
mod series;

pub(crate) use series::Series;

/// One (route template, method) of one layer: its labels and its cached series handles, shared
/// by every request of it.
#[derive(Debug)]
pub(crate) struct Served {
    pub(crate) route: &'static str,
    pub(crate) method: &'static str,
    /// `GET /shops/{id}`: the transaction's name.
    pub(crate) name: &'static str,
    /// Its recorder and request series, when a store records it.
    series: Series,
}

impl Served {
    pub(crate) fn new(route: &str, method: &'static str, series: Series) -> Served {
        let route = intern(route);
        Served {
            route,
            method,
            name: intern(&format!("{method} {route}")),
            series,
        }
    }
}

thread_local! {
    static CURRENT: Cell<*const Served> = const { Cell::new(std::ptr::null()) };
}

/// Makes `served` the request current on this thread until the guard drops.
pub(crate) fn enter(served: &Arc<Served>) -> Entered {
    Entered {
        previous: CURRENT.with(|current| current.replace(Arc::as_ptr(served))),
    }
}

/// Restores the previous current request when dropped.
#[derive(Debug)]
pub(crate) struct Entered {
    previous: *const Served,
}

impl Drop for Entered {
    fn drop(&mut self) {
        CURRENT.with(|current| current.set(self.previous));
    }
}

/// Runs `f` with the request being served here, if any.
#[inline]
pub(crate) fn with_current<R>(f: impl FnOnce(&Served) -> R) -> Option<R> {
    let ptr = CURRENT.with(Cell::get);
    // SAFETY: a non-null pointer was set by `enter` from an `Arc` that the entering layer's
    // future holds while the guard lives; guards are dropped in reverse order on this thread.
    unsafe { ptr.as_ref() }.map(f)
}

/// The request being served here, as an owned handle (for `kansoku::bind`).
pub(crate) fn current() -> Option<Arc<Served>> {
    with_current(|served| {
        // SAFETY: see `with_current`; the pointer came from `Arc::as_ptr` of a live `Arc`.
        unsafe {
            let ptr = std::ptr::from_ref(served);
            Arc::increment_strong_count(ptr);
            Arc::from_raw(ptr)
        }
    })
}

/// A `'static` copy of `text`, shared by every caller. Only route templates and
/// `METHOD route` names are interned: a bounded set (a router's routes, nine methods and one
/// label for the rest), never anything a client chooses.
pub(crate) fn intern(text: &str) -> &'static str {
    static INTERNED: Mutex<Option<HashSet<&'static str>>> = Mutex::new(None);
    let mut interned = INTERNED.lock().unwrap_or_else(PoisonError::into_inner);
    let set = interned.get_or_insert_with(HashSet::new);
    if let Some(found) = set.get(text) {
        return found;
    }
    let leaked: &'static str = Box::leak(text.to_owned().into_boxed_str());
    set.insert(leaked);
    leaked
}
