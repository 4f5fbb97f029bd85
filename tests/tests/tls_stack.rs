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
