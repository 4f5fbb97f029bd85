//! Where the page's numbers come from: one snapshot per window, read at most once per second
//! whatever the number of viewers (the first caller reads, those arriving meanwhile share its
//! result), and only when someone asks: nothing runs in the background.
//!
//! With Redis configured, the snapshot is every instance's; when Redis cannot be read the last
//! good snapshot is served again, marked stale since the first failure (or, before any good
//! read, this instance's own numbers, marked the same way).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, SystemTime};

// tokio's clock, so a test may step it
use tokio::time::Instant;

use super::model::{Origin, Stale, View, Window};
use crate::Telemetry;

/// How long a snapshot is reused.
pub(crate) const REFRESH: Duration = Duration::from_secs(1);

/// One window's cache.
#[derive(Default)]
struct Slot {
    last: Mutex<Option<(Instant, Arc<View>)>>,
    // held while a read is in progress; those who wait for it take its result
    running: tokio::sync::Mutex<()>,
}

/// The snapshots of every window, read on demand.
pub(crate) struct Source {
    telemetry: Telemetry,
    slots: [Slot; 3],
    /// Since when Redis has failed, and why; `None` while it answers.
    #[cfg(feature = "redis")]
    failing: Mutex<Option<Stale>>,
    reads: AtomicU64,
}

impl Source {
    pub(crate) fn new(telemetry: Telemetry) -> Source {
        Source {
            telemetry,
            slots: Default::default(),
            #[cfg(feature = "redis")]
            failing: Mutex::new(None),
            reads: AtomicU64::new(0),
        }
    }

    /// How many snapshots were read so far (what the single flight bounds).
    #[cfg(test)]
    pub(crate) fn reads(&self) -> u64 {
        self.reads.load(Ordering::Relaxed)
    }

    fn cached(&self, window: Window, arrived: Instant) -> Option<Arc<View>> {
        let last = self.slots[window.index()]
            .last
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        last.as_ref()
            .filter(|(at, _)| *at >= arrived || at.elapsed() < REFRESH)
            .map(|(_, view)| view.clone())
    }

    /// The numbers of `window`, no older than [`REFRESH`].
    pub(crate) async fn view(&self, window: Window) -> Arc<View> {
        let arrived = Instant::now();
        if let Some(view) = self.cached(window, arrived) {
            return view;
        }
        let slot = &self.slots[window.index()];
        let _running = slot.running.lock().await;
        if let Some(view) = self.cached(window, arrived) {
            return view;
        }
        let previous = slot
            .last
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .as_ref()
            .map(|(_, view)| view.clone());
        let view = Arc::new(self.read(window, previous).await);
        *slot.last.lock().unwrap_or_else(PoisonError::into_inner) =
            Some((Instant::now(), view.clone()));
        view
    }

    // without Redis there is nothing to wait for, but the callers are the same
    #[cfg_attr(not(feature = "redis"), allow(clippy::unused_async))]
    async fn read(&self, window: Window, previous: Option<Arc<View>>) -> View {
        self.reads.fetch_add(1, Ordering::Relaxed);
        #[cfg(feature = "redis")]
        if let Some(view) = self.read_redis(window, previous).await {
            return view;
        }
        #[cfg(not(feature = "redis"))]
        let _ = previous;
        self.local(window, None)
    }

    /// `None` when the telemetry has no Redis.
    #[cfg(feature = "redis")]
    async fn read_redis(&self, window: Window, previous: Option<Arc<View>>) -> Option<View> {
        Some(
            match self.telemetry.realtime().snapshot(window.duration()).await {
                Err(crate::RealtimeError::NotConfigured) => return None,
                Ok(snapshot) => {
                    *self.failing.lock().unwrap_or_else(PoisonError::into_inner) = None;
                    View {
                        window,
                        origin: Origin::Redis,
                        snapshot,
                        read_at: SystemTime::now(),
                        stale: None,
                    }
                }
                Err(error) => {
                    let stale = {
                        let mut failing =
                            self.failing.lock().unwrap_or_else(PoisonError::into_inner);
                        let stale = failing.get_or_insert_with(|| Stale {
                            since: SystemTime::now(),
                            error: String::new(),
                        });
                        // the error's text names no password: the reader reports what failed, not the URL
                        stale.error = error.to_string();
                        stale.clone()
                    };
                    match previous {
                        // the last good numbers, as they were, marked stale
                        Some(view) if view.origin == Origin::Redis => View {
                            stale: Some(stale),
                            ..View::clone(&view)
                        },
                        _ => self.local(window, Some(stale)),
                    }
                }
            },
        )
    }

    /// This instance's own numbers.
    fn local(&self, window: Window, stale: Option<Stale>) -> View {
        let snapshot = self.telemetry.local_stats(window.duration());
        View {
            window,
            origin: Origin::Local,
            snapshot,
            read_at: SystemTime::now(),
            stale,
        }
    }

    pub(crate) fn telemetry(&self) -> &Telemetry {
        &self.telemetry
    }
}
