//! `GET /ops/live/events`: the snapshot pushed once a second as Server-Sent Events, for as long
//! as the viewer stays. Each connection only asks the shared [`Source`], so a hundred viewers
//! still cost one read per second; a viewer that leaves drops its stream and its timer.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::response::sse::{Event, Sse};
use futures::Stream;

use super::model::Window;
use super::Live;

/// How often a viewer is sent the numbers.
const EVERY: Duration = Duration::from_secs(1);

/// The endless stream of `snapshot` events of `window`.
pub(crate) fn stream(
    live: Arc<Live>,
    window: Window,
) -> Sse<impl Stream<Item = Result<Event, Infallible>>> {
    let mut tick = tokio::time::interval(EVERY);
    // a viewer whose connection stalled gets the current numbers, not a burst of old ones
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let events = futures::stream::unfold((live, tick), move |(live, mut tick)| async move {
        tick.tick().await;
        let data = live.data(window).await;
        let event = Event::default().event("snapshot").data(data.to_string());
        Some((Ok(event), (live, tick)))
    });
    Sse::new(events)
}
