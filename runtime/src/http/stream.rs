//! What both layers ask of a response body: whether it is streamed (and so measured to its
//! end), and whether a frame just polled ended it, whole or early.

use std::task::Poll;

use http_body::{Body, Frame};

use crate::site::Incomplete;

/// A body produced after the head: no exact size, and not already ended. Any other is as good
/// as sent with the head.
pub(crate) fn is_streamed(body: &impl Body) -> bool {
    body.size_hint().exact().is_none() && !body.is_end_stream()
}

/// What a body's `poll_frame` gives.
type Polled<B> = Poll<Option<Result<Frame<<B as Body>::Data>, <B as Body>::Error>>>;

/// Whether `polled` (a frame of `body`, polled just now) ended the body: `Some(Ok(()))` whole,
/// `Some(Err(BodyError))` failed; `None` while it goes on.
pub(crate) fn ended<B: Body>(polled: &Polled<B>, body: &B) -> Option<Result<(), Incomplete>> {
    match polled {
        Poll::Ready(None) => Some(Ok(())),
        Poll::Ready(Some(Err(_))) => Some(Err(Incomplete::BodyError)),
        // the server may not poll again once the body says it ended
        Poll::Ready(Some(Ok(_))) if body.is_end_stream() => Some(Ok(())),
        _ => None,
    }
}
