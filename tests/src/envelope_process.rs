//! The test side of `envelope_server` (`src/bin/envelope_server.rs`), a Sentry envelope
//! endpoint in a process of its own that reads envelopes without the `sentry` crate: started
//! as a child process on a loopback port it picks, asked what it received, stopped when
//! dropped. A test passes its path: `env!("CARGO_BIN_EXE_envelope_server")`.

use std::collections::BTreeMap;
use std::io::{BufRead as _, BufReader};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::time::Duration;

use serde_json::Value;

/// The running endpoint.
#[derive(Debug)]
pub struct EnvelopeServer {
    child: Child,
    /// Its end closes with this: the server exits even if the test is killed.
    _stdin: ChildStdin,
    addr: String,
    http: ureq::Agent,
}

/// What the endpoint recorded: the envelopes it answered with a 200, item by item.
#[derive(Debug, Clone)]
pub struct Received {
    /// Envelope requests it read, answered or not.
    pub requests: u64,
    /// Each transaction: `id`, `name`, `order` (its `order` tag).
    pub transactions: Vec<Value>,
    /// Each error or message event: `id`, `exception` (the first one's value), `message`.
    pub events: Vec<Value>,
    /// Each client report line: `(category, reason, quantity)`.
    pub reports: Vec<(String, String, u64)>,
}

impl EnvelopeServer {
    /// Starts `exe` answering as `answer` says: `ok`, `delay:MS` or `never`.
    ///
    /// # Panics
    /// When it cannot start or does not say where it listens.
    pub fn start(exe: &str, answer: &str) -> EnvelopeServer {
        let mut child = Command::new(exe)
            .arg(answer)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap_or_else(|e| panic!("{exe} starts: {e}"));
        let stdin = child.stdin.take().expect("its stdin");
        let mut first = String::new();
        BufReader::new(child.stdout.take().expect("its stdout"))
            .read_line(&mut first)
            .expect("its first line");
        let addr = first
            .trim()
            .strip_prefix("listening on ")
            .unwrap_or_else(|| panic!("not where it listens: {first:?}"))
            .to_owned();
        EnvelopeServer {
            child,
            _stdin: stdin,
            addr,
            http: ureq::Agent::config_builder()
                .timeout_global(Some(Duration::from_secs(10)))
                .build()
                .into(),
        }
    }

    /// A DSN for it (project 1).
    pub fn dsn(&self) -> String {
        format!("http://public@{}/1", self.addr)
    }

    /// What it recorded so far.
    ///
    /// # Panics
    /// When it does not answer.
    pub fn received(&self) -> Received {
        let text = self
            .http
            .get(format!("http://{}/received", self.addr))
            .call()
            .and_then(|mut response| response.body_mut().read_to_string())
            .expect("the envelope server answers");
        let value: Value = serde_json::from_str(&text).expect("JSON");
        let list = |key: &str| value[key].as_array().cloned().unwrap_or_default();
        Received {
            requests: value["requests"].as_u64().unwrap_or_default(),
            transactions: list("transactions"),
            events: list("events"),
            reports: list("reports")
                .iter()
                .map(|line| {
                    (
                        line[0].as_str().unwrap_or_default().to_owned(),
                        line[1].as_str().unwrap_or_default().to_owned(),
                        line[2].as_u64().unwrap_or_default(),
                    )
                })
                .collect(),
        }
    }
}

impl Drop for EnvelopeServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Received {
    /// How many times each `order` tag arrived on a transaction (`None`: without one).
    pub fn orders(&self) -> BTreeMap<Option<u64>, usize> {
        let mut orders = BTreeMap::new();
        for transaction in &self.transactions {
            let order = transaction["order"]
                .as_str()
                .and_then(|order| order.parse().ok());
            *orders.entry(order).or_default() += 1;
        }
        orders
    }

    /// How many times each error's exception value arrived.
    pub fn errors(&self) -> BTreeMap<String, usize> {
        let mut errors = BTreeMap::new();
        for event in &self.events {
            if let Some(value) = event["exception"].as_str() {
                *errors.entry(value.to_owned()).or_default() += 1;
            }
        }
        errors
    }

    /// The sum of the client reports' lines for `category` and `reason`.
    pub fn reported(&self, category: &str, reason: &str) -> u64 {
        self.reports
            .iter()
            .filter(|(c, r, _)| c == category && r == reason)
            .map(|(_, _, n)| n)
            .sum()
    }
}
