//! A flood of big requests against the example with a Sentry DSN: what kansoku keeps for
//! Sentry is bounded in bytes, whether Sentry never answers or answers slowly, and whether the
//! sampling is the service's (rate 1.0) or forced by the clients (`sentry-trace: …-1` at rate
//! 0.0). The example's resident memory, read from `/proc`, stays within 64 MB of what it was
//! idle, and what could not be kept is counted as dropped.

mod support;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering::SeqCst};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use support::{get, rss_of, EnvelopeReceiver, Example, Silent};

const REQUESTS: usize = 2500;
const HEADER_BYTES: usize = 256 * 1024;
const CLIENTS: usize = 32;
const BOUND: u64 = 64 * 1024 * 1024;

/// One request with a 256 KiB header, over a connection of its own; its status.
fn big_request(port: u16, extra: &str, filler: &str) -> Option<u16> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).ok()?;
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .ok()?;
    let head = format!(
        "GET /shops/1 HTTP/1.1\r\nhost: 127.0.0.1\r\nconnection: close\r\n{extra}x-filler: {filler}\r\n\r\n"
    );
    stream.write_all(head.as_bytes()).ok()?;
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer);
    let text = String::from_utf8_lossy(&answer[..answer.len().min(32)]).into_owned();
    text.split(' ').nth(1)?.parse().ok()
}

struct Flood {
    idle: u64,
    peak: u64,
    after: u64,
    statuses: Vec<u16>,
}

/// Sends the flood from [`CLIENTS`] threads, sampling the example's RSS every 10 ms.
fn flood(example: &Example, extra: &str) -> Flood {
    // warm: the allocator, the pools and the first transactions settle before the baseline
    for _ in 0..200 {
        assert_eq!(get(&format!("{}/shops/1", example.base), &[]).status, 200);
    }
    thread::sleep(Duration::from_millis(500));
    let idle = example.rss();
    let filler = Arc::new("f".repeat(HEADER_BYTES));
    let next = Arc::new(AtomicUsize::new(0));
    let done = Arc::new(AtomicBool::new(false));
    let peak = Arc::new(AtomicU64::new(idle));
    let pid = example.pid();
    let sampler = {
        let (done, peak) = (done.clone(), peak.clone());
        thread::spawn(move || {
            while !done.load(SeqCst) {
                if let Some(rss) = rss_of(pid) {
                    peak.fetch_max(rss, SeqCst);
                }
                thread::sleep(Duration::from_millis(10));
            }
        })
    };
    let port = example.port();
    let clients: Vec<_> = (0..CLIENTS)
        .map(|_| {
            let (next, filler, extra) = (next.clone(), filler.clone(), extra.to_owned());
            thread::spawn(move || {
                let mut statuses = Vec::new();
                while next.fetch_add(1, SeqCst) < REQUESTS {
                    statuses.push(big_request(port, &extra, &filler).unwrap_or(0));
                }
                statuses
            })
        })
        .collect();
    let statuses: Vec<u16> = clients
        .into_iter()
        .flat_map(|client| client.join().expect("client thread"))
        .collect();
    // what is still queued or being built stays a moment after the last answer
    thread::sleep(Duration::from_secs(1));
    done.store(true, SeqCst);
    sampler.join().expect("sampler");
    Flood {
        idle,
        peak: peak.load(SeqCst),
        after: example.rss(),
        statuses,
    }
}

/// `ns_sentry_events_dropped_total` summed over the series whose labels contain `filter`.
fn dropped(example: &Example, filter: &str) -> f64 {
    let metrics = get(&format!("{}/metrics", example.base), &[]);
    assert_eq!(metrics.status, 200, "{}", metrics.body);
    metrics
        .body
        .lines()
        .filter(|line| line.contains("sentry_events_dropped_total{") && line.contains(filter))
        .filter_map(|line| line.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

fn check(name: &str, example: &Example, flood: &Flood) {
    let mib = |bytes: u64| f64::from(u32::try_from(bytes >> 10).unwrap_or(u32::MAX)) / 1024.0;
    println!(
        "{name}: RSS idle {:.1} MiB, peak {:.1} MiB (+{:.1}), after {:.1} MiB",
        mib(flood.idle),
        mib(flood.peak),
        mib(flood.peak.saturating_sub(flood.idle)),
        mib(flood.after)
    );
    let answered = flood.statuses.iter().filter(|&&s| s == 200).count();
    assert_eq!(
        answered,
        REQUESTS,
        "{name}: every big request is served (statuses other than 200: {:?})",
        flood
            .statuses
            .iter()
            .filter(|&&s| s != 200)
            .take(10)
            .collect::<Vec<_>>()
    );
    assert!(
        flood.peak <= flood.idle + BOUND,
        "{name}: RSS grew by {:.1} MiB (bound {:.0} MiB); log:\n{}",
        mib(flood.peak - flood.idle),
        mib(BOUND),
        example.log()
    );
}

/// The example with a DSN to a Sentry that never answers, at `rate`.
fn against_a_silent_sentry(rate: &str) -> (Silent, Example) {
    let sentry = Silent::start();
    let dsn = format!("http://public@127.0.0.1:{}/1", sentry.port);
    let example = Example::start(&[
        ("SENTRY_DSN", dsn.as_str()),
        ("SENTRY_TRACES_SAMPLE_RATE", rate),
    ]);
    (sentry, example)
}

#[test]
fn a_flood_of_big_headers_with_a_sentry_that_never_answers_stays_bounded() {
    let (sentry, example) = against_a_silent_sentry("1.0");
    let result = flood(&example, "");
    check("never answers, rate 1.0", &example, &result);
    let overflow = dropped(&example, "queue_overflow");
    assert!(
        overflow > 0.0,
        "with Sentry silent the queues fill and the excess is counted as queue_overflow"
    );
    println!("dropped as queue_overflow: {overflow}");
    assert!(sentry.connections() > 0, "the transport did try to send");
}

#[test]
fn forced_sampling_at_rate_zero_stays_bounded_too() {
    let (_sentry, example) = against_a_silent_sentry("0.0");
    let forced = "sentry-trace: 0123456789abcdef0123456789abcdef-0123456789abcdef-1\r\n";
    let result = flood(&example, forced);
    check(
        "never answers, rate 0.0 forced by clients",
        &example,
        &result,
    );
    assert!(
        dropped(&example, "queue_overflow") > 0.0,
        "the forced transactions beyond the queue's bound are counted"
    );
}

#[test]
fn a_flood_with_a_slow_sentry_stays_bounded_and_delivers_what_it_kept() {
    let sentry = EnvelopeReceiver::start_slow(Duration::from_millis(200));
    let example = Example::start(&[
        ("SENTRY_DSN", sentry.dsn().as_str()),
        ("SENTRY_TRACES_SAMPLE_RATE", "1.0"),
    ]);
    let started = Instant::now();
    let result = flood(&example, "");
    check("answers in 200 ms, rate 1.0", &example, &result);
    // what was kept arrives, each within the bounds a transaction's request is described in
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut transactions = sentry.transactions();
    while transactions.len() < 20 && Instant::now() < deadline {
        thread::sleep(Duration::from_millis(200));
        transactions = sentry.transactions();
    }
    assert!(
        transactions.len() >= 20,
        "transactions reach the slow Sentry ({} after {:?})",
        transactions.len(),
        started.elapsed()
    );
    for transaction in &transactions {
        let headers = &transaction["request"]["headers"];
        let total: usize = headers.as_object().map_or(0, |headers| {
            headers
                .iter()
                .map(|(k, v)| k.len() + v.as_str().map_or(0, str::len))
                .sum()
        });
        assert!(
            total <= 9 * 1024,
            "a transaction's headers within 8 KiB and a note: {total}"
        );
        if let Some(filler) = headers.get("x-filler").and_then(|v| v.as_str()) {
            assert!(
                filler.len() <= 1024,
                "a header value cut to 1 KiB: {}",
                filler.len()
            );
            assert!(filler.ends_with("…[truncated]"), "and said to be cut");
        }
    }
}
