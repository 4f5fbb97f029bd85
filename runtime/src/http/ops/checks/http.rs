//! An HTTP dependency with a health endpoint, Meilisearch style: `GET /health` answering
//! `{"status":"available"}`.

use std::sync::OnceLock;
use std::time::Duration;

use crate::http::{CheckError, CheckFuture, HealthCheck};

/// Checks an HTTP dependency: `GET {base}/health` must answer 2xx, and if its body is a JSON
/// object with a `status`, that status must be `available` (Meilisearch's answer).
///
/// It goes through kansoku's own client, as the Sentry transport does: HTTP/1.1 by hyper,
/// `https://` by rustls with ring and Mozilla's roots, whatever TLS the application's own
/// clients use (kansoku does not depend on reqwest, so it changes none of its features). A
/// `user:password@` in the URL is sent as basic authentication (as given: not percent-decoded)
/// and never shown.
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
    /// The base URL without its `user:password@`.
    base: String,
    auth: Option<http::HeaderValue>,
    path: String,
    timeout: Option<Duration>,
    client: OnceLock<crate::https::Client>,
}

/// How long a connection to the dependency may take (the check's own timeout bounds the rest).
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// The most of an answer that is read; a health body is small.
const MAX_BODY: usize = 1024 * 1024;

impl HttpCheck {
    /// A check named `name` of the service at `base_url` (`http://` or `https://`). An URL
    /// that does not parse is an error.
    pub fn new(name: impl Into<String>, base_url: &str) -> Result<HttpCheck, crate::Error> {
        let uri: http::Uri = base_url
            .parse()
            .map_err(|e: http::uri::InvalidUri| crate::Error::InvalidCheckUrl(e.to_string()))?;
        match uri.scheme_str() {
            Some("http" | "https") => {}
            Some(other) => {
                return Err(crate::Error::InvalidCheckUrl(format!(
                    "expected http:// or https://, not {other}://"
                )))
            }
            None => {
                return Err(crate::Error::InvalidCheckUrl(
                    "expected an absolute http:// or https:// URL".to_owned(),
                ))
            }
        }
        let Some(authority) = uri.authority().map(http::uri::Authority::as_str) else {
            return Err(crate::Error::InvalidCheckUrl("no host".to_owned()));
        };
        let host = authority
            .rsplit_once('@')
            .map_or(authority, |(_, host)| host);
        let base = base_url.replacen(authority, host, 1);
        Ok(HttpCheck {
            name: name.into(),
            base,
            auth: crate::https::basic_auth(&uri),
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
            self.base.trim_end_matches('/'),
            self.path.trim_start_matches('/')
        )
    }

    fn client(&self) -> Result<&crate::https::Client, CheckError> {
        if let Some(client) = self.client.get() {
            return Ok(client);
        }
        let client = crate::https::client(CONNECT_TIMEOUT)
            .map_err(|e| CheckError::new(format_args!("cannot build an HTTP client: {e}")))?;
        Ok(self.client.get_or_init(|| client))
    }

    async fn ask(&self) -> Result<(), CheckError> {
        use crate::https::Failed;
        let mut request = http::Request::get(self.url()).header(
            http::header::USER_AGENT,
            concat!("kansoku/", env!("CARGO_PKG_VERSION")),
        );
        if let Some(auth) = &self.auth {
            request = request.header(http::header::AUTHORIZATION, auth.clone());
        }
        let request = request
            .body(http_body_util::Full::default())
            .map_err(|_| CheckError::new("the path does not make a valid URL"))?;
        // a redirect is not followed: a dependency's health endpoint answers directly
        let (status, body) = crate::https::exchange(self.client()?, request, MAX_BODY)
            .await
            .map_err(|failed| {
                CheckError::new(match failed {
                    Failed::Connect(why) => format!("cannot connect: {why}"),
                    Failed::Request(why) => format!("request failed: {why}"),
                    Failed::Body(why) => format!("bad response body: {why}"),
                })
            })?;
        if !status.is_success() {
            return Err(CheckError::new(format_args!(
                "answered HTTP {}",
                status.as_u16()
            )));
        }
        // a longer body is not looked into
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
        let with_user = HttpCheck::new("search", "http://ann:s3cret@h:7700").unwrap();
        assert_eq!(with_user.url(), "http://h:7700/health");
        // base64("ann:s3cret")
        assert_eq!(
            with_user.auth.as_ref().unwrap().to_str().unwrap(),
            "Basic YW5uOnMzY3JldA=="
        );
        assert!(!format!("{with_user:?}").contains("s3cret"));
        assert_eq!(
            HttpCheck::new("s", "http://h:7700/base/")
                .unwrap()
                .path("healthz")
                .url(),
            "http://h:7700/base/healthz"
        );
    }
}
