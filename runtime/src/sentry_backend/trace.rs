//! Finished transactions on their way out, and the trace a caller propagates.
//!
//! A sampled root's transaction (sentry's own type, so that sentry-tracing's spans and any
//! crate's `configure_scope(|s| s.get_span())` nest in it) is finished on a background thread,
//! under the call's hub: the request thread never builds the envelope, applies the scope or
//! describes the request ([`super::spans`]).

use std::sync::Arc;
use std::time::SystemTime;

use sentry::Hub;

use std::fmt;

use sentry::protocol;

/// A sampled root that ended, with what its transaction still needs.
pub(crate) struct Finished {
    pub(crate) transaction: sentry::Transaction,
    /// The call's hub: its scope (tags, user, contexts) goes on the transaction.
    pub(crate) hub: Arc<Hub>,
    pub(crate) end: SystemTime,
    /// The request it served, described only now.
    pub(crate) request: Option<Arc<RequestInfo>>,
}

impl fmt::Debug for Finished {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Finished")
            .field("end", &self.end)
            .finish_non_exhaustive()
    }
}

impl Finished {
    /// Builds the transaction under the call's hub and hands it to its client.
    pub(crate) fn send(self) {
        let Finished {
            transaction,
            hub,
            end,
            request,
        } = self;
        if let Some(request) = request {
            transaction.set_request(request.describe());
        }
        Hub::run(hub, || transaction.finish_with_timestamp(end));
    }
}

/// A trace a caller started, from its `sentry-trace` header (`TRACE_ID-SPAN_ID[-SAMPLED]`) or,
/// without one, its W3C `traceparent` (`00-TRACE_ID-SPAN_ID-FLAGS`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Incoming {
    pub(crate) trace_id: [u8; 16],
    pub(crate) parent_span_id: [u8; 8],
    /// The caller's sampling decision, honoured when present.
    pub(crate) sampled: Option<bool>,
    /// The caller's Sentry organization (`sentry-org_id` in its `baggage`), if it said.
    pub(crate) org_id: Option<u64>,
}

impl Incoming {
    /// The trace among `headers` (any case): a valid `sentry-trace`, else a valid W3C
    /// `traceparent`, with what `baggage` adds.
    pub(crate) fn from_headers<'a>(
        headers: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) -> Option<Incoming> {
        let (mut trace, mut parent, mut baggage) = (None, None, None);
        for (name, value) in headers {
            if name.eq_ignore_ascii_case("sentry-trace") {
                trace = Some(value);
            } else if name.eq_ignore_ascii_case("traceparent") {
                parent = Some(value);
            } else if name.eq_ignore_ascii_case("baggage") {
                baggage = Some(value);
            }
        }
        let baggage = baggage.map(bounded_baggage);
        trace
            .and_then(Incoming::parse)
            .or_else(|| parent.and_then(Incoming::parse_traceparent))
            .map(|incoming| incoming.with_baggage(baggage.as_deref()))
    }

    /// Parses a W3C `traceparent` value (`VERSION-TRACE_ID-PARENT_ID-FLAGS`, lower-case hex);
    /// `None` if it is malformed, of the invalid version `ff`, or with an all-zero id. A later
    /// version's extra fields are ignored, as the recommendation says. The `sampled` flag is the
    /// caller's decision.
    pub(crate) fn parse_traceparent(header: &str) -> Option<Incoming> {
        let header = header.trim().as_bytes();
        // version 00 is exactly 55 bytes; a later version may add `-…` fields after them
        if header.len() < 55 || header.len() > 512 {
            return None;
        }
        let version = hex::<1>(&header[..2])?[0];
        let shape = header[2] == b'-' && header[35] == b'-' && header[52] == b'-';
        let ends = match version {
            0xff => return None,
            0 => header.len() == 55,
            _ => header.len() == 55 || header[55] == b'-',
        };
        if !shape || !ends || header[..55].iter().any(u8::is_ascii_uppercase) {
            return None;
        }
        let trace_id = hex::<16>(&header[3..35])?;
        let parent_span_id = hex::<8>(&header[36..52])?;
        let flags = hex::<1>(&header[53..55])?[0];
        if trace_id == [0; 16] || parent_span_id == [0; 8] {
            return None;
        }
        Some(Incoming {
            trace_id,
            parent_span_id,
            sampled: Some(flags & 1 == 1),
            org_id: None,
        })
    }

    /// The sampling decision and organization `baggage` carries, where `sentry-trace` did not
    /// decide.
    pub(crate) fn with_baggage(mut self, baggage: Option<&str>) -> Incoming {
        if let Some(baggage) = baggage {
            let (sampled, org_id) = sentry_entries(baggage);
            if self.sampled.is_none() {
                self.sampled = sampled.and_then(|sampled| match sampled {
                    "true" => Some(true),
                    "false" => Some(false),
                    _ => None,
                });
            }
            self.org_id = org_id.and_then(|org_id| org_id.parse().ok());
        }
        self
    }

    /// Parses a `sentry-trace` header value; `None` if it is malformed (a new trace starts).
    pub(crate) fn parse(header: &str) -> Option<Incoming> {
        // `TRACE-SPAN-D`: 51 bytes at most, with a little room for spaces around it
        if header.len() > 64 {
            return None;
        }
        // 32 hex digits, `-`, 16 hex digits, and `-1` or `-0` or nothing: read by position (hex
        // digits hold no `-`, so this is splitting on `-`, without searching)
        let header = header.trim().as_bytes();
        let sampled = match header {
            [.., b'-', b'1'] if header.len() == 51 => Some(true),
            [.., b'-', b'0'] if header.len() == 51 => Some(false),
            _ if header.len() == 49 => None,
            _ => return None,
        };
        if header[32] != b'-' {
            return None;
        }
        let trace_id = hex::<16>(&header[..32])?;
        let parent_span_id = hex::<8>(&header[33..49])?;
        if trace_id == [0; 16] || parent_span_id == [0; 8] {
            return None;
        }
        Some(Incoming {
            trace_id,
            parent_span_id,
            sampled,
            org_id: None,
        })
    }
}

/// `2 × N` hex digits exactly (no sign, no space: `from_str_radix` would take a `+`).
fn hex<const N: usize>(text: &[u8]) -> Option<[u8; N]> {
    fn digit(c: u8) -> Option<u8> {
        match c {
            b'0'..=b'9' => Some(c - b'0'),
            b'a'..=b'f' => Some(c - b'a' + 10),
            b'A'..=b'F' => Some(c - b'A' + 10),
            _ => None,
        }
    }
    if text.len() != 2 * N {
        return None;
    }
    let mut out = [0; N];
    for (byte, pair) in out.iter_mut().zip(text.chunks_exact(2)) {
        *byte = digit(pair[0])? << 4 | digit(pair[1])?;
    }
    Some(out)
}

/// W3C Baggage's limits on what is propagated: 8192 bytes, 180 list-members.
const BAGGAGE_MAX_BYTES: usize = 8192;
const BAGGAGE_MAX_MEMBERS: usize = 180;

/// `baggage` within W3C Baggage's limits: its whole list-members, in order, as long as they fit
/// (never part of one), the rest dropped. Read and passed on only in this form.
pub(crate) fn bounded_baggage(baggage: &str) -> std::borrow::Cow<'_, str> {
    bounded_list(baggage, BAGGAGE_MAX_BYTES, BAGGAGE_MAX_MEMBERS)
}

/// A caller's `tracestate` within W3C Trace Context's limits (whole list-members, in order: at
/// most 32, and the 512 characters a vendor may cut it to): passed on with `traceparent` by
/// `inject_trace_headers`, so other vendors' entries survive this service.
#[cfg(feature = "axum")]
pub(crate) fn bounded_tracestate(tracestate: &str) -> std::borrow::Cow<'_, str> {
    bounded_list(tracestate, 512, 32)
}

/// A comma-separated header cut to its whole list-members that fit `max_bytes` and
/// `max_members`.
fn bounded_list(list: &str, max_bytes: usize, max_members: usize) -> std::borrow::Cow<'_, str> {
    if list.len() <= max_bytes && list.bytes().filter(|&b| b == b',').count() < max_members {
        return list.into();
    }
    let mut kept = String::new();
    for member in list
        .split(',')
        .map(str::trim)
        .filter(|member| !member.is_empty())
        .take(max_members)
    {
        let extra = member.len() + usize::from(!kept.is_empty());
        if kept.len() + extra > max_bytes {
            break;
        }
        if !kept.is_empty() {
            kept.push(',');
        }
        kept.push_str(member);
    }
    kept.into()
}

/// Describes the request for an event or a transaction, scrubbed. Called only when one is
/// sent: on the span thread for a transaction, when capturing for an event.
pub(crate) trait DescribeRequest: Send + Sync {
    fn describe(&self) -> protocol::Request;
}

/// What a request's events and outgoing calls need of it: one allocation with what describes it
/// (`head`, the HTTP layer's copy of the request's head).
pub(crate) struct RequestInfo<D: ?Sized + DescribeRequest = dyn DescribeRequest> {
    /// The caller's `baggage`, passed on as it came (by the HTTP layer's outgoing calls).
    pub(crate) baggage: Option<String>,
    /// The caller's W3C `tracestate` (bounded), passed on as it came.
    pub(crate) tracestate: Option<String>,
    pub(crate) head: D,
}

impl<D: ?Sized + DescribeRequest> fmt::Debug for RequestInfo<D> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RequestInfo")
            .field("baggage", &self.baggage)
            .field("tracestate", &self.tracestate)
            .finish_non_exhaustive()
    }
}

impl<D: ?Sized + DescribeRequest> RequestInfo<D> {
    pub(crate) fn describe(&self) -> protocol::Request {
        self.head.describe()
    }
}

/// The values of the Sentry entries `sentry-sampled` and `sentry-org_id` in a `baggage` header
/// (the first of each), read in one pass.
fn sentry_entries(baggage: &str) -> (Option<&str>, Option<&str>) {
    let (mut sampled, mut org_id) = (None, None);
    for entry in baggage.split(',') {
        let Some((name, value)) = entry.split_once('=') else {
            continue;
        };
        let slot = match name.trim() {
            "sentry-sampled" => &mut sampled,
            "sentry-org_id" => &mut org_id,
            _ => continue,
        };
        slot.get_or_insert(value.trim());
        if sampled.is_some() && org_id.is_some() {
            break;
        }
    }
    (sampled, org_id)
}

#[cfg(test)]
mod tests {
    use super::Incoming;

    #[test]
    fn traceparent_headers_parse_or_are_refused() {
        let trace = "4bf92f3577b34da6a3ce929d0e0e4736";
        let parent = "00f067aa0ba902b7";
        let incoming = Incoming::parse_traceparent(&format!("00-{trace}-{parent}-01")).unwrap();
        assert_eq!(incoming.trace_id[0], 0x4b);
        assert_eq!(incoming.parent_span_id[7], 0xb7);
        assert_eq!(incoming.sampled, Some(true));
        // only the `sampled` bit counts; the other flags are the caller's
        let unsampled = Incoming::parse_traceparent(&format!("00-{trace}-{parent}-02")).unwrap();
        assert_eq!(unsampled.sampled, Some(false));
        // a later version may carry more fields
        assert!(Incoming::parse_traceparent(&format!("01-{trace}-{parent}-01-extra")).is_some());
        for bad in [
            format!("ff-{trace}-{parent}-01"),
            format!("00-{trace}-{parent}-01-extra"),
            format!("01-{trace}-{parent}-01extra"),
            format!("00-{}-{parent}-01", "0".repeat(32)),
            format!("00-{trace}-0000000000000000-01"),
            format!("00-{}-{parent}-01", trace.to_uppercase()),
            format!("00-{trace}-{parent}-1"),
            format!("00_{trace}-{parent}-01"),
            format!("0-{trace}-{parent}-01"),
            format!("00-{trace}-{parent}-zz"),
            String::new(),
            format!("00-{trace}-{parent}-01{}", "-x".repeat(300)),
        ] {
            assert_eq!(Incoming::parse_traceparent(&bad), None, "{bad:?}");
        }
        // sentry-trace is read first; traceparent stands in when it is missing or malformed
        let headers = |sentry: &'static str| {
            [
                ("sentry-trace", sentry),
                (
                    "TraceParent",
                    "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
                ),
            ]
        };
        let from_sentry = Incoming::from_headers(headers(
            "771a43a4192642f0b136d5159a501700-a1b2c3d4e5f60718-0",
        ));
        assert_eq!(from_sentry.unwrap().trace_id[0], 0x77);
        let from_w3c = Incoming::from_headers(headers("garbage")).unwrap();
        assert_eq!((from_w3c.trace_id[0], from_w3c.sampled), (0x4b, Some(true)));
    }

    #[test]
    fn sentry_trace_headers_parse_or_are_refused() {
        let incoming =
            Incoming::parse("771a43a4192642f0b136d5159a501700-a1b2c3d4e5f60718-1").unwrap();
        assert_eq!(incoming.trace_id[0], 0x77);
        assert_eq!(incoming.parent_span_id[7], 0x18);
        assert_eq!(incoming.sampled, Some(true));
        assert_eq!(
            Incoming::parse("771a43a4192642f0b136d5159a501700-a1b2c3d4e5f60718")
                .unwrap()
                .sampled,
            None
        );
        // spaces around it are taken off, as before
        assert_eq!(
            Incoming::parse(" 771a43a4192642f0b136d5159a501700-a1b2c3d4e5f60718-0 ")
                .unwrap()
                .sampled,
            Some(false)
        );
        for bad in [
            "",
            "771a43a4192642f0b136d5159a501700",
            "771a43a4192642f0b136d5159a50170-a1b2c3d4e5f60718-1",
            "771a43a4192642f0b136d5159a501700-a1b2c3d4e5f60718-2",
            "zz1a43a4192642f0b136d5159a501700-a1b2c3d4e5f60718-1",
            "00000000000000000000000000000000-a1b2c3d4e5f60718-1",
            "771a43a4192642f0b136d5159a501700-a1b2c3d4e5f60718-1-x",
            "+71a43a4192642f0b136d5159a501700-a1b2c3d4e5f60718-1",
            "771a43a4192642f0b136d5159a501700-+1b2c3d4e5f60718-1",
            "771a43a4192642f0b136d5159a501700- 1b2c3d4e5f60718-1",
            "771a43a4192642f0b136d5159a501700-a1b2c3d4e5f60718-",
            "771a43a4192642f0b136d5159a501700_a1b2c3d4e5f60718-1",
            "771a43a4192642f0b136d5159a501700-a1b2c3d4e5f60718+1",
            "771a43a4192642f0b136d5159a501700-a1b2c3d4e5f607181",
            "771a43a4192642f0b136d5159a501700-a1b2c3d4e5f60718-10",
            "771a43a4192642f0b136d5159a501700-a1b2c3d4e5f6071é-1",
            "771a43a4192642f0b136d5159a501700-0000000000000000-1",
        ] {
            assert_eq!(Incoming::parse(bad), None, "{bad:?}");
        }
    }

    /// What `baggage` says of sampling and organization, to a trace that did not decide.
    fn read(baggage: &str) -> (Option<bool>, Option<u64>) {
        let incoming = Incoming::parse("771a43a4192642f0b136d5159a501700-a1b2c3d4e5f60718")
            .unwrap()
            .with_baggage(Some(baggage));
        (incoming.sampled, incoming.org_id)
    }

    #[test]
    fn sentry_entries_are_read_from_baggage() {
        assert_eq!(
            read("other=1, sentry-sampled=true,sentry-org_id=43 "),
            (Some(true), Some(43))
        );
        assert_eq!(read("sentry-sampled=maybe"), (None, None));
        assert_eq!(
            read("sentry-org_id=x,sentry-sampled=false"),
            (Some(false), None)
        );
        // the first of each counts, as a header map's `get` takes the first header
        assert_eq!(
            read("sentry-org_id=1,sentry-sampled=false,sentry-org_id=2,sentry-sampled=true"),
            (Some(false), Some(1))
        );
        assert_eq!(
            read("sentry-sampled,=true,sentry-org_id=7"),
            (None, Some(7))
        );
        // a caller's decision in `sentry-trace` is not overridden
        let decided = Incoming::parse("771a43a4192642f0b136d5159a501700-a1b2c3d4e5f60718-0")
            .unwrap()
            .with_baggage(Some("sentry-sampled=true"));
        assert_eq!(decided.sampled, Some(false));
    }

    #[test]
    fn baggage_is_bounded_by_whole_members() {
        let small = "sentry-org_id=42,sentry-sampled=true";
        assert_eq!(super::bounded_baggage(small), small);
        let many: Vec<String> = (0..3000).map(|n| format!("k{n}=v{n}")).collect();
        let many = many.join(",");
        let bounded = super::bounded_baggage(&many);
        let members: Vec<&str> = bounded.split(',').collect();
        assert_eq!(members.len(), 180);
        assert_eq!(members[179], "k179=v179");
        let big = format!("sentry-org_id=42,{}", "x".repeat(9000));
        assert_eq!(super::bounded_baggage(&big), "sentry-org_id=42");
        let long: Vec<String> = (0..150)
            .map(|n| format!("k{n}={}", "v".repeat(100)))
            .collect();
        let long = long.join(",");
        let bounded = super::bounded_baggage(&long);
        assert!(bounded.len() <= 8192, "{}", bounded.len());
        assert!(bounded
            .split(',')
            .all(|member| member.ends_with(&"v".repeat(100))));
    }
}
