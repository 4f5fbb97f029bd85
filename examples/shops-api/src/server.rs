//! Serving the router so that slow, stalled and idle clients cannot hold the service.
//!
//! `axum::serve` gives hyper no timer, so hyper's request-head timeout is off, and it bounds
//! neither connections nor shutdown. This is the accept loop of axum's `serve-with-hyper`
//! example with what hyper and tower-http provide switched on:
//!
//! - request head: hyper's `header_read_timeout`. It runs from the moment a connection is ready
//!   for a request (just accepted, or the previous response sent) until the whole head is in,
//!   so it is the idle keep-alive timeout as well (hyper has one timer for both);
//! - request body: tower-http's [`RequestBodyTimeout`] (the longest pause between two parts of
//!   a body), and the whole request through [`Limits::request_timeout_layer`] (then `408`);
//! - connections: at most `max_connections` open. At the bound, a new connection closes the
//!   oldest one that is idle (no request in service, no response being written), as nginx
//!   reuses keep-alive connections when it runs out; with none idle, it waits for one. So idle
//!   and half-sent connections cannot lock `/health` and `/metrics` out, on the same port;
//! - shutdown: stop accepting, close the idle connections at once, let each request in progress
//!   finish (hyper's graceful shutdown: no keep-alive after it), and drop what is still running
//!   after `shutdown_timeout`; the caller then flushes the telemetry.

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::pin;
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use axum::extract::ConnectInfo;
use axum::http::{Request, StatusCode};
use axum::Router;
use http_body_util::BodyExt;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Notify, OwnedSemaphorePermit, Semaphore};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tower::ServiceExt;
use tower_http::timeout::{RequestBodyTimeout, TimeoutLayer};

/// How long clients may take and how many may be connected; each from an environment
/// variable (durations in seconds, fractions allowed).
#[derive(Debug, Clone)]
pub struct Limits {
    /// `HTTP_HEADER_TIMEOUT`, 10 s: to send a request head, from connecting or from the end of
    /// the previous response (so also the idle keep-alive timeout).
    pub header_timeout: Duration,
    /// `HTTP_BODY_TIMEOUT`, 10 s: the longest pause while a request body arrives.
    pub body_timeout: Duration,
    /// `HTTP_REQUEST_TIMEOUT`, 30 s: a request's whole time in the router, body included.
    pub request_timeout: Duration,
    /// `HTTP_MAX_CONNECTIONS`, 512: open connections. Keep it below `ulimit -n` less what the
    /// process needs besides (about 100 here: database, Redis, outgoing HTTP).
    pub max_connections: usize,
    /// `SHUTDOWN_TIMEOUT`, 10 s: after SIGTERM, how long requests in progress may still take.
    pub shutdown_timeout: Duration,
}

impl Limits {
    /// Reads the variables through `var`; a missing one takes its default.
    pub fn read(var: impl Fn(&str) -> Option<String>) -> Result<Limits, String> {
        let seconds = |name: &str, default: u64| match var(name) {
            None => Ok(Duration::from_secs(default)),
            Some(value) => value
                .trim()
                .parse::<f64>()
                .ok()
                .filter(|s| *s > 0.0)
                .and_then(|s| Duration::try_from_secs_f64(s).ok())
                .ok_or_else(|| {
                    format!("{name} must be a positive number of seconds, not {value:?}")
                }),
        };
        let max_connections = match var("HTTP_MAX_CONNECTIONS") {
            None => 512,
            Some(value) => value
                .trim()
                .parse()
                .ok()
                .filter(|n| *n > 0)
                .ok_or_else(|| {
                    format!("HTTP_MAX_CONNECTIONS must be a positive whole number, not {value:?}")
                })?,
        };
        Ok(Limits {
            header_timeout: seconds("HTTP_HEADER_TIMEOUT", 10)?,
            body_timeout: seconds("HTTP_BODY_TIMEOUT", 10)?,
            request_timeout: seconds("HTTP_REQUEST_TIMEOUT", 30)?,
            max_connections,
            shutdown_timeout: seconds("SHUTDOWN_TIMEOUT", 10)?,
        })
    }

    /// The whole-request timeout, to go in the router's own `.layer` call, inside kansoku's
    /// layer, so a timed-out request is counted by its route as a `408`.
    pub fn request_timeout_layer(&self) -> TimeoutLayer {
        TimeoutLayer::with_status_code(StatusCode::REQUEST_TIMEOUT, self.request_timeout)
    }
}

/// Serves `router` on `listener` within `limits` until `signal`, then shuts down within
/// `limits.shutdown_timeout`. Requests carry the peer's `ConnectInfo<SocketAddr>`.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    limits: &Limits,
    signal: impl Future<Output = ()>,
) {
    let mut http = http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout);
    let server = Arc::new(Server {
        http,
        app: RequestBodyTimeout::new(router, limits.body_timeout),
        open: Mutex::default(),
        went_idle: Notify::new(),
        closing: CancellationToken::new(),
        dropping: CancellationToken::new(),
    });
    let slots = Arc::new(Semaphore::new(limits.max_connections));
    let tasks = TaskTracker::new();
    let mut signal = pin!(signal);
    loop {
        let accepted = tokio::select! {
            () = &mut signal => break,
            accepted = listener.accept() => accepted,
        };
        let (stream, peer) = match accepted {
            Ok(accepted) => accepted,
            Err(error) if is_connection_error(&error) => continue,
            Err(error) => {
                // out of file descriptors, most likely: make room, retry shortly (as axum does)
                tracing::error!(%error, "cannot accept a connection");
                server.close_oldest_idle();
                tokio::select! {
                    () = &mut signal => break,
                    () = tokio::time::sleep(Duration::from_millis(100)) => continue,
                }
            }
        };
        let slot = tokio::select! {
            () = &mut signal => break,
            slot = server.slot(&slots) => slot,
        };
        tasks.spawn(server.clone().run(stream, peer, slot));
    }
    drop(listener);
    server.shut_down(&tasks, limits.shutdown_timeout).await;
}

/// What every connection's task shares.
struct Server {
    http: http1::Builder,
    app: RequestBodyTimeout<Router>,
    open: Mutex<Open>,
    /// Told when a connection has nothing left in service, for an accept waiting at the bound.
    went_idle: Notify,
    /// Cancelled at shutdown: every connection closes when idle.
    closing: CancellationToken,
    /// Cancelled at the shutdown deadline: every connection is dropped.
    dropping: CancellationToken,
}

/// The open connections, oldest first.
#[derive(Default)]
struct Open {
    next_id: u64,
    by_age: BTreeMap<u64, Arc<Connection>>,
}

struct Connection {
    /// Requests in the router or with a response still being written.
    in_service: AtomicUsize,
    /// Cancelled to close this connection when idle (at the bound, or at shutdown).
    close: CancellationToken,
}

impl Server {
    /// A slot for one more connection; at the bound, the oldest idle connection is closed to
    /// make one, and with none idle this waits for a slot or for a connection to go idle.
    async fn slot(&self, slots: &Arc<Semaphore>) -> OwnedSemaphorePermit {
        loop {
            if let Ok(slot) = slots.clone().try_acquire_owned() {
                return slot;
            }
            self.close_oldest_idle();
            tokio::select! {
                slot = slots.clone().acquire_owned() => {
                    return slot.expect("the semaphore is never closed");
                }
                () = self.went_idle.notified() => {}
            }
        }
    }

    /// Asks the oldest idle connection not already closing to close; `false` if none is idle.
    fn close_oldest_idle(&self) -> bool {
        let open = self.open.lock().unwrap_or_else(PoisonError::into_inner);
        let idle = open
            .by_age
            .values()
            .find(|c| c.in_service.load(SeqCst) == 0 && !c.close.is_cancelled());
        idle.inspect(|c| c.close.cancel()).is_some()
    }

    /// Serves one connection until it ends, is closed when idle, or is dropped at the deadline.
    async fn run(
        self: Arc<Self>,
        stream: TcpStream,
        peer: SocketAddr,
        _slot: OwnedSemaphorePermit,
    ) {
        let (id, connection) = self.add();
        let service = {
            let (server, connection) = (self.clone(), connection.clone());
            hyper::service::service_fn(move |mut request: Request<Incoming>| {
                // what `into_make_service_with_connect_info` gives: the ops router serves
                // `/metrics` without a token to loopback peers only
                request.extensions_mut().insert(ConnectInfo(peer));
                let in_service = InService::start(&server, &connection);
                let response = server.app.clone().oneshot(request);
                async move {
                    let response = response.await?;
                    // The guard lives in the body, which hyper drops once the last byte is
                    // written: a connection writing a response is never idle.
                    Ok::<_, Infallible>(response.map(|body| {
                        body.map_frame(move |frame| {
                            let _ = &in_service;
                            frame
                        })
                    }))
                }
            })
        };
        let mut served = pin!(self.http.serve_connection(TokioIo::new(stream), service));
        let mut closing = false;
        loop {
            tokio::select! {
                result = served.as_mut() => {
                    if let Err(error) = result {
                        tracing::debug!(%peer, %error, "connection closed");
                    }
                    break;
                }
                () = connection.close.cancelled(), if !closing => {
                    // checked here, in the connection's own task: nothing can start meanwhile
                    if connection.in_service.load(SeqCst) == 0 {
                        break;
                    }
                    served.as_mut().graceful_shutdown();
                    closing = true;
                }
                () = self.dropping.cancelled() => break,
            }
        }
        self.remove(id);
    }

    fn add(&self) -> (u64, Arc<Connection>) {
        let connection = Arc::new(Connection {
            in_service: AtomicUsize::new(0),
            close: self.closing.child_token(),
        });
        let mut open = self.open.lock().unwrap_or_else(PoisonError::into_inner);
        let id = open.next_id;
        open.next_id += 1;
        open.by_age.insert(id, connection.clone());
        (id, connection)
    }

    fn remove(&self, id: u64) {
        let mut open = self.open.lock().unwrap_or_else(PoisonError::into_inner);
        open.by_age.remove(&id);
    }

    /// Closes every idle connection, lets the others finish their request for at most
    /// `deadline`, then drops them.
    async fn shut_down(&self, tasks: &TaskTracker, deadline: Duration) {
        self.closing.cancel();
        tasks.close();
        if tokio::time::timeout(deadline, tasks.wait()).await.is_err() {
            tracing::warn!(
                connections = tasks.len(),
                "requests still in progress after {deadline:?}: dropping them"
            );
            self.dropping.cancel();
            tasks.wait().await;
        }
    }
}

/// One request in service on a connection, from the router's call to its response's last byte.
struct InService {
    server: Arc<Server>,
    connection: Arc<Connection>,
}

impl InService {
    fn start(server: &Arc<Server>, connection: &Arc<Connection>) -> InService {
        connection.in_service.fetch_add(1, SeqCst);
        InService {
            server: server.clone(),
            connection: connection.clone(),
        }
    }
}

impl Drop for InService {
    fn drop(&mut self) {
        if self.connection.in_service.fetch_sub(1, SeqCst) == 1 {
            self.server.went_idle.notify_one();
        }
    }
}

/// The peer gave up before the connection was accepted: nothing to do (as axum's `serve`).
fn is_connection_error(error: &std::io::Error) -> bool {
    use std::io::ErrorKind::{ConnectionAborted, ConnectionRefused, ConnectionReset};
    matches!(
        error.kind(),
        ConnectionRefused | ConnectionAborted | ConnectionReset
    )
}
