//! A Sentry-compatible test ingest endpoint: a small real HTTP server on a loopback port it
//! picks, speaking Sentry's envelope protocol (`POST /api/PROJECT/envelope/`). It decodes each
//! envelope with the `sentry` crate's own parser, records what arrived and when, and answers
//! as a test tells it to: at once, late, never, with a 5xx, or with Relay's rate-limit headers.
//!
//! This stands in for Sentry's ingestion (Relay) where a test needs an answer Bugsink does not
//! give; it is a test server of the protocol, not a mock of kansoku.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt as _, Full};
use hyper::body::Incoming;
use hyper::{Request, Response};
use sentry::protocol::client_report::LossSource as _;
use sentry::protocol::{Envelope, EnvelopeItem};
use tokio::sync::watch;

/// One item of an envelope that arrived.
#[derive(Debug, Clone, PartialEq)]
pub enum Item {
    /// An error or message event.
    Event {
        id: String,
        /// The first exception's value, for an error.
        exception: Option<String>,
        /// The message, for a message event.
        message: Option<String>,
    },
    /// A transaction.
    Transaction { id: String, name: String },
    /// A client report: `(category, reason, quantity)` per line.
    ClientReport(Vec<(String, String, u64)>),
    /// Anything else, by type.
    Other(String),
}

/// One request the endpoint received.
#[derive(Debug, Clone)]
pub struct Received {
    /// When it arrived (before the answer's delay).
    pub at: Instant,
    pub items: Vec<Item>,
    /// The status it was answered with.
    pub status: u16,
    /// The `X-Sentry-Auth` header it carried.
    pub auth: Option<String>,
}

impl Received {
    pub fn has_transaction(&self) -> bool {
        self.items
            .iter()
            .any(|item| matches!(item, Item::Transaction { .. }))
    }

    pub fn has_event(&self) -> bool {
        self.items
            .iter()
            .any(|item| matches!(item, Item::Event { .. }))
    }
}

/// How to answer one request.
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(&'static str, String)>,
    /// Wait this long before answering.
    pub delay: Duration,
    /// Hold the request until [`Ingest::release`] (or forever).
    pub hold: bool,
}

impl Reply {
    /// `200` at once.
    pub fn ok() -> Reply {
        Reply::status(200)
    }

    /// `status` at once, no headers.
    pub fn status(status: u16) -> Reply {
        Reply {
            status,
            headers: Vec::new(),
            delay: Duration::ZERO,
            hold: false,
        }
    }
}

type Policy = dyn Fn(&[Item]) -> Reply + Send + Sync;

struct State {
    received: Mutex<Vec<Received>>,
    policy: Box<Policy>,
    release: watch::Sender<bool>,
    /// Each event and transaction whole, as the `sentry` crate serializes it, with its
    /// request's answer.
    documents: Mutex<Vec<(u16, serde_json::Value)>>,
}

/// The running endpoint; stops when dropped.
#[allow(missing_debug_implementations)] // holds the answering policy, a closure
pub struct Ingest {
    addr: SocketAddr,
    /// TCP connections accepted so far.
    connections: Arc<std::sync::atomic::AtomicUsize>,
    state: Arc<State>,
    runtime: Option<tokio::runtime::Runtime>,
}

impl Ingest {
    /// An endpoint answering every request with `200` at once.
    pub fn start() -> Ingest {
        Ingest::with_policy(|_| Reply::ok())
    }

    /// An endpoint answering each request as `policy` says, given what the request carries.
    pub fn with_policy(policy: impl Fn(&[Item]) -> Reply + Send + Sync + 'static) -> Ingest {
        let state = Arc::new(State {
            received: Mutex::new(Vec::new()),
            policy: Box::new(policy),
            release: watch::channel(false).0,
            documents: Mutex::new(Vec::new()),
        });
        let serving = state.clone();
        let server = crate::loopback::serve("sentry-ingest", false, move |request| {
            handle(serving.clone(), request)
        });
        Ingest {
            addr: server.addr,
            connections: server.connections,
            state,
            runtime: Some(server.runtime),
        }
    }

    /// A DSN pointing at this endpoint (project 1).
    pub fn dsn(&self) -> String {
        format!("http://public@{}/1", self.addr)
    }

    /// Every request so far, in arrival order.
    pub fn received(&self) -> Vec<Received> {
        self.state
            .received
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Every item of every request answered with a 2xx.
    pub fn accepted_items(&self) -> Vec<Item> {
        self.received()
            .into_iter()
            .filter(|r| (200..300).contains(&r.status))
            .flat_map(|r| r.items)
            .collect()
    }

    /// The sum of the accepted client reports' lines for `category` and `reason`.
    pub fn reported(&self, category: &str, reason: &str) -> u64 {
        self.accepted_items()
            .iter()
            .filter_map(|item| match item {
                Item::ClientReport(lines) => Some(lines),
                _ => None,
            })
            .flatten()
            .filter(|(c, r, _)| c == category && r == reason)
            .map(|(_, _, n)| n)
            .sum()
    }

    /// Every accepted event (errors and messages) whole, as JSON, in arrival order.
    pub fn events(&self) -> Vec<serde_json::Value> {
        self.documents("event")
    }

    /// Every accepted transaction whole, as JSON (`spans` included), in arrival order.
    pub fn transactions(&self) -> Vec<serde_json::Value> {
        self.documents("transaction")
    }

    fn documents(&self, kind: &str) -> Vec<serde_json::Value> {
        self.state
            .documents
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
            .filter(|(status, document)| (200..300).contains(status) && document["type"] == kind)
            .map(|(_, document)| document.clone())
            .collect()
    }

    /// How many TCP connections were opened to it.
    pub fn connections(&self) -> usize {
        self.connections.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// Lets every held request (and every later one) be answered.
    pub fn release(&self) {
        self.state.release.send_replace(true);
    }
}

impl Drop for Ingest {
    fn drop(&mut self) {
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

async fn handle(
    state: Arc<State>,
    request: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, hyper::Error> {
    let at = Instant::now();
    let auth = request
        .headers()
        .get("x-sentry-auth")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let valid_path = request.uri().path() == "/api/1/envelope/";
    let body = request.into_body().collect().await?.to_bytes();
    let items = if valid_path {
        decode(&body)
    } else {
        Vec::new()
    };
    let reply = if valid_path {
        (state.policy)(&items)
    } else {
        Reply::status(404)
    };
    if valid_path {
        let whole = documents(&body);
        state
            .documents
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .extend(whole.into_iter().map(|document| (reply.status, document)));
    }
    state
        .received
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .push(Received {
            at,
            items,
            status: reply.status,
            auth,
        });
    if reply.hold {
        let mut released = state.release.subscribe();
        let _ = released.wait_for(|released| *released).await;
    }
    tokio::time::sleep(reply.delay).await;
    let mut response = Response::builder().status(reply.status);
    for (name, value) in &reply.headers {
        response = response.header(*name, value);
    }
    Ok(response
        .body(Full::new(Bytes::from_static(b"{}")))
        .expect("a valid response"))
}

/// The items of an envelope, decoded with the `sentry` crate's parser.
fn decode(body: &[u8]) -> Vec<Item> {
    let envelope = Envelope::from_slice(body)
        .unwrap_or_else(|e| panic!("an envelope that does not parse ({e}): {body:?}"));
    envelope
        .into_items()
        .map(|item| match item {
            EnvelopeItem::Event(event) => Item::Event {
                id: event.event_id.to_string(),
                exception: event.exception.values.first().and_then(|e| e.value.clone()),
                message: event
                    .message
                    .clone()
                    .or_else(|| event.logentry.as_ref().map(|l| l.message.clone())),
            },
            EnvelopeItem::Transaction(tx) => Item::Transaction {
                id: tx.event_id.to_string(),
                name: tx.name.clone().unwrap_or_default(),
            },
            EnvelopeItem::ClientReport(report) => Item::ClientReport(
                report
                    .losses()
                    .map(|loss| {
                        (
                            name(&loss.category),
                            loss.reason.map(|r| name(&r)).unwrap_or_default(),
                            loss.quantity,
                        )
                    })
                    .collect(),
            ),
            other => Item::Other(format!("{other:?}").chars().take(40).collect()),
        })
        .collect()
}

/// The events and transactions of an envelope whole, each with `"type"` set.
fn documents(body: &[u8]) -> Vec<serde_json::Value> {
    let Ok(envelope) = Envelope::from_slice(body) else {
        return Vec::new();
    };
    envelope
        .into_items()
        .filter_map(|item| {
            let (kind, mut document) = match item {
                EnvelopeItem::Event(event) => ("event", serde_json::to_value(event).ok()?),
                EnvelopeItem::Transaction(tx) => ("transaction", serde_json::to_value(tx).ok()?),
                _ => return None,
            };
            document["type"] = kind.into();
            Some(document)
        })
        .collect()
}

/// A category's or reason's name on the wire.
fn name(value: &impl serde::Serialize) -> String {
    serde_json::to_value(value)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default()
}
