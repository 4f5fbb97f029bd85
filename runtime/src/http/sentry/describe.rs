//! The request as Sentry is shown it: method, URL, query string, headers and, when captured,
//! the body, each scrubbed. Built only when an event or a sampled transaction is sent.

#![cfg(feature = "sentry")]

use std::cell::RefCell;
use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::{Arc, Mutex, PoisonError, Weak};

use sentry::protocol::Request;

use super::body::Captured;
use crate::http::scrub::FILTERED;
use crate::http::Scrubber;
use crate::sentry_backend::limits::bounded;

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
    pub(super) fn of<B>(
        request: &http::Request<B>,
        body: Option<Arc<Mutex<Captured>>>,
        max_body_size: usize,
        scrubber: &Arc<Scrubber>,
    ) -> Head {
        let headers = request.headers();
        let mut kept = Vec::with_capacity(headers.len());
        kept.extend(
            headers
                .iter()
                .map(|(name, value)| (name.clone(), value.clone())),
        );
        Head {
            method: request.method().clone(),
            uri: request.uri().clone(),
            headers: kept,
            body,
            max_body_size,
            scrubber: scrubber.clone(),
        }
    }

    /// The first value of header `name`, as a header map's `get` gives it.
    fn header(&self, name: &http::HeaderName) -> Option<&http::HeaderValue> {
        self.headers
            .iter()
            .find_map(|(own, value)| (own == name).then_some(value))
    }
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
            url: format!("{scheme}://{host}{path}").parse().ok(),
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
