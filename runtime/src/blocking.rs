//! Running a blocking job (a Sentry flush) on a thread of its own and awaiting it with a
//! deadline, so an async caller never blocks its runtime's worker thread, whatever runtime it
//! is, and never waits past the deadline even if the job hangs (a transport stuck on a server
//! that never answers).

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll, Waker};
use std::time::Duration;

#[derive(Default)]
struct Shared {
    /// `Some(true)` when the job finished, `Some(false)` when the deadline passed first.
    outcome: Option<bool>,
    waker: Option<Waker>,
}

fn settle(shared: &Mutex<Shared>, finished: bool) {
    let mut state = shared.lock().unwrap_or_else(PoisonError::into_inner);
    if state.outcome.is_none() {
        state.outcome = Some(finished);
        if let Some(waker) = state.waker.take() {
            waker.wake();
        }
    }
}

/// Runs `job` on a new thread; the future yields `true` when it finished, or `false` once
/// `deadline` has passed (the job then goes on, detached).
pub(crate) fn run(
    job: impl FnOnce() + Send + 'static,
    deadline: Duration,
) -> impl Future<Output = bool> {
    let shared = Arc::new(Mutex::new(Shared::default()));
    let worker = shared.clone();
    let started = std::thread::Builder::new()
        .name("kansoku-flush".into())
        .spawn(move || {
            job();
            settle(&worker, true);
        });
    if started.is_err() {
        settle(&shared, false);
    } else {
        let timer = shared.clone();
        let timer_started = std::thread::Builder::new()
            .name("kansoku-deadline".into())
            .spawn(move || {
                std::thread::sleep(deadline);
                settle(&timer, false);
            });
        if timer_started.is_err() {
            // no timer thread: wait for the job alone
        }
    }
    Done { shared }
}

struct Done {
    shared: Arc<Mutex<Shared>>,
}

impl Future for Done {
    type Output = bool;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<bool> {
        let mut state = self.shared.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(finished) = state.outcome {
            return Poll::Ready(finished);
        }
        state.waker = Some(cx.waker().clone());
        Poll::Pending
    }
}
