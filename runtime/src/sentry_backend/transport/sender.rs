//! The HTTP side: one pooled HTTP/1.1 client (persistent connections, several requests at
//! once over several of them), rustls with the ring provider and Mozilla's roots, posting
//! envelopes to the DSN's envelope endpoint and reading back what Relay says about it.

use std::time::Duration;

use bytes::Bytes;
use http::header::{HeaderValue, CONTENT_TYPE, USER_AGENT};
use http::{Method, Request, StatusCode, Uri};
use http_body_util::{BodyExt as _, Full};
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;

/// How long one request (connect, send, read the answer) may take before it counts as a
/// network error.
pub(crate) const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// Idle connections are kept this long for the next burst.
const IDLE_TIMEOUT: Duration = Duration::from_secs(60);

/// What became of one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Answer {
    /// 2xx.
    Accepted,
    /// 429: the server dropped it and counted it itself.
    RateLimited,
    /// Another 4xx: sending it again would fail the same way.
    Rejected(StatusCode),
    /// 5xx: the server failed; a later try may work.
    ServerError(StatusCode),
    /// No answer: refused, reset, timed out.
    Network(String),
}

/// An answer and the rate-limit headers that came with it.
#[derive(Debug, Clone)]
pub(crate) struct Response {
    pub(crate) answer: Answer,
    pub(crate) status: u16,
    pub(crate) retry_after: Option<String>,
    pub(crate) rate_limits: Option<String>,
}

/// Posts envelopes to one DSN's project.
#[derive(Debug, Clone)]
pub(crate) struct Sender {
    client: Client<HttpsConnector<HttpConnector>, Full<Bytes>>,
    url: Uri,
    /// `X-Sentry-Auth`: holds the public key, never logged.
    auth: HeaderValue,
    user_agent: HeaderValue,
}

impl Sender {
    /// A sender for `dsn`; made once per transport, its connections reused.
    pub(crate) fn new(
        dsn: &sentry::types::Dsn,
        user_agent: &str,
        pool: usize,
    ) -> Result<Sender, String> {
        let url: Uri = dsn
            .envelope_api_url()
            .as_str()
            .parse()
            .map_err(|e| format!("the DSN's envelope URL: {e}"))?;
        let auth = HeaderValue::from_str(&dsn.to_auth(Some(user_agent)).to_string())
            .map_err(|e| format!("the DSN's auth header: {e}"))?;
        let user_agent =
            HeaderValue::from_str(user_agent).map_err(|e| format!("the user agent: {e}"))?;
        let mut http = HttpConnector::new();
        http.enforce_http(false);
        http.set_nodelay(true);
        http.set_connect_timeout(Some(CONNECT_TIMEOUT));
        let provider = rustls::crypto::ring::default_provider();
        let connector = hyper_rustls::HttpsConnectorBuilder::new()
            .with_provider_and_webpki_roots(provider)
            .map_err(|e| format!("TLS set-up: {e}"))?
            .https_or_http()
            .enable_http1()
            .wrap_connector(http);
        let client = Client::builder(TokioExecutor::new())
            .pool_idle_timeout(IDLE_TIMEOUT)
            .pool_max_idle_per_host(pool)
            .build(connector);
        Ok(Sender {
            client,
            url,
            auth,
            user_agent,
        })
    }

    /// Posts one serialised envelope and reads the whole answer (so the connection goes back
    /// to the pool), within [`REQUEST_TIMEOUT`].
    pub(crate) async fn send(&self, body: Bytes) -> Response {
        match tokio::time::timeout(REQUEST_TIMEOUT, self.exchange(body)).await {
            Ok(response) => response,
            Err(_) => network(format!("no answer within {REQUEST_TIMEOUT:?}")),
        }
    }

    async fn exchange(&self, body: Bytes) -> Response {
        let request = Request::builder()
            .method(Method::POST)
            .uri(self.url.clone())
            .header("X-Sentry-Auth", self.auth.clone())
            .header(USER_AGENT, self.user_agent.clone())
            .header(CONTENT_TYPE, "application/x-sentry-envelope")
            .body(Full::new(body));
        let request = match request {
            Ok(request) => request,
            Err(error) => return network(error.to_string()),
        };
        let response = match self.client.request(request).await {
            Ok(response) => response,
            Err(error) => return network(describe(&error)),
        };
        let status = response.status();
        let header = |name: &str| {
            response
                .headers()
                .get(name)
                .and_then(|value| value.to_str().ok())
                .map(str::to_owned)
        };
        let retry_after = header("retry-after");
        let rate_limits = header("x-sentry-rate-limits");
        // drain the body so the connection can carry the next envelope
        if let Err(error) = response.into_body().collect().await {
            if status.is_success() {
                return network(error.to_string());
            }
        }
        let answer = if status.is_success() {
            Answer::Accepted
        } else if status == StatusCode::TOO_MANY_REQUESTS {
            Answer::RateLimited
        } else if status.is_server_error() {
            Answer::ServerError(status)
        } else {
            Answer::Rejected(status)
        };
        Response {
            answer,
            status: status.as_u16(),
            retry_after,
            rate_limits,
        }
    }
}

fn network(error: String) -> Response {
    Response {
        answer: Answer::Network(error),
        status: 0,
        retry_after: None,
        rate_limits: None,
    }
}

/// The error and its causes in one line (hyper's own message is only "client error").
fn describe(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}
