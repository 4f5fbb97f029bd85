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
