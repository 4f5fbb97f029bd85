//! Builds the application's reqwest client (default features) before and after kansoku's
//! `install()`, then makes one request of each kind — its own clients', kansoku's HTTP check,
//! Sentry transport and OTLP push — each to a loopback listener of its own that reads the TLS
//! ClientHello and hangs up. Prints one line per request: `WHO GROUPS CIPHERS`, the named
//! groups and cipher suites offered, in hex, so the test can tell the TLS stacks apart.

use std::time::Duration;

use kansoku::http::HealthCheck as _;
use tokio::io::AsyncReadExt as _;

/// A listener that reads one ClientHello and hangs up.
struct Hello {
    url: String,
    hello: tokio::task::JoinHandle<Option<(Vec<u16>, Vec<u16>)>>,
}

async fn listen() -> Hello {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!(
        "https://127.0.0.1:{}",
        listener.local_addr().unwrap().port()
    );
    let hello = tokio::spawn(async move {
        let (mut stream, _) = listener.accept().await.ok()?;
        let mut head = [0_u8; 5];
        stream.read_exact(&mut head).await.ok()?;
        if head[0] != 0x16 {
            return None; // not a TLS handshake
        }
        let mut record = vec![0; usize::from(u16::from_be_bytes([head[3], head[4]]))];
        stream.read_exact(&mut record).await.ok()?;
        parse(&record)
    });
    Hello { url, hello }
}

/// The (named groups, cipher suites) of a ClientHello handshake message.
fn parse(hello: &[u8]) -> Option<(Vec<u16>, Vec<u16>)> {
    let u16_at = |at: usize| Some(u16::from_be_bytes([*hello.get(at)?, *hello.get(at + 1)?]));
    if *hello.first()? != 1 {
        return None;
    }
    let mut at = 4 + 2 + 32; // type, length, version, random
    at += 1 + usize::from(*hello.get(at)?); // session id
    let suites_len = usize::from(u16_at(at)?);
    let suites = (0..suites_len / 2)
        .map(|i| u16_at(at + 2 + 2 * i))
        .collect::<Option<Vec<u16>>>()?;
    at += 2 + suites_len;
    at += 1 + usize::from(*hello.get(at)?); // compression methods
    let end = at + 2 + usize::from(u16_at(at)?);
    at += 2;
    let mut groups = Vec::new();
    while at + 4 <= end {
        let (kind, len) = (u16_at(at)?, usize::from(u16_at(at + 2)?));
        if kind == 0x000a {
            let count = usize::from(u16_at(at + 4)?) / 2;
            groups = (0..count)
                .map(|i| u16_at(at + 6 + 2 * i))
                .collect::<Option<Vec<u16>>>()?;
        }
        at += 4 + len;
    }
    Some((groups, suites))
}

async fn report(who: &str, hello: Hello) {
    let seen = tokio::time::timeout(Duration::from_secs(20), hello.hello)
        .await
        .ok()
        .and_then(Result::ok)
        .flatten();
    let hex = |list: &[u16]| {
        list.iter()
            .map(|v| format!("{v:04x}"))
            .collect::<Vec<_>>()
            .join(",")
    };
    match seen {
        Some((groups, suites)) => println!("{who} {} {}", hex(&groups), hex(&suites)),
        None => println!("{who} none none"),
    }
}

async fn app_request(who: &str, client: &reqwest::Client) {
    let hello = listen().await;
    let _ = client.get(&hello.url).send().await;
    report(who, hello).await;
}

#[kansoku::monitor_api_endpoint(name = "tls-probe")]
async fn failing() -> Result<(), std::io::Error> {
    Err(std::io::Error::other(
        "an error for the Sentry transport to send",
    ))
}

#[tokio::main]
async fn main() {
    // with reqwest's `rustls-no-provider`, the application installs the process's provider
    // itself (aws-lc-rs here); reqwest's default rustls brings its own
    #[cfg(feature = "no-provider")]
    rustls::crypto::aws_lc_rs::default_provider()
        .install_default()
        .expect("the first provider");
    let before = reqwest::Client::new();
    app_request("app-before", &before).await;

    let sentry = listen().await;
    let otlp = listen().await;
    let dsn = sentry.url.replace("https://", "https://public@") + "/1";
    let telemetry = kansoku::Telemetry::builder()
        .namespace("tls_probe")
        .sentry_dsn(dsn)
        .otlp_endpoint(&otlp.url)
        .otlp_export_interval(Duration::from_secs(3600))
        .otlp_timeout(Duration::from_secs(5))
        .install()
        .expect("install");
    let after = reqwest::Client::new();
    app_request("app-after", &after).await;

    let check = listen().await;
    let _ = kansoku::http::HttpCheck::new("dependency", &check.url)
        .unwrap()
        .check()
        .await;
    report("kansoku-http-check", check).await;

    let _ = failing().await;
    let _ = telemetry.flush(Duration::from_secs(5)).await;
    report("kansoku-sentry", sentry).await;
    report("kansoku-otlp", otlp).await;
    telemetry.shutdown().await;
}
