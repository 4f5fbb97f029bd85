//! Stand-ins for what cannot run here, named as such: a **Slack incoming-webhook listener**
//! (Slack itself is a remote service) and an **SMTP listener** (a mail server). Both run on
//! loopback ports they pick, record what they receive, and answer as a test scripts them.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::post;
use axum::Router;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;

/// How the webhook listener answers one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answer {
    /// `200 ok`, as Slack does.
    Ok,
    /// This status code.
    Status(u16),
    /// Never answers (the connection stays open).
    Hang,
}

#[derive(Debug, Default)]
struct Hook {
    script: Mutex<VecDeque<Answer>>,
    then: Mutex<Option<Answer>>,
    bodies: Mutex<Vec<serde_json::Value>>,
}

/// The Slack incoming-webhook stand-in.
#[derive(Debug, Clone)]
pub struct WebhookListener {
    url: String,
    hook: Arc<Hook>,
}

impl WebhookListener {
    /// Starts on the current tokio runtime; answers `script` in order, then `then`.
    ///
    /// # Panics
    /// If no loopback port can be bound.
    pub async fn start(script: &[Answer], then: Answer) -> WebhookListener {
        let hook = Arc::new(Hook {
            script: Mutex::new(script.iter().copied().collect()),
            then: Mutex::new(Some(then)),
            bodies: Mutex::default(),
        });
        let app = Router::new()
            .route("/services/T0/B0/secret", post(receive))
            .with_state(hook.clone());
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("a loopback port");
        let url = format!(
            "http://{}/services/T0/B0/secret",
            listener.local_addr().unwrap()
        );
        tokio::spawn(async move { axum::serve(listener, app).await });
        WebhookListener { url, hook }
    }

    /// The webhook URL to configure.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Every body received (each try counts), in order.
    pub fn bodies(&self) -> Vec<serde_json::Value> {
        self.hook.bodies.lock().unwrap().clone()
    }

    /// How many requests arrived.
    pub fn tries(&self) -> usize {
        self.hook.bodies.lock().unwrap().len()
    }

    /// Waits until `done` holds of the bodies, at most `limit`.
    ///
    /// # Panics
    /// When it does not, with what was received.
    pub async fn wait_for(
        &self,
        what: &str,
        limit: Duration,
        done: impl Fn(&[serde_json::Value]) -> bool,
    ) {
        let deadline = tokio::time::Instant::now() + limit;
        loop {
            if done(&self.bodies()) {
                return;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "the webhook listener did not receive {what} within {limit:?}; it received {:#?}",
                self.bodies()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

async fn receive(State(hook): State<Arc<Hook>>, body: String) -> StatusCode {
    let json = serde_json::from_str(&body).unwrap_or(serde_json::Value::String(body));
    hook.bodies.lock().unwrap().push(json);
    let answer = hook
        .script
        .lock()
        .unwrap()
        .pop_front()
        .or(*hook.then.lock().unwrap())
        .unwrap_or(Answer::Ok);
    match answer {
        Answer::Ok => StatusCode::OK,
        Answer::Status(code) => StatusCode::from_u16(code).unwrap(),
        Answer::Hang => std::future::pending().await,
    }
}

/// The mail-server stand-in: speaks enough SMTP for a client without TLS or AUTH and keeps
/// each message's DATA.
#[derive(Debug, Clone)]
pub struct SmtpListener {
    port: u16,
    mails: Arc<Mutex<Vec<String>>>,
}

impl SmtpListener {
    /// Starts on the current tokio runtime.
    ///
    /// # Panics
    /// If no loopback port can be bound.
    pub async fn start() -> SmtpListener {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("a loopback port");
        let port = listener.local_addr().unwrap().port();
        let mails = Arc::new(Mutex::new(Vec::new()));
        let sink = mails.clone();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                tokio::spawn(session(stream, sink.clone()));
            }
        });
        SmtpListener { port, mails }
    }

    /// `127.0.0.1:port`.
    pub fn address(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// The messages received (headers and body, as sent).
    pub fn mails(&self) -> Vec<String> {
        self.mails.lock().unwrap().clone()
    }
}

async fn session(stream: tokio::net::TcpStream, mails: Arc<Mutex<Vec<String>>>) {
    let (read, mut write) = stream.into_split();
    let mut lines = BufReader::new(read).lines();
    let _ = write.write_all(b"220 localhost ESMTP stand-in\r\n").await;
    while let Ok(Some(line)) = lines.next_line().await {
        let verb = line
            .split_whitespace()
            .next()
            .unwrap_or("")
            .to_ascii_uppercase();
        let reply: &[u8] = match verb.as_str() {
            "EHLO" => b"250-localhost\r\n250 8BITMIME\r\n",
            "HELO" | "MAIL" | "RCPT" | "RSET" | "NOOP" => b"250 ok\r\n",
            "DATA" => {
                let _ = write.write_all(b"354 end with .\r\n").await;
                let mut mail = String::new();
                while let Ok(Some(line)) = lines.next_line().await {
                    if line == "." {
                        break;
                    }
                    mail.push_str(&line);
                    mail.push('\n');
                }
                mails.lock().unwrap().push(mail);
                b"250 queued\r\n"
            }
            "QUIT" => {
                let _ = write.write_all(b"221 bye\r\n").await;
                return;
            }
            _ => b"502 not implemented\r\n",
        };
        let _ = write.write_all(reply).await;
    }
}
