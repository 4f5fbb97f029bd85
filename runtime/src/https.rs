//! What kansoku's own deliveries share (the Sentry transport, the OTLP pushes): the TCP
//! connector and the TLS of a hyper client (rustls with ring, Mozilla's roots: the
//! application's TLS stack is never chosen or changed), and errors told in one line.

use std::time::Duration;

use hyper_rustls::builderstates::WantsProtocols1;
use hyper_rustls::HttpsConnectorBuilder;
use hyper_util::client::legacy::connect::HttpConnector;

/// A TCP connector for `https://` and `http://` URLs, without Nagle's delay, giving up on a
/// connection after `connect_timeout`.
pub(crate) fn tcp(connect_timeout: Duration) -> HttpConnector {
    let mut http = HttpConnector::new();
    http.enforce_http(false);
    http.set_nodelay(true);
    http.set_connect_timeout(Some(connect_timeout));
    http
}

/// TLS by rustls with ring and Mozilla's roots for `https://`, plain for `http://`; the caller
/// picks the HTTP versions.
pub(crate) fn tls() -> Result<HttpsConnectorBuilder<WantsProtocols1>, String> {
    HttpsConnectorBuilder::new()
        .with_provider_and_webpki_roots(rustls::crypto::ring::default_provider())
        .map(HttpsConnectorBuilder::https_or_http)
        .map_err(|e| format!("TLS set-up: {e}"))
}

/// The error and its causes in one line (hyper's own message is only "client error").
pub(crate) fn describe(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// kansoku's client for its one-off requests (the ops router's HTTP check, the Slack
/// webhooks): HTTP/1.1 over the same connector and TLS as the Sentry transport, whatever TLS
/// the application's own clients use.
#[cfg(any(feature = "axum", feature = "alert"))]
pub(crate) type Client = hyper_util::client::legacy::Client<
    hyper_rustls::HttpsConnector<HttpConnector>,
    http_body_util::Full<bytes::Bytes>,
>;

/// A [`Client`] giving up on a connection after `connect_timeout`.
#[cfg(any(feature = "axum", feature = "alert"))]
pub(crate) fn client(connect_timeout: Duration) -> Result<Client, String> {
    let tls = tls()?;
    Ok(
        hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
            .pool_max_idle_per_host(1)
            .build(tls.enable_http1().wrap_connector(tcp(connect_timeout))),
    )
}

/// Why a one-off request failed, in words that never hold its URL.
#[cfg(any(feature = "axum", feature = "alert"))]
#[derive(Debug)]
pub(crate) enum Failed {
    /// No connection (refused, unreachable, the TLS handshake failed).
    Connect(String),
    /// The connection broke or the answer was not HTTP.
    Request(String),
    /// The answer's body could not be read (or was longer than asked).
    Body(String),
}

/// `request` sent with `client`, the answer's status and at most `limit` bytes of its body.
#[cfg(any(feature = "axum", feature = "alert"))]
pub(crate) async fn exchange(
    client: &Client,
    request: http::Request<http_body_util::Full<bytes::Bytes>>,
    limit: usize,
) -> Result<(http::StatusCode, bytes::Bytes), Failed> {
    use http_body_util::BodyExt as _;
    let response = client.request(request).await.map_err(|e| {
        let why = describe(&e);
        if e.is_connect() {
            Failed::Connect(why)
        } else {
            Failed::Request(why)
        }
    })?;
    let (head, body) = response.into_parts();
    let body = http_body_util::Limited::new(body, limit)
        .collect()
        .await
        .map_err(|e| Failed::Body(e.to_string()))?
        .to_bytes();
    Ok((head.status, body))
}

/// `Authorization: Basic …` for the `user:password@` of a URL, as a browser or reqwest sends
/// it; `None` without one.
#[cfg(feature = "axum")]
pub(crate) fn basic_auth(uri: &http::Uri) -> Option<http::HeaderValue> {
    let authority = uri.authority()?.as_str();
    let (userinfo, _) = authority.rsplit_once('@')?;
    let mut value =
        http::HeaderValue::try_from(format!("Basic {}", base64(userinfo.as_bytes()))).ok()?;
    value.set_sensitive(true);
    Some(value)
}

/// Standard base64 with padding.
#[cfg(feature = "axum")]
fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(ALPHABET[(n >> (18 - 6 * i)) as usize & 63]));
            } else {
                out.push('=');
            }
        }
    }
    out
}
