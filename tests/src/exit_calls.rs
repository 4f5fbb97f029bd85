//! The application side of the exit tests (`tests/sentry_exit.rs`, `src/bin/exit_app.rs`): an
//! endpoint whose transaction has a child span and says which call it was, and a burst of
//! concurrent calls of it that all end at once, so that the span thread still has most of
//! their transactions to build when the application goes on to flush or exit.

use std::sync::Arc;

use kansoku::Telemetry;
use tokio::sync::Barrier;

/// What one call in ten fails with.
#[derive(Debug)]
pub struct CheckoutError(pub u32);

impl std::fmt::Display for CheckoutError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "checkout {} failed", self.0)
    }
}

impl std::error::Error for CheckoutError {}

#[kansoku::track_database_query("select", "orders")]
async fn load(order: u32) -> Result<u32, CheckoutError> {
    tokio::task::yield_now().await;
    Ok(order)
}

/// Tags its transaction with `order` (through the call's own hub), runs one query (a child
/// span), waits at `gate` for the other calls, and fails when `order` is a multiple of ten.
#[kansoku::monitor_api_endpoint(name = "POST /checkout")]
pub async fn checkout(order: u32, gate: Arc<Barrier>) -> Result<u32, CheckoutError> {
    sentry::configure_scope(|scope| scope.set_tag("order", order));
    let order = load(order).await?;
    gate.wait().await;
    if order.is_multiple_of(10) {
        Err(CheckoutError(order))
    } else {
        Ok(order)
    }
}

/// `calls` concurrent calls of [`checkout`], numbered from 0, each on a task of its own, all
/// ending together; returns once every one has ended.
///
/// # Panics
/// When a call panics.
pub async fn burst(telemetry: &Telemetry, calls: u32) {
    let gate = Arc::new(Barrier::new(calls as usize));
    let tasks: Vec<_> = (0..calls)
        .map(|order| tokio::spawn(telemetry.instrument(checkout(order, gate.clone()))))
        .collect();
    for task in tasks {
        let _ = task.await.expect("the call does not panic");
    }
}
