//! The request as Sentry is shown it: method, URL, query string, headers and, when captured,
//! the body, each scrubbed. Built only when an event or a sampled transaction is sent, from a
//! copy of the head taken when the request starts: that copy lives in an allocation an ended
//! request on the same thread left behind when there is one ([`info_of`], [`recycle`]).

#![cfg(feature = "sentry")]

use std::cell::RefCell;
use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::{Arc, Mutex, PoisonError, Weak};

use sentry::protocol::{Request, Url};

use super::body::Captured;
use crate::http::scrub::FILTERED;
use crate::http::Scrubber;
use crate::sentry_backend::limits::bounded;
use crate::sentry_backend::request::RequestInfo;

/// What the layer keeps of a request to describe it later: the head (its header values share
/// the connection's buffers, so this is a few reference counts and one list, without the
/// header map's index) and the body's captured part.
pub(super) struct Head {
    pub(super) method: http::Method,
    pub(super) uri: http::Uri,
    pub(super) headers: Vec<(http::HeaderName, http::HeaderValue)>,
    pub(super) body: Option<Arc<Mutex<Captured>>>,
    pub(super) max_body_size: usize,
    pub(super) scrubber: Arc<Scrubber>,
}

/// The most header bytes (names and values, as cut) one request description carries; the
/// headers past it are left out, and one `x-kansoku-omitted-headers` entry says how many.
pub(crate) const MAX_HEADER_BYTES: usize = 8 * 1024;
/// The most headers one request description carries (hyper accepts 100 by default).
pub(crate) const MAX_HEADERS: usize = 64;
impl Head {
    /// The head of `request`, kept to describe it later.
    fn of<B>(
        request: &http::Request<B>,
        body: Option<Arc<Mutex<Captured>>>,
        max_body_size: usize,
        scrubber: &Arc<Scrubber>,
    ) -> Head {
        let mut head = Head {
            method: http::Method::GET,
            uri: http::Uri::default(),
            headers: Vec::with_capacity(request.headers().len()),
            body: None,
            max_body_size,
            scrubber: scrubber.clone(),
        };
        head.refill(request, body, max_body_size, scrubber);
        head
    }

    /// Takes `request`'s head in place of the one kept, in the same allocations.
    fn refill<B>(
        &mut self,
        request: &http::Request<B>,
        body: Option<Arc<Mutex<Captured>>>,
        max_body_size: usize,
        scrubber: &Arc<Scrubber>,
    ) {
        self.method.clone_from(request.method());
        self.uri.clone_from(request.uri());
        self.headers.extend(
            request
                .headers()
                .iter()
                .map(|(name, value)| (name.clone(), value.clone())),
        );
        self.body = body;
        self.max_body_size = max_body_size;
        if !Arc::ptr_eq(&self.scrubber, scrubber) {
            self.scrubber = scrubber.clone();
        }
    }

    /// Lets go of what the request's head shares with the connection (headers, URI, body).
    fn empty(&mut self) {
        self.headers.clear();
        self.uri = http::Uri::default();
        self.method = http::Method::GET;
        self.body = None;
    }

    /// The first value of header `name`, as a header map's `get` gives it.
    pub(super) fn header(&self, name: &http::HeaderName) -> Option<&http::HeaderValue> {
        let [value] = self.headers([name]);
        value
    }

    /// The first value of each header of `names`, as a header map's `get` gives it, found in
    /// one pass over the head.
    pub(super) fn headers<const N: usize>(
        &self,
        names: [&http::HeaderName; N],
    ) -> [Option<&http::HeaderValue>; N] {
        let mut found = [None; N];
        for (own, value) in &self.headers {
            if let Some(slot) = names.iter().position(|name| *name == own) {
                found[slot].get_or_insert(value);
            }
        }
        found
    }
}

/// A request's description as the layer keeps it: the request's scope holds the same
/// allocation (as a `dyn DescribeRequest`).
pub(super) type Info = Arc<RequestInfo<Head>>;

/// The most descriptions a thread keeps for its next requests (as many as run at once on it).
const SPARE: usize = 64;

thread_local! {
    /// Descriptions of ended requests that nothing held any more, emptied, for the next requests
    /// here: a request then costs no allocation for its head.
    static SPARES: RefCell<Vec<Info>> = const { RefCell::new(Vec::new()) };
}

/// What a request passes on to the calls it makes: the caller's `baggage` and `tracestate`.
pub(super) type Passed = (Option<String>, Option<String>);

/// The description of `request`, in an allocation this thread kept when it has one, with the
/// `baggage` and `tracestate` that `read` finds in its head; and the rest of what `read` found.
pub(super) fn info_of<B, R>(
    request: &http::Request<B>,
    body: Option<Arc<Mutex<Captured>>>,
    max_body_size: usize,
    scrubber: &Arc<Scrubber>,
    read: impl FnOnce(&Head) -> (R, Passed),
) -> (Info, R) {
    let fill = |info: &mut RequestInfo<Head>| {
        let (found, (baggage, tracestate)) = read(&info.head);
        info.baggage = baggage;
        info.tracestate = tracestate;
        found
    };
    let spare = SPARES
        .try_with(|spares| spares.borrow_mut().pop())
        .ok()
        .flatten();
    if let Some(mut info) = spare {
        if let Some(kept) = Arc::get_mut(&mut info) {
            kept.head.refill(request, body, max_body_size, scrubber);
            let found = fill(kept);
            return (info, found);
        }
    }
    let mut info = RequestInfo {
        baggage: None,
        tracestate: None,
        head: Head::of(request, body, max_body_size, scrubber),
    };
    let found = fill(&mut info);
    (Arc::new(info), found)
}

/// The request ended: its description is emptied (its headers and URI share the connection's
/// buffers, which must not stay pinned) and kept for the next request here, unless something
/// still holds it (a transaction being sent, a streamed body, a task it was bound to).
pub(super) fn recycle(mut info: Info) {
    let Some(kept) = Arc::get_mut(&mut info) else {
        return;
    };
    kept.baggage = None;
    kept.tracestate = None;
    kept.head.empty();
    let _ = SPARES.try_with(|spares| {
        let mut spares = spares.borrow_mut();
        if spares.len() < SPARE {
            spares.push(info);
        }
    });
}

/// The most header names whose verdict a thread remembers (names past it are decided each time).
const VERDICTS: usize = 256;

/// One scrubber's verdicts by header name.
type Verdicts = (Weak<Scrubber>, HashMap<http::HeaderName, bool>);

thread_local! {
    /// Whether each header name seen is sensitive, for one scrubber (held weakly: its allocation
    /// stays while the cache names it, so another scrubber cannot take its place). A scrubber
    /// does not change once shared, so its verdicts hold.
    static SENSITIVE: RefCell<Option<Verdicts>> = const { RefCell::new(None) };
}

/// `scrubber.is_sensitive_header(name)`, remembered per thread: requests repeat their header
/// names, and matching a name against every rule costs far more than a lookup.
fn is_sensitive(scrubber: &Arc<Scrubber>, name: &http::HeaderName) -> bool {
    let decide = || scrubber.is_sensitive_header(name.as_str());
    SENSITIVE
        .try_with(|cache| {
            let mut cache = cache.borrow_mut();
            let same = cache
                .as_ref()
                .is_some_and(|(owner, _)| std::ptr::eq(owner.as_ptr(), Arc::as_ptr(scrubber)));
            if !same {
                *cache = Some((Arc::downgrade(scrubber), HashMap::new()));
            }
            let Some((_, verdicts)) = cache.as_mut() else {
                return decide();
            };
            if let Some(&verdict) = verdicts.get(name) {
                return verdict;
            }
            let verdict = decide();
            if verdicts.len() < VERDICTS {
                verdicts.insert(name.clone(), verdict);
            }
            verdict
        })
        .unwrap_or_else(|_| decide())
}

thread_local! {
    /// The last scheme and host parsed on this thread, and their URL: requests repeat their
    /// host, and parsing one (its domain's checks) costs most of a URL's parse.
    static BASE_URL: RefCell<Option<(String, String, Url)>> = const { RefCell::new(None) };
}

/// `scheme://host` + `path` as a URL (`None` if it is not one), parsing the host only when it
/// changed on this thread.
fn url_of(scheme: &str, host: &str, path: &str) -> Option<Url> {
    let parse = || format!("{scheme}://{host}{path}").parse().ok();
    // a path that would need more than setting (a `?` or `#`, or none) is parsed whole
    if !path.starts_with('/') || path.contains(['?', '#']) {
        return parse();
    }
    BASE_URL
        .try_with(|cache| {
            let mut cache = cache.borrow_mut();
            let same = cache
                .as_ref()
                .is_some_and(|(s, h, _)| s == scheme && h == host);
            if !same {
                let url = format!("{scheme}://{host}/").parse().ok()?;
                *cache = Some((scheme.to_owned(), host.to_owned(), url));
            }
            let mut url = cache.as_ref()?.2.clone();
            url.set_path(path);
            Some(url)
        })
        .ok()
        .flatten()
        .or_else(parse)
}

impl crate::sentry_backend::request::DescribeRequest for Head {
    fn describe(&self) -> Request {
        let scrubber = &self.scrubber;
        let mut headers = sentry::protocol::Map::new();
        let (mut bytes, mut omitted) = (0, 0);
        for (name, value) in &self.headers {
            let value = if is_sensitive(scrubber, name) {
                FILTERED.to_owned()
            } else {
                bounded(&String::from_utf8_lossy(value.as_bytes()))
            };
            let weight = name.as_str().len() + value.len();
            if headers.len() >= MAX_HEADERS || bytes + weight > MAX_HEADER_BYTES {
                omitted += 1;
                continue;
            }
            bytes += weight;
            // a repeated header keeps its last value, as before
            headers.insert(name.as_str().to_owned(), value);
        }
        if omitted > 0 {
            headers.insert(
                "x-kansoku-omitted-headers".to_owned(),
                format!("{omitted} headers past {MAX_HEADERS} or {MAX_HEADER_BYTES} bytes"),
            );
        }
        let host = self
            .uri
            .authority()
            .map(|a| a.as_str().to_owned())
            .or_else(|| {
                self.header(&http::header::HOST)
                    .and_then(|h| h.to_str().ok())
                    .map(str::to_owned)
            })
            .map_or_else(|| "localhost".to_owned(), |host| bounded(&host));
        let scheme = self.uri.scheme_str().unwrap_or("http");
        let path = bounded(self.uri.path());
        Request {
            url: url_of(scheme, &host, &path),
            method: Some(self.method.as_str().to_owned()),
            query_string: self.uri.query().map(|q| bounded(&scrubber.scrub_form(q))),
            headers,
            data: self.body.as_ref().map(|body| self.body_text(body)),
            ..Request::default()
        }
    }
}

impl Head {
    fn body_text(&self, body: &Mutex<Captured>) -> String {
        let body = body.lock().unwrap_or_else(PoisonError::into_inner);
        let content_type = self
            .header(&http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_ascii_lowercase();
        let text = String::from_utf8_lossy(&body.bytes);
        let mut out = if content_type.contains("json") {
            self.scrubber.scrub_json(&text)
        } else if content_type.starts_with("application/x-www-form-urlencoded") {
            self.scrubber.scrub_form(&text)
        } else {
            // a body kansoku cannot scrub field by field is not shown
            let kind = if content_type.is_empty() {
                "no content type"
            } else {
                content_type.as_str()
            };
            return format!(
                "[{} bytes of {kind}: only JSON and form bodies are captured]",
                body.seen
            );
        };
        if body.seen > body.bytes.len() as u64 {
            let _ = write!(
                out,
                " [truncated: first {} of {} bytes]",
                self.max_body_size.min(body.bytes.len()),
                body.seen
            );
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sentry_backend::request::DescribeRequest as _;

    fn described(scrubber: &Arc<Scrubber>) -> Request {
        let request = http::Request::get("http://shop.example/shops/1")
            .header("cookie", "session=abc")
            .header("x-shop", "namba")
            .body(())
            .unwrap();
        Head::of(&request, None, 0, scrubber).describe()
    }

    fn info(request: &http::Request<()>, scrubber: &Arc<Scrubber>) -> Info {
        let (info, ()) = info_of(request, None, 0, scrubber, |head| {
            let [baggage, tracestate] = head
                .headers([
                    &http::HeaderName::from_static("baggage"),
                    &http::HeaderName::from_static("tracestate"),
                ])
                .map(|value| value.map(|value| value.to_str().unwrap().to_owned()));
            ((), (baggage, tracestate))
        });
        info
    }

    #[test]
    fn a_kept_description_carries_nothing_of_the_request_before() {
        let scrubber = Arc::new(Scrubber::new());
        let first = http::Request::post("http://shop.example/orders?user=ann")
            .header("x-user", "ann")
            .header("baggage", "sentry-org_id=1")
            .header("tracestate", "ann=1")
            .header("user-agent", "ann's browser")
            .body(())
            .unwrap();
        let first = info(&first, &scrubber);
        let kept = Arc::as_ptr(&first);
        recycle(first);
        let second = http::Request::get("http://other.example/shops/2")
            .header("accept", "text/html")
            .body(())
            .unwrap();
        let second = info(&second, &scrubber);
        assert_eq!(Arc::as_ptr(&second), kept, "the allocation is kept");
        assert_eq!(second.baggage, None);
        assert_eq!(second.tracestate, None);
        let described = second.describe();
        assert_eq!(described.method.as_deref(), Some("GET"));
        assert_eq!(
            described.url.as_ref().map(Url::as_str),
            Some("http://other.example/shops/2")
        );
        assert_eq!(described.query_string, None);
        assert_eq!(
            described.headers.keys().collect::<Vec<_>>(),
            vec!["accept"],
            "only its own headers"
        );
    }

    #[test]
    fn a_description_still_held_is_not_kept() {
        let scrubber = Arc::new(Scrubber::new());
        let request = http::Request::get("/shops/1")
            .header("x-shop", "namba")
            .body(())
            .unwrap();
        let held = info(&request, &scrubber);
        let holder: Arc<RequestInfo> = held.clone();
        recycle(held);
        let next = info(&request, &scrubber);
        assert!(!std::ptr::addr_eq(Arc::as_ptr(&next), Arc::as_ptr(&holder)));
        // the holder (a transaction being sent, say) still describes its own request
        assert_eq!(holder.describe().headers["x-shop"], "namba");
    }

    #[test]
    fn a_url_from_a_remembered_host_equals_one_parsed_whole() {
        let cases = [
            ("http", "shop.example", "/shops/1"),
            ("http", "shop.example", "/a%20b/ü/../c"),
            ("https", "shop.example", "/shops/1"),
            ("http", "shop.example:8080", "/"),
            ("http", "other.example", "/x//y"),
            ("http", "shop.example", "*"),
            ("http", "[::1]:3000", "/v1"),
            ("http", "shop.example", "/a\\b/%2e%2e/c"),
            ("http", "shop.example", "/shops/1"),
        ];
        for _ in 0..2 {
            for (scheme, host, path) in cases {
                let whole = format!("{scheme}://{host}{path}").parse::<Url>().ok();
                assert_eq!(url_of(scheme, host, path), whole, "{scheme}://{host}{path}");
            }
        }
    }

    #[test]
    fn each_scrubber_keeps_its_own_verdicts_on_a_thread() {
        let strict = Arc::new(Scrubber::new());
        let lenient = Arc::new(Scrubber::empty());
        for _ in 0..2 {
            let headers = described(&strict).headers;
            assert_eq!(headers["cookie"], FILTERED);
            assert_eq!(headers["x-shop"], "namba");
            assert_eq!(described(&lenient).headers["cookie"], "session=abc");
        }
        // a scrubber made where a dropped one was still decides by its own rules
        drop(lenient);
        let custom = Arc::new(Scrubber::empty().header("x-shop"));
        let headers = described(&custom).headers;
        assert_eq!(headers["cookie"], "session=abc");
        assert_eq!(headers["x-shop"], FILTERED);
    }
}
