//! Running a blocking job (a Sentry flush) on a thread of its own and awaiting it, so an async
//! caller never blocks its runtime's worker thread, whatever runtime it is.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll, Waker};

#[derive(Default)]
struct Shared {
    done: bool,
    waker: Option<Waker>,
}

/// Runs `job` on a new thread; the returned future completes when it has.
pub(crate) fn run(job: impl FnOnce() + Send + 'static) -> impl Future<Output = ()> {
    let shared = Arc::new(Mutex::new(Shared::default()));
    let signal = shared.clone();
    let spawned = std::thread::Builder::new()
        .name("kansoku-shutdown".into())
        .spawn(move || {
            job();
            let mut state = signal.lock().unwrap_or_else(PoisonError::into_inner);
            state.done = true;
            if let Some(waker) = state.waker.take() {
                waker.wake();
            }
        });
    if spawned.is_err() {
        // no thread to be had: nothing will run, so nothing to wait for
        shared.lock().unwrap_or_else(PoisonError::into_inner).done = true;
    }
    Done { shared }
}

struct Done {
    shared: Arc<Mutex<Shared>>,
}

impl Future for Done {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let mut state = self.shared.lock().unwrap_or_else(PoisonError::into_inner);
        if state.done {
            Poll::Ready(())
        } else {
            state.waker = Some(cx.waker().clone());
            Poll::Pending
        }
    }
}
