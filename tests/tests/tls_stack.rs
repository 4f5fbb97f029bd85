//! Which TLS stack kansoku's own outgoing requests use, in an application whose `reqwest` is
//! built with `rustls-no-provider` alone (this crate's) and whose client is built before and
//! after `install()`: kansoku depends on no `reqwest` (so it changes none of the application's
//! features), and its HTTP check goes through its own hyper + rustls (ring) client, which
//! trusts Mozilla's roots and nothing else. An `openssl s_server` with a certificate from a
//! private CA is the dependency: rustls refuses its issuer by name (`UnknownIssuer`), whatever
//! the application's own client would do with it.

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use kansoku::http::{HealthCheck as _, HttpCheck};
use kansoku_tests::redis_production::Certificates;

struct TlsServer {
    child: Child,
    port: u16,
}

impl Drop for TlsServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `openssl s_server -www` on a loopback port: any GET gets a 200 status page.
fn tls_server(certificates: &Certificates) -> TlsServer {
    let (cert, key) = certificates.server();
    let port = kansoku_tests::free_port();
    let mut child = Command::new(kansoku_tests::required_tool("openssl"))
        .args(["s_server", "-quiet", "-www", "-accept"])
        .arg(format!("127.0.0.1:{port}"))
        .args(["-cert", &cert, "-key", &key])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("openssl s_server");
    for _ in 0..100 {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return TlsServer { child, port };
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = child.kill();
    let _ = child.wait();
    panic!("openssl s_server did not listen on {port}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kansokus_http_check_speaks_its_own_rustls_whatever_the_applications_reqwest_does() {
    // the application's reqwest client, made before kansoku is installed
    let before = kansoku_tests::http_client();
    let telemetry = kansoku::Telemetry::builder()
        .namespace("tls_stack")
        .install()
        .expect("install");
    let after = kansoku_tests::http_client();

    let certificates = Certificates::make("tls-stack");
    let server = tls_server(&certificates);
    let check = HttpCheck::new("search", &format!("https://127.0.0.1:{}", server.port)).unwrap();
    let refused = check.check().await.unwrap_err().to_string();
    assert!(
        refused.starts_with("cannot connect") && refused.contains("UnknownIssuer"),
        "rustls (webpki roots) refuses the private CA: {refused}"
    );

    // over plain HTTP, with a user in the URL: the check passes, sending basic authentication
    let health = axum::Router::new().route(
        "/health",
        axum::routing::get(|headers: http::HeaderMap| async move {
            let auth = headers
                .get("authorization")
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .to_owned();
            if auth == "Basic YW5uOnMzY3JldA==" {
                (http::StatusCode::OK, r#"{"status":"available"}"#)
            } else {
                (http::StatusCode::UNAUTHORIZED, "who are you")
            }
        }),
    );
    let plain = kansoku_tests::http_support::Server::start(health).await;
    let base = plain.url("/").replace("http://", "http://ann:s3cret@");
    HttpCheck::new("search", &base)
        .unwrap()
        .check()
        .await
        .expect("a healthy dependency");

    // the application's own clients, before and after, are untouched and work
    for client in [&before, &after] {
        let error = client
            .get(format!("https://127.0.0.1:{}/", server.port))
            .send()
            .await
            .unwrap_err();
        assert!(error.is_connect() || error.is_request(), "{error}");
    }
    drop(server);
    telemetry.shutdown().await;

    // kansoku's dependency tree holds no reqwest: the application's features are its own
    let tree = Command::new(env!("CARGO"))
        .args([
            "tree",
            "-p",
            "kansoku",
            "--all-features",
            "-e",
            "normal",
            "--prefix",
            "none",
            "--offline",
        ])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("cargo tree");
    let tree = String::from_utf8_lossy(&tree.stdout);
    assert!(tree.contains("hyper-rustls"), "{tree}");
    assert!(
        !tree.lines().any(|line| line.starts_with("reqwest ")),
        "kansoku depends on reqwest: {tree}"
    );
}

/// The application of `tests/apps/tls-probe` built with `variant`'s features: `default`
/// (reqwest's default features: rustls with aws-lc-rs) or `no-provider` (reqwest's
/// `rustls-no-provider` alone, aws-lc-rs installed by the application as the process's
/// provider). Built here every time, into a target folder of its own (the workspace's is locked
/// by the `cargo test` running this), so the probe is never older than kansoku's sources;
/// `scripts/test.sh` builds both first, which makes these builds no-ops there.
fn tls_probe(variant: &str) -> std::path::PathBuf {
    // the two variants share the folder, and so the binary's path: one build and copy at a time
    static BUILDING: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _building = BUILDING
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let target = root.join("target/tls-probe");
    let mut build = Command::new(env!("CARGO"));
    build
        .args(["build", "-q", "--manifest-path"])
        .arg(root.join("tests/apps/tls-probe/Cargo.toml"))
        .arg("--target-dir")
        .arg(&target);
    if variant != "default" {
        build.args(["--no-default-features", "--features", variant]);
    }
    let status = build.status().expect("cargo build of tests/apps/tls-probe");
    assert!(
        status.success(),
        "tests/apps/tls-probe ({variant}) does not build"
    );
    let probe = target.join(format!("debug/tls-probe-{variant}"));
    std::fs::copy(target.join("debug/tls-probe"), &probe).expect("the probe's binary");
    probe
}

/// X25519MLKEM768: a key-exchange group rustls offers with aws-lc-rs, never with ring.
const ML_KEM: &str = "11ec";
/// What rustls offers with ring: X25519, P-256, P-384.
const RING_GROUPS: &str = "001d,0017,0018";
/// rustls' cipher suites (TLS 1.3, then TLS 1.2 ECDHE, then the renegotiation SCSV); OpenSSL
/// offers some thirty, with its DHE and CBC suites.
const RUSTLS_SUITES: &str = "1302,1301,1303,c02c,c02b,cca9,c030,c02f,cca8,00ff";

/// Runs the probe: its own client's requests and kansoku's, each to a listener reading the
/// `ClientHello`; asserts the application's offer aws-lc-rs' ML-KEM group and kansoku's are
/// rustls with ring.
fn probe(variant: &str) {
    let output = Command::new(tls_probe(variant))
        .output()
        .expect("the application runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{variant}: the application (its reqwest client built before install() too) ran: {stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let hellos: std::collections::BTreeMap<&str, (&str, &str)> = stdout
        .lines()
        .filter_map(|line| {
            let mut parts = line.split(' ');
            Some((parts.next()?, (parts.next()?, parts.next()?)))
        })
        .collect();
    // the application's own client, made before and after install(): its stack (aws-lc-rs)
    for who in ["app-before", "app-after"] {
        let (groups, suites) = hellos[who];
        assert!(
            groups.split(',').any(|g| g == ML_KEM),
            "{variant} {who}: {groups}"
        );
        assert_eq!(suites, RUSTLS_SUITES, "{variant} {who}");
    }
    // every outgoing request of kansoku's: rustls with ring, whatever the application's is
    for who in ["kansoku-http-check", "kansoku-sentry", "kansoku-otlp"] {
        let (groups, suites) = hellos
            .get(who)
            .unwrap_or_else(|| panic!("{variant}: no line for {who}: {stdout}"));
        assert_eq!(
            *groups, RING_GROUPS,
            "{variant} {who}: ring's groups, no ML-KEM"
        );
        assert_eq!(
            *suites, RUSTLS_SUITES,
            "{variant} {who}: rustls, not OpenSSL"
        );
    }
}

#[test]
fn with_reqwests_default_tls_kansokus_requests_are_rustls_with_ring() {
    probe("default");
}

#[test]
fn with_aws_lc_installed_as_the_process_provider_kansokus_requests_are_still_ring() {
    probe("no-provider");
}
