//! The HTTP side: one pooled HTTP/1.1 client (persistent connections, several requests at
//! once over several of them), rustls with the ring provider and Mozilla's roots, posting
//! envelopes to the DSN's envelope endpoint and reading back what Relay says about it.

use std::time::Duration;

use bytes::Bytes;
use http::header::{HeaderValue, CONTENT_TYPE, USER_AGENT};
use http::{Method, Request, StatusCode, Uri};
use http_body_util::{BodyExt as _, Full};
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::connect::proxy::Tunnel;
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

/// The pooled client: straight to Sentry, or through an HTTP proxy's `CONNECT` tunnel.
#[derive(Debug, Clone)]
enum Http {
    Direct(Client<HttpsConnector<HttpConnector>, Full<Bytes>>),
    Tunneled(Client<HttpsConnector<Tunnel<HttpConnector>>, Full<Bytes>>),
}

/// Posts envelopes to one DSN's project.
#[derive(Debug, Clone)]
pub(crate) struct Sender {
    client: Http,
    url: Uri,
    /// `X-Sentry-Auth`: holds the public key, never logged.
    auth: HeaderValue,
    user_agent: HeaderValue,
}

impl Sender {
    /// A sender for `dsn`, through `proxy` (an `http://[user:password@]host:port` URL) when
    /// one is given; made once per transport, its connections reused.
    pub(crate) fn new(
        dsn: &sentry::types::Dsn,
        user_agent: &str,
        pool: usize,
        proxy: Option<&str>,
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
        let http = crate::https::tcp(CONNECT_TIMEOUT);
        let tls = || crate::https::tls().map(hyper_rustls::HttpsConnectorBuilder::enable_http1);
        let mut builder = Client::builder(TokioExecutor::new());
        builder
            .pool_idle_timeout(IDLE_TIMEOUT)
            .pool_max_idle_per_host(pool);
        let client = match proxy {
            None => Http::Direct(builder.build(tls()?.wrap_connector(http))),
            Some(proxy) => {
                let tunnel = tunnel(proxy, http)?;
                Http::Tunneled(builder.build(tls()?.wrap_connector(tunnel)))
            }
        };
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
        let sent = match &self.client {
            Http::Direct(client) => client.request(request).await,
            Http::Tunneled(client) => client.request(request).await,
        };
        let response = match sent {
            Ok(response) => response,
            Err(error) => return network(crate::https::describe(&error)),
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

/// A `CONNECT` tunnel through the proxy at `url`, with its credentials if the URL has some.
/// (Every destination goes through it, Sentry's envelope endpoint being the only one.)
fn tunnel(url: &str, http: HttpConnector) -> Result<Tunnel<HttpConnector>, String> {
    let uri: Uri = url
        .parse()
        .map_err(|e| format!("the proxy URL does not parse: {e}"))?;
    let authority = uri
        .authority()
        .ok_or_else(|| "the proxy URL has no host".to_owned())?;
    let (credentials, host) = match authority.as_str().rsplit_once('@') {
        Some((credentials, host)) => (Some(credentials), host),
        None => (None, authority.as_str()),
    };
    let port = if host.contains(':') { "" } else { ":80" };
    let target: Uri = format!("http://{host}{port}")
        .parse()
        .map_err(|e| format!("the proxy URL: {e}"))?;
    let tunnel = Tunnel::new(target, http);
    Ok(match credentials {
        Some(credentials) => {
            let value = format!("Basic {}", base64(credentials.as_bytes()));
            let value =
                HeaderValue::from_str(&value).map_err(|e| format!("the proxy credentials: {e}"))?;
            tunnel.with_auth(value)
        }
        None => tunnel,
    })
}

/// Standard base64 with padding, for a `Proxy-Authorization: Basic` value.
fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let word = chunk.iter().enumerate().fold(0u32, |word, (i, byte)| {
            word | u32::from(*byte) << (16 - 8 * i)
        });
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(ALPHABET[(word >> (18 - 6 * i)) as usize & 63]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

fn network(error: String) -> Response {
    Response {
        answer: Answer::Network(error),
        status: 0,
        retry_after: None,
        rate_limits: None,
    }
}

#[cfg(test)]
mod tests {
    use super::base64;

    #[test]
    fn base64_encodes_as_the_rfc_says() {
        for (plain, encoded) in [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("user:secret", "dXNlcjpzZWNyZXQ="),
        ] {
            assert_eq!(base64(plain.as_bytes()), encoded);
        }
    }
}
