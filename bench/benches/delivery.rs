//! Sentry delivery (issue 11): transactions delivered per second from one process to a
//! loopback ingest endpoint, and what a call costs while Sentry is slow. A plain harness (a
//! throughput over a whole burst is not a per-iteration time), run by `bash bench/delivery`.
//!
//! Rows, each the median of `KANSOKU_DELIVERY_ROUNDS` (default 5) rounds of a burst of
//! `KANSOKU_DELIVERY_N` (default 5000) transactions, interleaved round by round:
//!
//! - **baseline, raw HTTP**: the same serialised transaction envelope posted `N` times by a
//!   pooled hyper client with 4 requests in flight: the ceiling for this endpoint and machine.
//! - **kansoku**: `N` calls of a `#[monitor_api_endpoint]` function at `traces_sample_rate(1.0)`
//!   (queues sized to hold the burst), then `flush`: delivered / (first call → flush done).
//! - **sentry 0.49 transport**: the `sentry` crate's default (ureq, one request at a time, a
//!   queue of 30) handed the same `N` envelopes, then flushed: what it delivers, and how fast.
//!
//! Then the cost of one annotated call (ns, mean over `4 × N` calls at sample rate 1.0, so every
//! call builds a transaction) with Sentry off (for reference), with the endpoint answering at
//! once, and with the endpoint taking 200 ms per request (its queue full, the rest dropped and
//! counted): the request path must not feel the server, so the last two should match.
//!
//! The endpoint is a hyper server on its own runtime thread that counts transaction items; it
//! shares the machine's cores with the sender, as a local Relay would.

use std::convert::Infallible;
use std::fmt::Write as _;
use std::hint::black_box;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt as _, Full};
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};

/// A loopback endpoint counting the transactions it accepts.
struct Endpoint {
    addr: SocketAddr,
    transactions: Arc<AtomicU64>,
    _runtime: tokio::runtime::Runtime,
}

impl Endpoint {
    fn start(delay: Duration) -> Endpoint {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let addr = listener.local_addr().unwrap();
        let transactions = Arc::new(AtomicU64::new(0));
        let counter = transactions.clone();
        runtime.spawn(async move {
            let listener = tokio::net::TcpListener::from_std(listener).unwrap();
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    continue;
                };
                let counter = counter.clone();
                tokio::spawn(async move {
                    let service =
                        service_fn(move |request: hyper::Request<hyper::body::Incoming>| {
                            let counter = counter.clone();
                            async move {
                                let body =
                                    request.into_body().collect().await.map(|b| b.to_bytes());
                                if let Ok(body) = body {
                                    let found = count(&body, b"\"type\":\"transaction\"");
                                    counter.fetch_add(found, Relaxed);
                                }
                                tokio::time::sleep(delay).await;
                                Ok::<_, Infallible>(hyper::Response::new(Full::new(
                                    Bytes::from_static(b"{}"),
                                )))
                            }
                        });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        Endpoint {
            addr,
            transactions,
            _runtime: runtime,
        }
    }

    fn dsn(&self) -> String {
        format!("http://public@{}/1", self.addr)
    }

    fn received(&self) -> u64 {
        self.transactions.load(Relaxed)
    }
}

fn count(haystack: &[u8], needle: &[u8]) -> u64 {
    haystack
        .windows(needle.len())
        .filter(|w| *w == needle)
        .count() as u64
}

#[kansoku::monitor_api_endpoint(name = "GET /shops")]
#[inline(never)]
fn list_shops(x: u64) -> u64 {
    black_box(x) + 1
}

/// One transaction envelope like the ones kansoku sends (a root and two child spans).
fn sample_envelope() -> sentry::Envelope {
    use sentry::protocol::{Span, Transaction};
    let mut envelope = sentry::Envelope::new();
    envelope.add_item(Transaction {
        name: Some("GET /shops".into()),
        spans: vec![Span::default(), Span::default()],
        ..Transaction::default()
    });
    envelope
}

/// Waits until `endpoint` has `target` transactions or nothing arrived for a second.
fn settle(endpoint: &Endpoint, target: u64) {
    let mut last = (endpoint.received(), Instant::now());
    while endpoint.received() < target && last.1.elapsed() < Duration::from_secs(1) {
        std::thread::sleep(Duration::from_millis(2));
        if endpoint.received() != last.0 {
            last = (endpoint.received(), Instant::now());
        }
    }
}

/// (delivered, per second) for the raw-HTTP baseline.
fn raw_http(n: u64) -> (u64, f64) {
    let endpoint = Endpoint::start(Duration::ZERO);
    let mut body = Vec::new();
    sample_envelope().to_writer(&mut body).unwrap();
    let body = Bytes::from(body);
    let url: hyper::Uri = format!("http://{}/api/1/envelope/", endpoint.addr)
        .parse()
        .unwrap();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let started = Instant::now();
    runtime.block_on(async {
        let client = hyper_util::client::legacy::Client::builder(TokioExecutor::new())
            .build_http::<Full<Bytes>>();
        let next = Arc::new(AtomicU64::new(0));
        let workers: Vec<_> = (0..4)
            .map(|_| {
                let (client, next, body, url) =
                    (client.clone(), next.clone(), body.clone(), url.clone());
                tokio::spawn(async move {
                    while next.fetch_add(1, Relaxed) < n {
                        let request = hyper::Request::post(url.clone())
                            .header("content-type", "application/x-sentry-envelope")
                            .body(Full::new(body.clone()))
                            .unwrap();
                        let response = client.request(request).await.unwrap();
                        let _ = response.into_body().collect().await;
                    }
                })
            })
            .collect();
        for worker in workers {
            worker.await.unwrap();
        }
    });
    let took = started.elapsed();
    settle(&endpoint, n);
    (
        endpoint.received(),
        endpoint.received() as f64 / took.as_secs_f64(),
    )
}

/// (delivered, per second) for kansoku's transport.
fn kansoku(n: u64) -> (u64, f64) {
    let endpoint = Endpoint::start(Duration::ZERO);
    let queue = usize::try_from(n).unwrap() + 100;
    let telemetry = kansoku::Telemetry::builder()
        .sentry_dsn(endpoint.dsn())
        .traces_sample_rate(1.0)
        .sentry_queue_sizes(queue, queue)
        .build()
        .unwrap();
    let started = Instant::now();
    {
        let _scope = telemetry.enter();
        for i in 0..n {
            black_box(list_shops(i));
        }
    }
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(telemetry.flush(Duration::from_secs(120)));
    let took = started.elapsed();
    settle(&endpoint, n);
    (
        endpoint.received(),
        endpoint.received() as f64 / took.as_secs_f64(),
    )
}

/// (delivered, per second) for the `sentry` crate's own transport.
fn sentry_transport(n: u64) -> (u64, f64) {
    let endpoint = Endpoint::start(Duration::ZERO);
    let mut options = sentry::ClientOptions::new();
    options.dsn = Some(endpoint.dsn().parse().unwrap());
    let client = sentry::Client::with_options(sentry::apply_defaults(options));
    let envelope = sample_envelope();
    let started = Instant::now();
    for _ in 0..n {
        client.send_envelope(envelope.clone());
    }
    client.flush(Some(Duration::from_secs(120)));
    let took = started.elapsed();
    settle(&endpoint, n);
    (
        endpoint.received(),
        endpoint.received() as f64 / took.as_secs_f64(),
    )
}

/// Mean ns per annotated call at sample rate 1.0, with Sentry off or sending to an endpoint
/// taking `delay` per request; and how many transactions were dropped meanwhile.
fn call_cost(n: u64, delay: Option<Duration>) -> (f64, u64) {
    let endpoint = delay.map(Endpoint::start);
    let mut builder = kansoku::Telemetry::builder().traces_sample_rate(1.0);
    if let Some(endpoint) = &endpoint {
        builder = builder.sentry_dsn(endpoint.dsn());
    }
    let telemetry = builder.build().unwrap();
    let _scope = telemetry.enter();
    let started = Instant::now();
    for i in 0..n {
        black_box(list_shops(i));
    }
    let per_call = started.elapsed().as_nanos() as f64 / n as f64;
    let dropped = telemetry
        .health()
        .iter()
        .find(|h| h.backend == "sentry")
        .map_or(0, |h| h.dropped.get("queue_overflow").copied().unwrap_or(0));
    (per_call, dropped)
}

fn median(mut values: Vec<f64>) -> (f64, f64, f64) {
    values.sort_by(f64::total_cmp);
    (
        values[values.len() / 2],
        values[0],
        values[values.len() - 1],
    )
}

fn env(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn main() {
    let n = env("KANSOKU_DELIVERY_N", 5000);
    let rounds = env("KANSOKU_DELIVERY_ROUNDS", 5);
    let mut rates: [(Vec<f64>, u64); 3] = Default::default();
    for round in 0..rounds {
        for (slot, run) in rates.iter_mut().zip([raw_http, kansoku, sentry_transport]) {
            let (delivered, rate) = run(n);
            slot.0.push(rate);
            slot.1 = slot.1.max(delivered);
        }
        eprintln!("round {}/{rounds} done", round + 1);
    }
    let baseline = median(rates[0].0.clone()).0;
    let mut out = String::new();
    let _ = writeln!(out, "Transactions delivered to a loopback ingest endpoint, a burst of {n} (median of {rounds} rounds, min–max):\n");
    let _ = writeln!(
        out,
        "| sender | delivered of {n} | per second | × baseline |"
    );
    let _ = writeln!(out, "|---|---|---|---|");
    for ((values, delivered), name) in rates.iter().zip([
        "baseline: raw HTTP, 4 in flight",
        "kansoku transport (4 in flight)",
        "sentry 0.49 default transport (ureq)",
    ]) {
        let (med, lo, hi) = median(values.clone());
        let _ = writeln!(
            out,
            "| {name} | {delivered} | {med:.0} ({lo:.0}–{hi:.0}) | {:.2} |",
            med / baseline
        );
    }
    let calls = n * 4;
    let _ = writeln!(out, "\nOne `#[monitor_api_endpoint]` call at sample rate 1.0, mean of {calls} calls (median of {rounds} rounds):\n");
    let _ = writeln!(
        out,
        "| Sentry | ns/call | × answering at once | transactions dropped (queue full) |"
    );
    let _ = writeln!(out, "|---|---|---|---|");
    let settings = [
        ("off (no DSN)", None),
        ("endpoint answering at once", Some(Duration::ZERO)),
        (
            "endpoint taking 200 ms per request",
            Some(Duration::from_millis(200)),
        ),
    ];
    // rounds interleaved, so a burst of load from elsewhere hits every setting alike
    let mut runs: Vec<Vec<(f64, u64)>> = vec![Vec::new(); settings.len()];
    for _ in 0..rounds {
        for (slot, (_, delay)) in runs.iter_mut().zip(settings) {
            slot.push(call_cost(calls, delay));
        }
    }
    let at_once = median(runs[1].iter().map(|r| r.0).collect()).0;
    for ((name, _), runs) in settings.iter().zip(&runs) {
        let (med, lo, hi) = median(runs.iter().map(|r| r.0).collect());
        let dropped = runs.iter().map(|r| r.1).max().unwrap_or(0);
        let _ = writeln!(
            out,
            "| {name} | {med:.0} ({lo:.0}–{hi:.0}) | {:.2} | {dropped} |",
            med / at_once
        );
    }
    print!("{out}");
    if let Ok(path) = std::env::var("KANSOKU_DELIVERY_OUT") {
        std::fs::write(path, &out).unwrap();
    }
}
