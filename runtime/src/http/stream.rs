//! What both layers ask of a response body: whether it is streamed (and so measured to its
//! end), and whether a frame just polled ended it, whole or early.

use std::task::Poll;

use http_body::{Body, Frame};

use crate::site::Incomplete;

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

/// What a response says of its gRPC call, read as tower-http's `GrpcErrorsAsFailures` reads
/// it: a gRPC response (content type `application/grpc…`) carries its status in `grpc-status`,
/// in the head when the call failed before any message (a trailers-only response) or else in
/// the trailers at the end of the body. Any status but `0` (`OK`) is a failure, whatever the
/// HTTP status (which is `200`); a missing or unreadable `grpc-status` is not.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Grpc {
    /// Not a gRPC response.
    No,
    /// A gRPC response whose status has not been seen (yet).
    Pending,
    /// The call's status: `0` to `16`; a code outside that range counts as `2` (`UNKNOWN`).
    Status(u8),
}

/// The gRPC status trailer (and trailers-only header).
static GRPC_STATUS: http::HeaderName = http::HeaderName::from_static("grpc-status");

/// Whether a response's body is streamed — produced after the head: no exact size, and not
/// already ended; any other is as good as sent with the head — and what the response says of
/// its gRPC call. The head is read only where a gRPC status can be: a streamed body (its trailers) or
/// an empty one (a trailers-only answer); a body of known length is no gRPC answer.
pub(crate) fn shape<B: Body>(response: &http::Response<B>) -> (bool, Grpc) {
    let body = response.body();
    let exact = body.size_hint().exact();
    let streamed = exact.is_none() && !body.is_end_stream();
    let grpc = if streamed || exact == Some(0) {
        Grpc::of_head(response.headers())
    } else {
        Grpc::No
    };
    (streamed, grpc)
}

impl Grpc {
    /// What a response's head says.
    pub(crate) fn of_head(headers: &http::HeaderMap) -> Grpc {
        let grpc = headers
            .get(http::header::CONTENT_TYPE)
            .is_some_and(|value| value.as_bytes().starts_with(b"application/grpc"));
        if !grpc {
            return Grpc::No;
        }
        status_in(headers).map_or(Grpc::Pending, Grpc::Status)
    }

    /// Reads the status off a trailers frame of the body, polled just now.
    pub(crate) fn see<D, E>(&mut self, polled: &Poll<Option<Result<Frame<D>, E>>>) {
        if *self != Grpc::Pending {
            return;
        }
        if let Poll::Ready(Some(Ok(frame))) = polled {
            if let Some(status) = frame.trailers_ref().and_then(status_in) {
                *self = Grpc::Status(status);
            }
        }
    }

    /// The call's status, when one was seen.
    pub(crate) fn code(self) -> Option<u8> {
        match self {
            Grpc::Status(code) => Some(code),
            Grpc::No | Grpc::Pending => None,
        }
    }

    /// Whether the call failed (a status other than `OK`).
    pub(crate) fn failed(self) -> bool {
        matches!(self, Grpc::Status(code) if code != 0)
    }
}

/// The `grpc-status` in `headers`, when it is a number.
fn status_in(headers: &http::HeaderMap) -> Option<u8> {
    let value = headers.get(&GRPC_STATUS)?;
    let code: i64 = std::str::from_utf8(value.as_bytes())
        .ok()?
        .trim()
        .parse()
        .ok()?;
    Some(
        u8::try_from(code)
            .ok()
            .filter(|code| *code <= 16)
            .unwrap_or(2),
    )
}

#[cfg(test)]
mod tests {
    use super::Grpc;

    fn head(pairs: &[(&'static str, &'static str)]) -> http::HeaderMap {
        let mut headers = http::HeaderMap::new();
        for (name, value) in pairs {
            headers.insert(*name, http::HeaderValue::from_static(value));
        }
        headers
    }

    #[test]
    fn grpc_status_is_read_as_tower_http_classifies_it() {
        assert_eq!(
            Grpc::of_head(&head(&[("content-type", "text/plain")])),
            Grpc::No
        );
        assert_eq!(
            Grpc::of_head(&head(&[("content-type", "application/grpc+proto")])),
            Grpc::Pending
        );
        let trailers_only = head(&[("content-type", "application/grpc"), ("grpc-status", "14")]);
        assert_eq!(Grpc::of_head(&trailers_only), Grpc::Status(14));
        assert!(Grpc::of_head(&trailers_only).failed());
        // out of range: a failure all the same, counted as UNKNOWN
        let odd = head(&[("content-type", "application/grpc"), ("grpc-status", "99")]);
        assert_eq!(Grpc::of_head(&odd), Grpc::Status(2));
        // not a number: no status, as tower-http (not a failure)
        let junk = head(&[("content-type", "application/grpc"), ("grpc-status", "x")]);
        assert_eq!(Grpc::of_head(&junk), Grpc::Pending);
        assert!(!Grpc::Pending.failed() && !Grpc::Status(0).failed());
    }
}
