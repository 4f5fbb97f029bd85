//! Helpers of the end-to-end tests: reading the Prometheus text as a user would.

pub mod browser;
pub mod bugsink;
pub mod connect_proxy;
pub mod envelope_process;
pub mod exit_calls;
pub mod http_support;
pub mod joined;
pub mod listeners;
pub mod loopback;
pub mod monitoring;
pub mod otlp_receiver;
pub mod redis_production;
pub mod redis_support;
pub mod sentry_ingest;
pub mod sentry_support;

use std::collections::BTreeMap;

/// The samples of a Prometheus text exposition: `name{labels}` → value, exactly as printed.
///
/// # Panics
/// On a sample line that is not `series value`: the test is then looking at broken output.
pub fn samples(text: &str) -> BTreeMap<String, f64> {
    text.lines()
        .filter(|line| !line.is_empty() && !line.starts_with('#'))
        .map(|line| {
            let (series, value) = line
                .rsplit_once(' ')
                .unwrap_or_else(|| panic!("not a sample line: {line:?}"));
            let value = match value {
                "+Inf" => f64::INFINITY,
                "-Inf" => f64::NEG_INFINITY,
                v => v
                    .parse()
                    .unwrap_or_else(|_| panic!("not a sample value: {line:?}")),
            };
            (series.to_owned(), value)
        })
        .collect()
}

/// The value of one series, failing with the whole text when it is absent.
///
/// # Panics
/// When `series` is not in `text`.
pub fn value(text: &str, series: &str) -> f64 {
    samples(text)
        .get(series)
        .copied()
        .unwrap_or_else(|| panic!("series {series} is not in the exposition:\n{text}"))
}

/// The series of one metric name (all label sets), e.g. every `shop_api_requests_total{…}`.
pub fn series_of(text: &str, name: &str) -> BTreeMap<String, f64> {
    samples(text)
        .into_iter()
        .filter(|(series, _)| series == name || series.starts_with(&format!("{name}{{")))
        .collect()
}

/// A `…_sentry_events_dropped_total` family named `name` in `text`, by `category/reason`
/// (`transaction/queue_overflow`). Lines of `text` that are not that family's are ignored, so
/// `text` may be a whole log with the exposition in it.
pub fn dropped_by_reason(text: &str, name: &str) -> BTreeMap<String, u64> {
    let lines: Vec<&str> = text.lines().filter(|line| line.starts_with(name)).collect();
    series_of(&lines.join("\n"), name)
        .into_iter()
        .map(|(series, value)| {
            let label = |name: &str| {
                let start = series.find(&format!("{name}=\"")).expect("the label") + name.len() + 2;
                series[start..]
                    .split('"')
                    .next()
                    .unwrap_or_default()
                    .to_owned()
            };
            #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
            let count = value as u64;
            (format!("{}/{}", label("category"), label("reason")), count)
        })
        .collect()
}

/// A tool the tests need, from `$KANSOKU_<NAME>` or `PATH`.
///
/// # Panics
/// When it is missing: the test is then not run silently but fails, pointing at the script
/// that installs it.
pub fn required_tool(name: &str) -> std::path::PathBuf {
    let var = format!("KANSOKU_{}", name.to_ascii_uppercase().replace('-', "_"));
    if let Some(path) = std::env::var_os(&var) {
        return path.into();
    }
    std::env::var_os("PATH")
        .iter()
        .flat_map(std::env::split_paths)
        .map(|dir| dir.join(name))
        .find(|candidate| candidate.is_file())
        .unwrap_or_else(|| {
            panic!("`{name}` is needed by this test and is not on PATH (nor in ${var}); run `bash scripts/install-test-deps.sh`")
        })
}

/// A reqwest client for the tests' loopback requests. The workspace's reqwest brings rustls
/// without a crypto provider (the application picks one); the tests take ring, as kansoku does.
pub fn http_client() -> reqwest::Client {
    if rustls::crypto::CryptoProvider::get_default().is_none() {
        let _ = rustls::crypto::ring::default_provider().install_default();
    }
    reqwest::Client::new()
}

/// A loopback port nobody listens on now.
///
/// # Panics
/// When no port can be bound.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("a free loopback port")
        .port()
}

/// `promtool check metrics` on `text`: whether it passed, and its report.
///
/// # Panics
/// When `promtool` is missing or cannot be run.
pub fn promtool_check_metrics(text: &str) -> (bool, String) {
    use std::io::Write as _;
    use std::process::{Command, Stdio};
    let mut child = Command::new(required_tool("promtool"))
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("promtool starts");
    child
        .stdin
        .take()
        .expect("promtool's stdin")
        .write_all(text.as_bytes())
        .expect("write to promtool");
    let out = child.wait_with_output().expect("promtool ends");
    let report = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), report)
}
