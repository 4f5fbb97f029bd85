//! An HTTP dependency with a health endpoint, Meilisearch style: `GET /health` answering
//! `{"status":"available"}`.

use std::sync::OnceLock;
use std::time::Duration;

use crate::http::{CheckError, CheckFuture, HealthCheck};

/// Checks an HTTP dependency: `GET {base}/health` must answer 2xx, and if its body is a JSON
/// object with a `status`, that status must be `available` (Meilisearch's answer).
///
/// kansoku's `reqwest` has no TLS feature of its own (features unify: its choice would be
/// forced on every client of the application). For an `https://` dependency, enable a TLS
/// feature of `reqwest` in the application (`features = ["rustls"]`); without one the check
/// reports the scheme as unsupported.
///
/// ```
/// # fn main() -> Result<(), kansoku::Error> {
/// let search = kansoku::http::HttpCheck::new("search", "http://127.0.0.1:7700")?;
/// let status_page = kansoku::http::HttpCheck::new("payments", "https://pay.example/")?.path("/status");
/// let config = kansoku::http::OpsConfig::new().degrading(search).degrading(status_page);
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct HttpCheck {
    name: String,
    base: reqwest::Url,
    path: String,
    timeout: Option<Duration>,
    client: OnceLock<reqwest::Client>,
}

impl HttpCheck {
    /// A check named `name` of the service at `base_url` (`http://` or `https://`). An URL
    /// that does not parse is an error.
    pub fn new(name: impl Into<String>, base_url: &str) -> Result<HttpCheck, crate::Error> {
        let base = reqwest::Url::parse(base_url)
            .map_err(|e| crate::Error::InvalidCheckUrl(e.to_string()))?;
        if !matches!(base.scheme(), "http" | "https") {
            return Err(crate::Error::InvalidCheckUrl(format!(
                "expected http:// or https://, not {}://",
                base.scheme()
            )));
        }
        Ok(HttpCheck {
            name: name.into(),
            base,
            path: "/health".to_owned(),
            timeout: None,
            client: OnceLock::new(),
        })
    }

    /// The path asked, instead of `/health`.
    #[must_use]
    pub fn path(mut self, path: impl Into<String>) -> HttpCheck {
        self.path = path.into();
        self
    }

    /// This check's own timeout.
    #[must_use]
    pub fn timeout(mut self, timeout: Duration) -> HttpCheck {
        self.timeout = Some(timeout);
        self
    }

    fn url(&self) -> String {
        format!(
            "{}/{}",
            self.base.as_str().trim_end_matches('/'),
            self.path.trim_start_matches('/')
        )
    }

    fn client(&self) -> Result<&reqwest::Client, CheckError> {
        if let Some(client) = self.client.get() {
            return Ok(client);
        }
        // reqwest is built without a provider of its own: ring, as `build()` installs it (a
        // check may be made and run before any telemetry is built)
        crate::tls::install_ring_provider();
        let client = reqwest::Client::builder()
            // a dependency's health endpoint answers directly: a redirect is a misconfiguration
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| CheckError::new(format_args!("cannot build an HTTP client: {e}")))?;
        Ok(self.client.get_or_init(|| client))
    }

    async fn ask(&self) -> Result<(), CheckError> {
        let response = self
            .client()?
            .get(self.url())
            .send()
            .await
            .map_err(|e| CheckError::new(describe(&e)))?;
        let status = response.status();
        if !status.is_success() {
            return Err(CheckError::new(format_args!(
                "answered HTTP {}",
                status.as_u16()
            )));
        }
        // a health body is small; a longer one is not looked into
        let body = response
            .bytes()
            .await
            .map_err(|e| CheckError::new(describe(&e)))?;
        if body.len() <= 64 * 1024 {
            if let Ok(serde_json::Value::Object(fields)) = serde_json::from_slice(&body) {
                match fields.get("status").and_then(serde_json::Value::as_str) {
                    None | Some("available") => {}
                    Some(other) => {
                        return Err(CheckError::new(format_args!("status is {other:?}")))
                    }
                }
            }
        }
        Ok(())
    }
}

/// What went wrong, without the URL (which may carry credentials).
fn describe(error: &reqwest::Error) -> String {
    let what = if error.is_connect() {
        "cannot connect"
    } else if error.is_timeout() {
        "timed out"
    } else if error.is_body() || error.is_decode() {
        "bad response body"
    } else {
        "request failed"
    };
    let mut cause = String::new();
    let mut source = std::error::Error::source(error);
    while let Some(inner) = source {
        cause = inner.to_string();
        source = inner.source();
    }
    if cause.is_empty() {
        what.to_owned()
    } else {
        format!("{what}: {cause}")
    }
}

impl HealthCheck for HttpCheck {
    fn name(&self) -> &str {
        &self.name
    }

    fn check(&self) -> CheckFuture<'_> {
        Box::pin(self.ask())
    }

    fn timeout(&self) -> Option<Duration> {
        self.timeout
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_url_and_its_credentials_stay_out_of_the_error() {
        let check = HttpCheck::new("search", "http://user:s3cret@127.0.0.1:1").unwrap();
        let error = check.check().await.unwrap_err().to_string();
        assert!(error.starts_with("cannot connect"), "{error}");
        assert!(
            !error.contains("s3cret") && !error.contains("127.0.0.1:1"),
            "{error}"
        );
        assert!(matches!(
            HttpCheck::new("search", "ftp://127.0.0.1"),
            Err(crate::Error::InvalidCheckUrl(_))
        ));
        assert_eq!(
            HttpCheck::new("s", "http://h:7700/base/")
                .unwrap()
                .path("healthz")
                .url(),
            "http://h:7700/base/healthz"
        );
    }
}
