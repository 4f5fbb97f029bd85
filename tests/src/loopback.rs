//! A small real HTTP server of a test's own: a runtime of its own serving a handler on a
//! loopback port the OS picks, over HTTP/1.1 or HTTP/2 (without TLS), usable from sync and
//! async tests alike. The receivers standing in for Sentry's ingestion and for an OTLP
//! collector are built on it.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::Arc;

use hyper::body::{Body, Incoming};
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::{TokioExecutor, TokioIo};

/// A server running until its runtime is dropped.
#[derive(Debug)]
pub struct Loopback {
    pub addr: SocketAddr,
    /// TCP connections accepted so far.
    pub connections: Arc<AtomicUsize>,
    pub runtime: tokio::runtime::Runtime,
}

impl Loopback {
    /// How many TCP connections were opened to it.
    pub fn connections(&self) -> usize {
        self.connections.load(SeqCst)
    }
}

/// Serves `handle` on `127.0.0.1:0`, each connection over HTTP/2 when `http2`, else HTTP/1.1.
///
/// # Panics
/// If no runtime can be made or no loopback port bound.
pub fn serve<H, Fut, B>(thread_name: &str, http2: bool, handle: H) -> Loopback
where
    H: Fn(Request<Incoming>) -> Fut + Clone + Send + Sync + 'static,
    Fut: Future<Output = Result<Response<B>, hyper::Error>> + Send + 'static,
    B: Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .thread_name(thread_name)
        .build()
        .expect("a runtime for the server");
    // bound here, served by the runtime: made from sync or async code alike
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a loopback port");
    listener
        .set_nonblocking(true)
        .expect("a non-blocking listener");
    let addr = listener.local_addr().expect("its address");
    let connections = Arc::new(AtomicUsize::new(0));
    let counted = connections.clone();
    runtime.spawn(async move {
        let listener = tokio::net::TcpListener::from_std(listener).expect("a tokio listener");
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            counted.fetch_add(1, SeqCst);
            let handle = handle.clone();
            tokio::spawn(async move {
                let service = service_fn(handle);
                let io = TokioIo::new(stream);
                let _ = if http2 {
                    hyper::server::conn::http2::Builder::new(TokioExecutor::new())
                        .serve_connection(io, service)
                        .await
                } else {
                    hyper::server::conn::http1::Builder::new()
                        .serve_connection(io, service)
                        .await
                };
            });
        }
    });
    Loopback {
        addr,
        connections,
        runtime,
    }
}
