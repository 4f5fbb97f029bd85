//! The example against slow, stalled and idle clients, as a real process on loopback spoken to
//! over raw TCP: its timeouts close them, `/health` keeps answering, SIGTERM ends it within its
//! deadline and the counts of the requests it served still reach Redis.

// counts read back from the text are small integers, exact in f64
#![allow(clippy::float_cmp)]

mod support;

use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering::SeqCst};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use kansoku_tests::redis_support::{raw_totals, RedisServer};
use kansoku_tests::{samples, value};
use support::{wait_for, Example};

/// How long a connection the server should close may stay open here: the tests configure
/// timeouts of 1–2 s, a server without them keeps the connection for ever.
const CLOSED_WITHIN: Duration = Duration::from_secs(10);

/// How long `/health` and the other requests of a test may take to be answered.
const ANSWERED_WITHIN: Duration = Duration::from_secs(10);

/// The shutdown deadline the tests configure (`SHUTDOWN_TIMEOUT`).
const SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(2);

/// When the process must have exited after SIGTERM: its shutdown deadline, the Redis flush's
/// own bound (2 s), and room for a loaded machine. Without a deadline it never exits.
const EXITED_WITHIN: Duration = Duration::from_secs(8);

const STALLED_UPLOAD: &[u8] = b"POST /reservations HTTP/1.1\r\nHost: 127.0.0.1\r\n\
    Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n7\r\n{\"shop_";
const SHORT_BODY: &[u8] = b"POST /reservations HTTP/1.1\r\nHost: 127.0.0.1\r\n\
    Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"shop_id\": 1";
const HALF_SENT_HEAD: &[u8] = b"GET /shops HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ";

fn address(port: u16) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], port))
}

/// A new connection on which `bytes` were sent.
fn send(port: u16, bytes: &[u8]) -> TcpStream {
    let mut stream = TcpStream::connect_timeout(&address(port), ANSWERED_WITHIN).expect("connect");
    stream.write_all(bytes).expect("send");
    stream
}

/// Reads until the server closes the connection, at most until `since + limit`: when it
/// closed (counted from `since`) and what it sent; `None` while it is still open.
fn wait_closed(
    stream: &mut TcpStream,
    since: Instant,
    limit: Duration,
) -> Option<(Duration, String)> {
    let mut got = Vec::new();
    let mut buf = [0; 16 * 1024];
    loop {
        let left = limit.checked_sub(since.elapsed())?;
        stream
            .set_read_timeout(Some(left.max(Duration::from_millis(1))))
            .expect("read timeout");
        match stream.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => got.extend_from_slice(&buf[..n]),
            // closed with our bytes still unread on its side
            Err(e) if e.kind() == ErrorKind::ConnectionReset => break,
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
            Err(e) => panic!("reading: {e}"),
        }
    }
    Some((since.elapsed(), String::from_utf8_lossy(&got).into_owned()))
}

/// `GET path` on a new connection (`Connection: close`), answered within [`ANSWERED_WITHIN`]:
/// the status, the body and how long it took.
fn get_now(port: u16, path: &str) -> (u16, String, Duration) {
    let start = Instant::now();
    let request = format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n");
    let mut stream = send(port, request.as_bytes());
    let (took, answer) = wait_closed(&mut stream, start, ANSWERED_WITHIN)
        .unwrap_or_else(|| panic!("GET {path}: no answer within {ANSWERED_WITHIN:?}"));
    let status = answer
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("GET {path}: not an HTTP answer: {answer:?}"));
    let body = answer
        .split_once("\r\n\r\n")
        .map_or("", |(_, b)| b)
        .to_owned();
    (status, body, took)
}

/// The first line of what the server sent, or that it sent nothing.
fn first_line(answer: &str) -> &str {
    answer
        .lines()
        .next()
        .filter(|l| !l.is_empty())
        .unwrap_or("(nothing)")
}

/// Sends a request head announcing a 1000-byte body, then one byte of it every 200 ms: never
/// a pause long enough for the body timeout, until the server closes the connection.
fn trickle(port: u16) -> (TcpStream, Arc<AtomicBool>) {
    let stream = send(
        port,
        b"POST /reservations HTTP/1.1\r\nHost: 127.0.0.1\r\n\
          Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n",
    );
    let stop = Arc::new(AtomicBool::new(false));
    let (mut writer, stopped) = (stream.try_clone().expect("clone"), stop.clone());
    thread::spawn(move || {
        while !stopped.load(SeqCst) && writer.write_all(b" ").is_ok() {
            thread::sleep(Duration::from_millis(200));
        }
    });
    (stream, stop)
}

#[test]
fn stalled_and_idle_clients_are_closed_by_their_timeouts_while_health_answers() {
    let example = Example::start(&[
        ("HTTP_HEADER_TIMEOUT", "1"),
        ("HTTP_BODY_TIMEOUT", "1"),
        ("HTTP_REQUEST_TIMEOUT", "2"),
    ]);
    let port = example.port();
    let since = Instant::now();
    let mut stalled = vec![
        ("a chunked upload that stops", send(port, STALLED_UPLOAD)),
        (
            "a body shorter than its Content-Length",
            send(port, SHORT_BODY),
        ),
        ("a half-sent request head", send(port, HALF_SENT_HEAD)),
        ("a connection that sends nothing", send(port, b"")),
    ];
    // one request answered, then idle on keep-alive
    let mut kept_alive = send(port, b"GET /shops/1 HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
    let (mut trickling, stop) = trickle(port);

    let (status, _, took) = get_now(port, "/health");
    assert_eq!(status, 200, "/health while six clients stall");
    eprintln!("/health answered in {took:.1?} beside the stalled clients");

    for (what, stream) in &mut stalled {
        let (closed, answer) = wait_closed(stream, since, CLOSED_WITHIN)
            .unwrap_or_else(|| panic!("{what}: still open after {CLOSED_WITHIN:?}"));
        eprintln!(
            "{what}: closed after {closed:.1?}, answer {}",
            first_line(&answer)
        );
    }
    let (closed, answer) = wait_closed(&mut kept_alive, since, CLOSED_WITHIN)
        .unwrap_or_else(|| panic!("the idle keep-alive connection is still open"));
    assert!(
        answer.starts_with("HTTP/1.1 200"),
        "its one request was answered: {answer:?}"
    );
    eprintln!("the idle keep-alive connection: closed after {closed:.1?}");
    let closed = wait_closed(&mut trickling, since, CLOSED_WITHIN);
    stop.store(true, SeqCst);
    let (closed, _) = closed.unwrap_or_else(|| panic!("the trickling upload is still open"));
    eprintln!("the trickling upload: closed after {closed:.1?}");

    // the two uploads that stopped hit the body timeout (the extractor answers 400), the one
    // that kept trickling the request timeout (408); kansoku counted each by its route
    let text = wait_for(&format!("{}/metrics", example.base), ANSWERED_WITHIN, |a| {
        a.body
            .contains(r#"route="/reservations",status_code="408""#)
    })
    .body;
    let answered = |code: &str| {
        value(
            &text,
            &format!(
                r#"osakamenesu_http_requests_total{{method="POST",route="/reservations",status_code="{code}"}}"#
            ),
        )
    };
    assert_eq!(answered("400"), 2.0, "{text}");
    assert_eq!(answered("408"), 1.0, "{text}");
}

#[test]
fn sigterm_ends_stalled_clients_and_the_request_in_flight_at_its_deadline() {
    let redis = RedisServer::start();
    let shutdown = SHUTDOWN_TIMEOUT.as_secs().to_string();
    // timeouts far beyond the test: only the shutdown deadline can end these clients
    let mut example = Example::start(&[
        ("KANSOKU_REDIS_URL", &redis.url()),
        ("HTTP_HEADER_TIMEOUT", "60"),
        ("HTTP_BODY_TIMEOUT", "60"),
        ("HTTP_REQUEST_TIMEOUT", "60"),
        ("SHUTDOWN_TIMEOUT", &shutdown),
    ]);
    let port = example.port();
    for _ in 0..10 {
        assert_eq!(get_now(port, "/shops").0, 200);
    }
    assert_eq!(get_now(port, "/shops/999").0, 404);
    let _stalled = [
        send(port, STALLED_UPLOAD),
        send(port, SHORT_BODY),
        send(port, HALF_SENT_HEAD),
        send(port, b""),
    ];
    let mut slow = send(
        port,
        b"GET /fail?kind=slow&ms=30000 HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n",
    );
    // both uploads and the slow request are in the router before the signal
    wait_for(&format!("{}/metrics", example.base), ANSWERED_WITHIN, |a| {
        let in_flight = samples(&a.body);
        let of = |method: &str, route: &str| {
            let series = format!(
                r#"osakamenesu_http_requests_in_flight{{method="{method}",route="{route}"}}"#
            );
            in_flight.get(&series).copied().unwrap_or(0.0)
        };
        of("GET", "/fail") == 1.0 && of("POST", "/reservations") == 2.0
    });

    let (status, took) = example.terminate_timed(EXITED_WITHIN).unwrap_or_else(|| {
        panic!(
            "still running {EXITED_WITHIN:?} after SIGTERM:\n{}",
            example.log()
        )
    });
    eprintln!("exited {took:.2?} after SIGTERM (deadline {SHUTDOWN_TIMEOUT:?})");
    assert!(status.success(), "{status:?}\n{}", example.log());
    assert!(
        took >= SHUTDOWN_TIMEOUT,
        "it gave the request in flight its {SHUTDOWN_TIMEOUT:?}: {took:?}"
    );
    assert!(example.log().contains("dropping them"), "{}", example.log());
    let (_, answer) = wait_closed(&mut slow, Instant::now(), CLOSED_WITHIN).expect("closed");
    assert_eq!(first_line(&answer), "(nothing)", "dropped unanswered");

    let api = raw_totals(&[redis.url()], "osakamenesu", "api");
    assert_eq!(api.get("/shops|GET|ok"), Some(&10), "{api:?}");
    assert_eq!(api.get("/shops/{id}|GET|error"), Some(&1), "{api:?}");
    assert_eq!(
        api.get("/fail|GET|cancelled"),
        Some(&1),
        "the request dropped at the deadline, counted before the flush: {api:?}"
    );
}

/// Raises this process's soft limit of open files to `at_least` (the idle clients need more
/// than the usual 1024); fails when the hard limit does not allow it.
fn raise_fd_limit(at_least: libc::rlim_t) {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes the struct it is given, setrlimit reads it.
    unsafe {
        assert_eq!(libc::getrlimit(libc::RLIMIT_NOFILE, &raw mut limit), 0);
    }
    if limit.rlim_cur >= at_least {
        return;
    }
    assert!(
        limit.rlim_max >= at_least,
        "this test needs {at_least} open files; the hard limit is {}",
        limit.rlim_max
    );
    limit.rlim_cur = at_least;
    // SAFETY: as above
    unsafe {
        assert_eq!(libc::setrlimit(libc::RLIMIT_NOFILE, &raw const limit), 0);
    }
}

/// The soft limit of open files of process `pid`, from `/proc`.
fn fd_limit_of(pid: u32) -> String {
    let limits = std::fs::read_to_string(format!("/proc/{pid}/limits")).expect("/proc limits");
    let line = limits
        .lines()
        .find(|l| l.starts_with("Max open files"))
        .expect("a Max open files line");
    line.split_whitespace()
        .nth(3)
        .expect("the soft limit")
        .to_owned()
}

/// Whether the server closed this connection (non-blocking peek at its end).
fn closed_by_server(stream: &TcpStream) -> bool {
    stream.set_nonblocking(true).expect("non-blocking");
    let mut byte = [0; 1];
    // an open idle connection has nothing to read; a closed one reads its end (or a reset)
    let closed = !matches!(stream.peek(&mut byte), Err(e) if e.kind() == ErrorKind::WouldBlock);
    stream.set_nonblocking(false).expect("blocking");
    closed
}

#[test]
fn eleven_hundred_idle_connections_under_1024_files_leave_health_and_metrics_reachable() {
    const IDLE: usize = 1100;
    const MAX_CONNECTIONS: usize = 512; // the example's default
    raise_fd_limit(2048);
    let redis = RedisServer::start();
    let shutdown = SHUTDOWN_TIMEOUT.as_secs().to_string();
    // a head timeout far beyond the test: only the connection bound can make room
    let mut example = Example::start_with_fd_limit(
        1024,
        &[
            ("KANSOKU_REDIS_URL", &redis.url()),
            ("HTTP_HEADER_TIMEOUT", "60"),
            ("SHUTDOWN_TIMEOUT", &shutdown),
        ],
    );
    assert_eq!(fd_limit_of(example.pid()), "1024", "the server's own limit");
    let port = example.port();

    let idle: Vec<TcpStream> = (0..IDLE).map(|_| send(port, b"")).collect();
    let mut slowest = Duration::ZERO;
    for path in [
        "/health", "/metrics", "/shops", "/health", "/shops", "/metrics",
    ] {
        let (status, body, took) = get_now(port, path);
        assert_eq!(status, 200, "{path} beside {IDLE} idle connections: {body}");
        if path == "/metrics" {
            assert!(body.contains("osakamenesu_http_requests_total"), "{body}");
        }
        slowest = slowest.max(took);
    }
    eprintln!("/health, /metrics and /shops beside {IDLE} idle connections: slowest {slowest:.1?}");

    // the room was made by closing the oldest idle connections, as many as went over the bound
    let deadline = Instant::now() + CLOSED_WITHIN;
    let closed = loop {
        let closed = idle.iter().filter(|s| closed_by_server(s)).count();
        if closed >= IDLE - MAX_CONNECTIONS || Instant::now() > deadline {
            break closed;
        }
        thread::sleep(Duration::from_millis(100));
    };
    eprintln!("{closed} of the {IDLE} idle connections closed by the server");
    assert!(closed >= IDLE - MAX_CONNECTIONS, "{closed} closed");
    assert!(
        closed < IDLE,
        "connections within the bound stay open ({closed} closed)"
    );

    let (status, took) = example.terminate_timed(EXITED_WITHIN).unwrap_or_else(|| {
        panic!(
            "still running {EXITED_WITHIN:?} after SIGTERM:\n{}",
            example.log()
        )
    });
    eprintln!(
        "exited {took:.2?} after SIGTERM with {} idle connections open",
        IDLE - closed
    );
    assert!(status.success(), "{status:?}\n{}", example.log());
    let api = raw_totals(&[redis.url()], "osakamenesu", "api");
    assert_eq!(api.get("/shops|GET|ok"), Some(&2), "{api:?}");
    drop(idle);
}
