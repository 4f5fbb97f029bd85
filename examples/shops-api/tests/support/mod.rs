//! The example as a real process on a port it picks, a plain HTTP client, and the local
//! stand-ins the tests need: a Sentry envelope receiver, a server that never answers.

#![allow(dead_code)] // each test file uses its own part

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread;
use std::time::{Duration, Instant};

/// One running `shops-api` process, stopped (SIGTERM, then kill) when dropped.
#[derive(Debug)]
pub struct Example {
    child: Child,
    /// `http://127.0.0.1:PORT`.
    pub base: String,
    log: Arc<Mutex<String>>,
}

/// Environment variables the example reads: cleared so the machine's own never leak in.
const READ_VARS: [&str; 16] = [
    "ADDR",
    "DATABASE_URL",
    "SEARCH_URL",
    "UPSTREAM_URL",
    "SENTRY_DSN",
    "SENTRY_TRACES_SAMPLE_RATE",
    "SENTRY_ENVIRONMENT",
    "KANSOKU_REDIS_URL",
    "KANSOKU_OPS_TOKEN",
    "KANSOKU_NAMESPACE",
    "REDIS_CRITICAL",
    "HTTP_HEADER_TIMEOUT",
    "HTTP_BODY_TIMEOUT",
    "HTTP_REQUEST_TIMEOUT",
    "HTTP_MAX_CONNECTIONS",
    "SHUTDOWN_TIMEOUT",
];

impl Example {
    /// Starts the example on a free port of `host` with these variables, and waits until it
    /// says where it listens.
    ///
    /// # Panics
    /// When it does not start within 60 s (its log is in the message).
    pub fn start_on(host: &str, env: &[(&str, &str)]) -> Example {
        Example::spawn(Command::new(env!("CARGO_BIN_EXE_shops-api")), host, env)
    }

    /// [`Example::start`] with at most `files` open file descriptors (`ulimit -n`), as a
    /// service usually runs.
    pub fn start_with_fd_limit(files: u32, env: &[(&str, &str)]) -> Example {
        let mut command = Command::new("sh");
        // `exec`: the process the test signals is the example itself
        command
            .arg("-c")
            .arg(format!("ulimit -n {files} && exec \"$0\""))
            .arg(env!("CARGO_BIN_EXE_shops-api"));
        Example::spawn(command, "127.0.0.1", env)
    }

    fn spawn(mut command: Command, host: &str, env: &[(&str, &str)]) -> Example {
        for var in READ_VARS {
            command.env_remove(var);
        }
        command
            .env("ADDR", format!("{host}:0"))
            .env("RUST_LOG", "info,sqlx=warn")
            .env("NO_COLOR", "1")
            .envs(env.iter().copied())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = command.spawn().expect("start the shops-api binary");
        let log = Arc::new(Mutex::new(String::new()));
        let stderr = child.stderr.take().expect("stderr");
        let sink = log.clone();
        thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                let mut log = sink.lock().unwrap_or_else(PoisonError::into_inner);
                log.push_str(&line);
                log.push('\n');
            }
        });
        let stdout = child.stdout.take().expect("stdout");
        let (tx, rx) = std::sync::mpsc::channel();
        let sink = log.clone();
        thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Some(url) = line.strip_prefix("shops-api listening on ") {
                    let _ = tx.send(url.to_owned());
                }
                let mut log = sink.lock().unwrap_or_else(PoisonError::into_inner);
                log.push_str(&line);
                log.push('\n');
            }
        });
        let Ok(url) = rx.recv_timeout(Duration::from_secs(60)) else {
            let _ = child.kill();
            panic!("shops-api did not start; its log:\n{}", log.lock().unwrap());
        };
        // it prints the address it bound; reach it through the host asked for
        let port = url.rsplit(':').next().expect("a port").to_owned();
        let reach = if host == "0.0.0.0" { "127.0.0.1" } else { host };
        Example {
            child,
            base: format!("http://{reach}:{port}"),
            log,
        }
    }

    /// [`Example::start_on`] loopback.
    pub fn start(env: &[(&str, &str)]) -> Example {
        Example::start_on("127.0.0.1", env)
    }

    /// Its process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Its resident memory now, in bytes.
    ///
    /// # Panics
    /// When `/proc` cannot be read (the process is gone).
    pub fn rss(&self) -> u64 {
        rss_of(self.child.id()).expect("VmRSS in /proc/PID/status")
    }

    /// The port it listens on.
    pub fn port(&self) -> u16 {
        self.base.rsplit(':').next().unwrap().parse().unwrap()
    }

    /// What it logged so far.
    pub fn log(&self) -> String {
        self.log
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Sends SIGTERM and waits (at most 20 s) for it to exit; its exit status.
    pub fn terminate(&mut self) -> Option<std::process::ExitStatus> {
        self.terminate_timed(Duration::from_secs(20))
            .map(|(status, _)| status)
    }

    /// Sends SIGTERM and waits at most `wait` for it to exit; its exit status and how long
    /// it took to exit.
    pub fn terminate_timed(
        &mut self,
        wait: Duration,
    ) -> Option<(std::process::ExitStatus, Duration)> {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let sent = Instant::now();
        while sent.elapsed() < wait {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Some((status, sent.elapsed()));
            }
            thread::sleep(Duration::from_millis(10));
        }
        None
    }
}

impl Drop for Example {
    fn drop(&mut self) {
        if self.child.try_wait().ok().flatten().is_none() && self.terminate().is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// The resident memory of process `pid` in bytes (`VmRSS` of `/proc/PID/status`), if it runs.
pub fn rss_of(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let kib: u64 = status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))?
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()?;
    Some(kib * 1024)
}

/// An answer: status, headers (lower-case names), body.
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub headers: BTreeMap<String, String>,
    pub body: String,
}

impl Answer {
    /// The body as JSON.
    ///
    /// # Panics
    /// When it is not JSON.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.body))
    }
}

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(30)))
        .build()
        .into()
}

fn answer(response: ureq::http::Response<ureq::Body>) -> Answer {
    let status = response.status().as_u16();
    let headers = response
        .headers()
        .iter()
        .map(|(k, v)| (k.as_str().to_owned(), v.to_str().unwrap_or("").to_owned()))
        .collect();
    let body = response.into_body().read_to_string().expect("a text body");
    Answer {
        status,
        headers,
        body,
    }
}

/// `GET url` with these headers.
///
/// # Panics
/// When nothing answers.
pub fn get(url: &str, headers: &[(&str, &str)]) -> Answer {
    let mut request = agent().get(url);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    answer(request.call().unwrap_or_else(|e| panic!("GET {url}: {e}")))
}

/// `POST url` with a JSON body.
///
/// # Panics
/// When nothing answers.
pub fn post_json(url: &str, body: &serde_json::Value) -> Answer {
    answer(
        agent()
            .post(url)
            .header("content-type", "application/json")
            .send(body.to_string())
            .unwrap_or_else(|e| panic!("POST {url}: {e}")),
    )
}

/// Asks until `done` holds for an answer, at most `timeout`; the last answer.
///
/// # Panics
/// When `done` never holds.
pub fn wait_for(url: &str, timeout: Duration, done: impl Fn(&Answer) -> bool) -> Answer {
    let deadline = Instant::now() + timeout;
    loop {
        let answer = get(url, &[]);
        if done(&answer) {
            return answer;
        }
        assert!(
            Instant::now() < deadline,
            "{url} did not reach the expected state in {timeout:?}; last answer: {} {}",
            answer.status,
            answer.body
        );
        thread::sleep(Duration::from_millis(100));
    }
}

/// A server that accepts connections, reads what is sent and never answers (a hung
/// dependency). The connections stay open until it is dropped.
#[derive(Debug)]
pub struct Silent {
    pub port: u16,
    held: Arc<Mutex<Vec<TcpStream>>>,
}

impl Silent {
    /// Listens on a free loopback port.
    pub fn start() -> Silent {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().unwrap().port();
        let held: Arc<Mutex<Vec<TcpStream>>> = Arc::default();
        let keep = held.clone();
        thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                keep.lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .push(stream);
            }
        });
        Silent { port, held }
    }

    /// How many connections it accepted so far.
    pub fn connections(&self) -> usize {
        self.held
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }
}

/// A local stand-in for Sentry's ingest endpoint (Bugsink drops transactions, so the trace
/// tests read them here): it answers 200 to every envelope and keeps its JSON items.
#[derive(Debug, Clone)]
pub struct EnvelopeReceiver {
    pub port: u16,
    items: Arc<Mutex<Vec<serde_json::Value>>>,
}

impl EnvelopeReceiver {
    /// Listens on a free loopback port.
    pub fn start() -> EnvelopeReceiver {
        EnvelopeReceiver::start_slow(Duration::ZERO)
    }

    /// [`EnvelopeReceiver::start`], answering each envelope only after `delay` (a slow or
    /// distant Sentry).
    pub fn start_slow(delay: Duration) -> EnvelopeReceiver {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().unwrap().port();
        let items: Arc<Mutex<Vec<serde_json::Value>>> = Arc::default();
        let store = items.clone();
        thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let store = store.clone();
                thread::spawn(move || serve_envelopes(stream, &store, delay));
            }
        });
        EnvelopeReceiver { port, items }
    }

    /// The DSN pointing at it.
    pub fn dsn(&self) -> String {
        format!("http://public@127.0.0.1:{}/1", self.port)
    }

    /// The transaction items received so far.
    pub fn transactions(&self) -> Vec<serde_json::Value> {
        self.items
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
            // transaction payloads (they carry no `type`; events have no `start_timestamp`)
            .filter(|item| {
                item.get("start_timestamp").is_some() && item["contexts"]["trace"].is_object()
            })
            .cloned()
            .collect()
    }
}

/// HTTP/1.1 with keep-alive: each request's body (by `Content-Length`) is split into the
/// envelope's lines and every JSON object in them kept.
fn serve_envelopes(stream: TcpStream, store: &Mutex<Vec<serde_json::Value>>, delay: Duration) {
    let mut reader = BufReader::new(stream.try_clone().expect("clone"));
    let mut writer = stream;
    loop {
        let mut length = 0usize;
        let mut line = String::new();
        let mut first = true;
        loop {
            line.clear();
            if reader.read_line(&mut line).unwrap_or(0) == 0 {
                return;
            }
            if line == "\r\n" && !first {
                break;
            }
            first = false;
            if let Some((name, value)) = line.split_once(':') {
                if name.eq_ignore_ascii_case("content-length") {
                    length = value.trim().parse().unwrap_or(0);
                }
            }
        }
        let mut body = vec![0; length];
        if reader.read_exact(&mut body).is_err() {
            return;
        }
        let parsed: Vec<serde_json::Value> = body
            .split(|&b| b == b'\n')
            .filter_map(|line| serde_json::from_slice(line).ok())
            .collect();
        store
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .extend(parsed);
        if !delay.is_zero() {
            thread::sleep(delay);
        }
        if writer
            .write_all(
                b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 2\r\n\r\n{}",
            )
            .is_err()
        {
            return;
        }
    }
}

/// A local stand-in for Meilisearch (which is not installed here): `GET /health` answers
/// `{"status": <health>}`, `POST /indexes/shops/search` answers the hits it was given, and
/// every request's head is kept, so a test can see what the example sent.
#[derive(Debug, Clone)]
pub struct SearchStandIn {
    pub port: u16,
    health: Arc<Mutex<String>>,
    heads: Arc<Mutex<Vec<String>>>,
}

impl SearchStandIn {
    /// Listens on a free loopback port; every search answers `hits` (shop ids).
    pub fn start(hits: &[i64]) -> SearchStandIn {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().unwrap().port();
        let stand_in = SearchStandIn {
            port,
            health: Arc::new(Mutex::new("available".to_owned())),
            heads: Arc::default(),
        };
        let hits = serde_json::json!({
            "hits": hits.iter().map(|id| serde_json::json!({"id": id})).collect::<Vec<_>>()
        })
        .to_string();
        let shared = stand_in.clone();
        thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let (shared, hits) = (shared.clone(), hits.clone());
                thread::spawn(move || shared.serve(stream, &hits));
            }
        });
        stand_in
    }

    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// What `/health` says from now on (`available`, or anything else).
    pub fn set_health(&self, status: &str) {
        status.clone_into(&mut self.health.lock().unwrap_or_else(PoisonError::into_inner));
    }

    /// The heads (request line and headers, lower-cased names) of the requests received.
    pub fn heads(&self) -> Vec<String> {
        self.heads
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    fn serve(&self, stream: TcpStream, hits: &str) {
        let mut reader = BufReader::new(stream.try_clone().expect("clone"));
        let mut writer = stream;
        loop {
            let mut head = String::new();
            let mut length = 0usize;
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap_or(0) == 0 {
                    return;
                }
                if line == "\r\n" {
                    break;
                }
                if let Some((name, value)) = line.split_once(':') {
                    if name.eq_ignore_ascii_case("content-length") {
                        length = value.trim().parse().unwrap_or(0);
                    }
                    head.push_str(&name.to_ascii_lowercase());
                    head.push(':');
                    head.push_str(value);
                } else {
                    head.push_str(&line);
                }
            }
            let mut body = vec![0; length];
            if reader.read_exact(&mut body).is_err() {
                return;
            }
            let answer = if head.starts_with("GET /health ") {
                let status = self
                    .health
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .clone();
                serde_json::json!({ "status": status }).to_string()
            } else {
                hits.to_owned()
            };
            self.heads
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .push(head);
            let response = format!(
                "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{answer}",
                answer.len()
            );
            if writer.write_all(response.as_bytes()).is_err() {
                return;
            }
        }
    }
}
