//! A real axum server on a loopback port the test picks, and what a client sees of it.

use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::{TcpListener, TcpStream};

/// A running server; stopped when dropped.
#[derive(Debug)]
pub struct Server {
    /// Where it listens.
    pub addr: SocketAddr,
    task: tokio::task::JoinHandle<()>,
}

impl Server {
    /// Serves `app` on `127.0.0.1:0` (the OS picks a free port).
    ///
    /// # Panics
    /// If no loopback port can be bound.
    pub async fn start(app: axum::Router) -> Server {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("a free loopback port");
        let addr = listener.local_addr().expect("a bound address");
        let task = tokio::spawn(async move {
            axum::serve(listener, app).await.expect("the server runs");
        });
        Server { addr, task }
    }

    /// `http://127.0.0.1:PORT{path}`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// The status of `GET path` sent with `client`.
    ///
    /// # Panics
    /// If the request fails.
    pub async fn get_status(&self, client: &reqwest::Client, path: &str) -> u16 {
        client
            .get(self.url(path))
            .send()
            .await
            .expect("the server answers")
            .status()
            .as_u16()
    }

    /// Sends `head` (a request line and headers, CRLF-separated, without the blank line) and
    /// then `body` over a fresh connection, and returns the stream without reading: for
    /// requests a normal client would not send, and for hanging up mid-request.
    ///
    /// # Panics
    /// If the server cannot be reached.
    pub async fn send_raw(&self, head: &str, body: &[u8]) -> TcpStream {
        let mut stream = TcpStream::connect(self.addr).await.expect("connect");
        stream
            .write_all(format!("{head}\r\n\r\n").as_bytes())
            .await
            .expect("write the head");
        stream.write_all(body).await.expect("write the body");
        stream
    }

    /// Reads a whole response (the server closes after `Connection: close`).
    ///
    /// # Panics
    /// If the response does not come in 10 s.
    pub async fn read_response(mut stream: TcpStream) -> String {
        let mut out = Vec::new();
        tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut out))
            .await
            .expect("a response within 10 s")
            .expect("read the response");
        String::from_utf8_lossy(&out).into_owned()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Polls `check` every 10 ms until it holds, up to 10 s.
///
/// # Panics
/// If it never holds: `what` says what was awaited.
pub async fn eventually(what: &str, mut check: impl FnMut() -> bool) {
    for _ in 0..1000 {
        if check() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("timed out waiting for {what}");
}
