//! Real `prometheus` and `prometheus-alertmanager` processes (Debian's packages, installed by
//! `scripts/install-test-deps.sh`) on loopback ports, in temporary folders, killed when
//! dropped; and reads of their HTTP APIs.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use crate::required_tool;

/// A running server process and its base URL.
#[derive(Debug)]
pub struct Server {
    child: Child,
    url: String,
    log: std::path::PathBuf,
    _dir: tempfile::TempDir,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Server {
    /// `http://127.0.0.1:port`.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// What the process printed so far (for failure messages).
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    fn start(
        tool: &str,
        files: &[(&str, String)],
        args: impl Fn(&Path, u16) -> Vec<String>,
    ) -> Server {
        let dir = tempfile::tempdir().expect("a temporary folder");
        for (name, text) in files {
            std::fs::write(dir.path().join(name), text).expect("write a config file");
        }
        let port = crate::free_port();
        let log = dir.path().join("log.txt");
        let out = std::fs::File::create(&log).expect("a log file");
        let child = Command::new(required_tool(tool))
            .args(args(dir.path(), port))
            .current_dir(dir.path())
            .stdout(Stdio::from(out.try_clone().expect("log handle")))
            .stderr(Stdio::from(out))
            .spawn()
            .unwrap_or_else(|e| panic!("{tool} starts: {e}"));
        Server {
            child,
            url: format!("http://127.0.0.1:{port}"),
            log,
            _dir: dir,
        }
    }

    /// Prometheus with `prometheus.yml` and the other `files` (rule files) in its folder.
    pub fn prometheus(config: &str, files: &[(&str, String)]) -> Server {
        let mut all = vec![("prometheus.yml", config.to_owned())];
        all.extend(files.iter().cloned());
        Server::start("prometheus", &all, |dir, port| {
            vec![
                "--config.file=prometheus.yml".to_owned(),
                format!("--storage.tsdb.path={}", dir.join("data").display()),
                format!("--web.listen-address=127.0.0.1:{port}"),
            ]
        })
    }

    /// Alertmanager with `alertmanager.yml` and the other `files`, clustering off.
    pub fn alertmanager(config: &str, files: &[(&str, String)]) -> Server {
        let mut all = vec![("alertmanager.yml", config.to_owned())];
        all.extend(files.iter().cloned());
        Server::start("prometheus-alertmanager", &all, |dir, port| {
            vec![
                "--config.file=alertmanager.yml".to_owned(),
                format!("--storage.path={}", dir.join("data").display()),
                format!("--web.listen-address=127.0.0.1:{port}"),
                "--cluster.listen-address=".to_owned(),
            ]
        })
    }

    /// Waits until `/-/ready` answers 200.
    ///
    /// # Panics
    /// After 60 s, with the process's log.
    pub async fn ready(&self, client: &reqwest::Client) {
        let deadline = tokio::time::Instant::now() + Duration::from_mins(1);
        loop {
            if let Ok(r) = client.get(format!("{}/-/ready", self.url)).send().await {
                if r.status().is_success() {
                    return;
                }
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "{} did not become ready:\n{}",
                self.url,
                self.log()
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// `GET path` as JSON.
    ///
    /// # Panics
    /// If the server does not answer JSON.
    pub async fn get_json(
        &self,
        client: &reqwest::Client,
        path: &str,
        params: &[(&str, &str)],
    ) -> serde_json::Value {
        let url =
            reqwest::Url::parse_with_params(&format!("{}{path}", self.url), params).expect("a URL");
        let text = client
            .get(url)
            .send()
            .await
            .expect("the server answers")
            .text()
            .await
            .expect("a body");
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
    }

    /// The result of an instant query (Prometheus `/api/v1/query`).
    ///
    /// # Panics
    /// When the query is refused (a bad expression): the message says why.
    pub async fn query(&self, client: &reqwest::Client, expr: &str) -> Vec<serde_json::Value> {
        let answer = self
            .get_json(client, "/api/v1/query", &[("query", expr)])
            .await;
        assert_eq!(
            answer["status"], "success",
            "query {expr} refused: {answer}"
        );
        answer["data"]["result"]
            .as_array()
            .cloned()
            .unwrap_or_default()
    }
}

/// An HTTP client for loopback servers.
///
/// # Panics
/// If the client cannot be built.
pub fn client() -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .expect("an HTTP client")
}
