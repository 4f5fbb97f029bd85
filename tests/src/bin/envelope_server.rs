//! A Sentry envelope endpoint in a process of its own, written from Sentry's envelope format
//! (<https://develop.sentry.dev/sdk/data-model/envelopes/>) without the `sentry` crate, so
//! that what it counts does not depend on the code under test: `POST
//! /api/PROJECT/envelope/` is read whole, split into items by the format's own rules, and
//! recorded when it is answered; `GET /received` returns what was recorded, as JSON.
//!
//! `envelope_server ANSWER`, where ANSWER is `ok` (200 at once), `delay:MS` (200 after MS
//! milliseconds) or `never` (no answer at all). It prints `listening on ADDR` once it listens
//! on a loopback port it picked, and exits when its standard input closes (its test is gone).

use std::convert::Infallible;
use std::io::Read as _;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt as _, Full};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use serde_json::{json, Value};

#[derive(Debug, Clone, Copy)]
enum Answer {
    Ok,
    Delay(Duration),
    Never,
}

/// What was received and answered with a 200.
#[derive(Debug, Default)]
struct Received {
    /// Envelope requests, answered or not.
    requests: u64,
    /// Each transaction: `id`, `name` and its `order` tag.
    transactions: Vec<Value>,
    /// Each error or message event: `id`, the first exception's `value`, `message`.
    events: Vec<Value>,
    /// Each client report line: `[category, reason, quantity]`.
    reports: Vec<Value>,
}

type Shared = Arc<Mutex<Received>>;

fn main() {
    let answer = match std::env::args().nth(1).as_deref() {
        Some("ok") => Answer::Ok,
        Some("never") => Answer::Never,
        Some(other) => match other.strip_prefix("delay:").map(str::parse) {
            Some(Ok(ms)) => Answer::Delay(Duration::from_millis(ms)),
            _ => panic!("unknown answer {other:?}: ok, delay:MS or never"),
        },
        None => panic!("usage: envelope_server ok|delay:MS|never"),
    };
    // the test holds our stdin: when it ends, so do we
    std::thread::spawn(|| {
        let _ = std::io::stdin().read_to_end(&mut Vec::new());
        std::process::exit(0);
    });
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("a runtime");
    runtime.block_on(serve(answer));
}

async fn serve(answer: Answer) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("a loopback port");
    println!(
        "listening on {}",
        listener.local_addr().expect("its address")
    );
    let received = Shared::default();
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        let _ = stream.set_nodelay(true);
        let received = received.clone();
        tokio::spawn(async move {
            let service = service_fn(move |request| handle(received.clone(), answer, request));
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

async fn handle(
    received: Shared,
    answer: Answer,
    request: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    if request.method() == Method::GET && request.uri().path() == "/received" {
        let received = received.lock().unwrap_or_else(PoisonError::into_inner);
        let body = json!({
            "requests": received.requests,
            "transactions": received.transactions,
            "events": received.events,
            "reports": received.reports,
        });
        return Ok(reply(StatusCode::OK, body.to_string()));
    }
    let path = request.uri().path().to_owned();
    let is_envelope = request.method() == Method::POST
        && path.starts_with("/api/")
        && path.ends_with("/envelope/");
    if !is_envelope {
        return Ok(reply(StatusCode::NOT_FOUND, String::new()));
    }
    let Ok(body) = request
        .into_body()
        .collect()
        .await
        .map(http_body_util::Collected::to_bytes)
    else {
        return Ok(reply(StatusCode::BAD_REQUEST, String::new()));
    };
    received
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .requests += 1;
    let items = match items(&body) {
        Ok(items) => items,
        Err(error) => return Ok(reply(StatusCode::BAD_REQUEST, error)),
    };
    match answer {
        Answer::Ok => {}
        Answer::Delay(delay) => tokio::time::sleep(delay).await,
        Answer::Never => std::future::pending::<()>().await,
    }
    record(&received, items);
    Ok(reply(StatusCode::OK, "{}".to_owned()))
}

fn reply(status: StatusCode, body: String) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from(body)));
    *response.status_mut() = status;
    response
}

/// The items of an envelope: `(type, payload)`. The format: a header line, then per item a
/// header line (JSON with `type`, and `length` when the payload's size is given) and its
/// payload, which is `length` bytes, or else runs to the next newline.
fn items(body: &[u8]) -> Result<Vec<(String, Value)>, String> {
    let (_header, mut rest) = line(body);
    let mut items = Vec::new();
    while !rest.is_empty() {
        let (header, after) = line(rest);
        if header.is_empty() {
            rest = after;
            continue;
        }
        let header: Value =
            serde_json::from_slice(header).map_err(|e| format!("an item header: {e}"))?;
        let kind = header["type"].as_str().unwrap_or_default().to_owned();
        let (payload, after) = match header["length"].as_u64() {
            Some(length) => {
                let length = usize::try_from(length).map_err(|e| e.to_string())?;
                if after.len() < length {
                    return Err(format!("an item of {length} bytes in {}", after.len()));
                }
                let (payload, after) = after.split_at(length);
                (payload, after.strip_prefix(b"\n").unwrap_or(after))
            }
            None => line(after),
        };
        let payload = serde_json::from_slice(payload).unwrap_or(Value::Null);
        items.push((kind, payload));
        rest = after;
    }
    Ok(items)
}

/// The bytes up to the first newline, and those after it.
fn line(bytes: &[u8]) -> (&[u8], &[u8]) {
    match bytes.iter().position(|&b| b == b'\n') {
        Some(end) => (&bytes[..end], &bytes[end + 1..]),
        None => (bytes, &[]),
    }
}

fn record(received: &Shared, items: Vec<(String, Value)>) {
    let mut received = received.lock().unwrap_or_else(PoisonError::into_inner);
    for (kind, payload) in items {
        match kind.as_str() {
            "transaction" => received.transactions.push(json!({
                "id": payload["event_id"],
                "name": payload["transaction"],
                "order": payload["tags"]["order"],
            })),
            "event" => received.events.push(json!({
                "id": payload["event_id"],
                "exception": payload["exception"]["values"][0]["value"],
                "message": payload["message"],
            })),
            "client_report" => {
                let lines = payload["discarded_events"].as_array().cloned();
                for loss in lines.unwrap_or_default() {
                    received.reports.push(json!([
                        loss["category"],
                        loss["reason"],
                        loss["quantity"]
                    ]));
                }
            }
            _ => {}
        }
    }
}
