//! The counters of one timed series, striped over cache lines so that a series written from
//! many cores at once costs per call about what it costs from one.
//!
//! Why striping, and why this shape (the design `java.util.concurrent.atomic.LongAdder` uses):
//!
//! - A call writes three counters (`started`, one bucket cell, one sum). When two cores write
//!   the same cache line, each write first takes the line from the other core; on the reference
//!   machine that tripled the cost of a call from two threads. The only cure is for concurrent
//!   writers to write different lines, and for readers to add the lines up.
//! - Most series are never written by two cores at the same moment, so a series starts with
//!   one stripe, kept inline (in the call site's `static`, no allocation), and its hot path is
//!   what it was before striping: a null check of the table pointer, then relaxed atomics on
//!   the inline stripe. `started` is bumped with a compare-and-swap instead of a `fetch_add`:
//!   as cheap when the line is local, and a failure is the signal that another core is writing
//!   the line now.
//! - On that signal the series gets a table of stripe slots, sized to the machine (twice the
//!   cores, rounded up to a power of two, between 4 and 64), and each thread writes the slot its
//!   thread-local probe picks (slot 0 is the inline stripe). A slot's stripe is allocated when a
//!   thread first lands on it, so a series pays for as many stripes as threads really wrote it
//!   concurrently, never more than the table's size: memory per series is bounded by the table
//!   (8 bytes a slot) plus at most that many stripes (about 1 KiB each). Stripes are never freed
//!   while the series lives, so a reference to one stays valid without any reclamation scheme.
//! - Two threads whose probes pick the same slot would contend again; a failed compare-and-swap
//!   on a stripe moves the thread's probe (a xorshift step), so colliding threads drift apart
//!   (`LongAdder`'s rehash), and more threads than cores share stripes only as often as the
//!   scheduler runs them at once.
//! - Per-core stripes (by `sched_getcpu`/`rdpid`) would need a system call or a non-portable
//!   instruction on every call and still collide after a migration; a per-thread probe is one
//!   thread-local read, taken only once a series is contended.
//! - A stripe is aligned to 128 bytes (two lines: x86 prefetches lines in adjacent pairs), so no
//!   stripe shares a line with another stripe or with the read-mostly fields of its site.
//!
//! Readers add every stripe; nothing read out changes: ends are read before starts, so the
//! in-flight gauge (started − ended) is never negative, and at rest every total is exact.

use std::cell::Cell;
use std::num::NonZero;
use std::ptr;
use std::sync::atomic::{
    AtomicPtr, AtomicU32, AtomicU64, AtomicUsize,
    Ordering::{AcqRel, Acquire, Relaxed},
};

use super::bounds::MAX_BOUNDS;
use super::Status;

pub(crate) const BUCKETS: usize = MAX_BOUNDS + 1;

/// One stripe: every counter a call writes. Each status has its own bucket row, so one
/// `fetch_add` on a bucket counts the call, its status and its histogram bucket at once.
#[derive(Debug)]
#[repr(align(128))]
pub(crate) struct Cells {
    pub(crate) started: AtomicU64,
    pub(crate) buckets: [[AtomicU64; BUCKETS]; Status::COUNT],
    pub(crate) sum_nanos: [AtomicU64; Status::COUNT],
}

impl Cells {
    const fn new() -> Cells {
        Cells {
            started: AtomicU64::new(0),
            buckets: [const { [const { AtomicU64::new(0) }; BUCKETS] }; Status::COUNT],
            sum_nanos: [const { AtomicU64::new(0) }; Status::COUNT],
        }
    }

    /// Counts a start; `false` if another thread wrote `started` between our read and write
    /// (the start is counted all the same).
    #[inline(always)]
    fn start(&self) -> bool {
        let seen = self.started.load(Relaxed);
        if self
            .started
            .compare_exchange(seen, seen + 1, Relaxed, Relaxed)
            .is_ok()
        {
            return true;
        }
        self.started.fetch_add(1, Relaxed);
        false
    }
}

/// The stripes of one series: the first inline, the others allocated on contention.
#[derive(Debug)]
pub(crate) struct Stripes {
    first: Cells,
    /// Null until the first collision; then `slot_mask() + 1` slots of stripe pointers, slot 0
    /// unused (it is `first`), each null until a thread lands on it.
    table: AtomicPtr<AtomicPtr<Cells>>,
}

impl Stripes {
    pub(crate) const fn new() -> Stripes {
        Stripes {
            first: Cells::new(),
            table: AtomicPtr::new(ptr::null_mut()),
        }
    }

    /// Counts a start in this thread's stripe.
    #[inline(always)]
    pub(crate) fn begin(&self) {
        let table = self.table.load(Acquire);
        if table.is_null() {
            if !self.first.start() {
                self.make_table();
            }
        } else {
            let probe = probe();
            if !self.slot(table, probe).start() {
                rehash(probe);
            }
        }
    }

    /// The stripe this thread writes now.
    #[inline(always)]
    pub(crate) fn mine(&self) -> &Cells {
        let table = self.table.load(Acquire);
        if table.is_null() {
            &self.first
        } else {
            self.slot(table, probe())
        }
    }

    /// Calls `f` with every stripe written so far.
    pub(crate) fn for_each(&self, mut f: impl FnMut(&Cells)) {
        f(&self.first);
        let table = self.table.load(Acquire);
        if table.is_null() {
            return;
        }
        for i in 1..=slot_mask() {
            // SAFETY: a non-null table has `slot_mask() + 1` slots (see `make_table`).
            let slot = unsafe { &*table.add(i) };
            // SAFETY: a non-null slot points at a stripe that lives as long as `self`.
            if let Some(cells) = unsafe { slot.load(Acquire).as_ref() } {
                f(cells);
            }
        }
    }

    #[inline(always)]
    fn slot(&self, table: *mut AtomicPtr<Cells>, probe: u32) -> &Cells {
        let i = probe as usize & slot_mask();
        if i == 0 {
            return &self.first;
        }
        // SAFETY: a non-null table has `slot_mask() + 1` slots, and `i <= slot_mask()`.
        let slot = unsafe { &*table.add(i) };
        // SAFETY: a non-null slot points at a stripe that lives as long as `self`.
        match unsafe { slot.load(Acquire).as_ref() } {
            Some(cells) => cells,
            None => fill(slot),
        }
    }

    #[cold]
    #[inline(never)]
    fn make_table(&self) {
        let slots: Box<[AtomicPtr<Cells>]> = (0..=slot_mask())
            .map(|_| AtomicPtr::new(ptr::null_mut()))
            .collect();
        let new = Box::into_raw(slots).cast::<AtomicPtr<Cells>>();
        if self
            .table
            .compare_exchange(ptr::null_mut(), new, AcqRel, Acquire)
            .is_err()
        {
            // SAFETY: `new` came from `Box::into_raw` above and was not published.
            drop(unsafe { Box::from_raw(ptr::slice_from_raw_parts_mut(new, slot_mask() + 1)) });
        }
    }

    /// Whether this series has a stripe table (tests).
    #[cfg(test)]
    pub(crate) fn is_striped(&self) -> bool {
        !self.table.load(Acquire).is_null()
    }

    /// Makes the table as a collision would (tests).
    #[cfg(test)]
    pub(crate) fn force_striped(&self) {
        self.make_table();
    }
}

/// Allocates the stripe of an empty slot (another thread may win the race: its stripe is used).
#[cold]
#[inline(never)]
fn fill(slot: &AtomicPtr<Cells>) -> &Cells {
    let new = Box::into_raw(Box::new(Cells::new()));
    match slot.compare_exchange(ptr::null_mut(), new, AcqRel, Acquire) {
        // SAFETY: just published; stripes are freed only with their series.
        Ok(_) => unsafe { &*new },
        Err(existing) => {
            // SAFETY: `new` came from `Box::into_raw` above and was not published.
            drop(unsafe { Box::from_raw(new) });
            // SAFETY: as in `Stripes::slot`.
            unsafe { &*existing }
        }
    }
}

impl Drop for Stripes {
    fn drop(&mut self) {
        let table = *self.table.get_mut();
        if table.is_null() {
            return;
        }
        // SAFETY: made by `make_table` from a boxed slice of `slot_mask() + 1` slots; we own it.
        let slots = unsafe { Box::from_raw(ptr::slice_from_raw_parts_mut(table, slot_mask() + 1)) };
        for slot in slots.iter().skip(1) {
            let cells = slot.load(Acquire);
            if !cells.is_null() {
                // SAFETY: made by `fill` with `Box::into_raw`; nothing else refers to it now.
                drop(unsafe { Box::from_raw(cells) });
            }
        }
    }
}

static SLOT_MASK: AtomicUsize = AtomicUsize::new(0);

/// Slots per table, minus one: fixed once per process (a table's length is read back from it).
#[inline(always)]
fn slot_mask() -> usize {
    match SLOT_MASK.load(Relaxed) {
        0 => init_slot_mask(),
        mask => mask,
    }
}

#[cold]
fn init_slot_mask() -> usize {
    let cores = std::thread::available_parallelism().map_or(1, NonZero::get);
    let mask = (2 * cores).next_power_of_two().clamp(4, 64) - 1;
    match SLOT_MASK.compare_exchange(0, mask, Relaxed, Relaxed) {
        Ok(_) => mask,
        Err(first) => first,
    }
}

thread_local! {
    /// This thread's probe: which slot it writes in a striped series (0 until first needed).
    static PROBE: Cell<u32> = const { Cell::new(0) };
}

static NEXT_PROBE: AtomicU32 = AtomicU32::new(1);

#[inline(always)]
fn probe() -> u32 {
    match PROBE.with(Cell::get) {
        0 => new_probe(),
        probe => probe,
    }
}

/// Threads take consecutive probes, so the first threads of a process spread over the slots.
#[cold]
fn new_probe() -> u32 {
    let probe = NEXT_PROBE.fetch_add(1, Relaxed).max(1);
    PROBE.with(|cell| cell.set(probe));
    probe
}

/// This thread collided with another on its stripe: move it to another slot (xorshift32; a
/// non-zero probe stays non-zero).
#[cold]
fn rehash(mut probe: u32) {
    probe ^= probe << 13;
    probe ^= probe >> 17;
    probe ^= probe << 5;
    PROBE.with(|cell| cell.set(probe));
}
