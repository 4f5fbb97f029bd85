//! A tonic gRPC service instrumented with kansoku: the gRPC example.
//!
//! ```text
//! cargo run -p grpc-greeter                       # gRPC on 127.0.0.1:50051, ops on :9464
//! cargo run -p grpc-greeter -- --call Osaka       # a client call to it
//! curl localhost:9464/metrics
//! ```
//!
//! What kansoku gives a tonic server, with one `.layer(...)` on `Server::builder()`:
//!
//! - Each gRPC method is a route: `ns_http_requests_total{method="POST",
//!   route="/greeter.Greeter/SayHello", status_code="200"}`, its duration (to the end of a
//!   streamed answer) and in flight. [`kansoku::http::grpc_methods`] names the routes from
//!   the service's fixed list of paths; a path outside it is `__unmatched__`, so a client
//!   cannot grow the label set.
//! - The call's `grpc-status` — in the trailers, or in the head of a trailers-only answer — is
//!   counted in `ns_grpc_responses_total{method, route, grpc_status}`, and any status but `0`
//!   is a failure (as tower-http's `GrpcErrorsAsFailures` classifies it), although HTTP says
//!   `200`.
//! - With a Sentry DSN, each call is a transaction named after its method, with the status its
//!   `grpc-status` says (`unavailable`, `data_loss`, …) and `rpc.grpc.status_code`, continuing
//!   the caller's trace from its `sentry-trace` or `traceparent` metadata.
//! - `#[monitor_api_endpoint]` inside a method takes the method as its endpoint.
//!
//! Environment (all optional): `GRPC_ADDR` (`127.0.0.1:50051`), `OPS_ADDR` (`127.0.0.1:9464`),
//! `SENTRY_DSN`, `KANSOKU_REDIS_URL`, `KANSOKU_OPS_TOKEN`, `RUST_LOG`.

pub mod pb;

use std::future::Future;
use std::time::Duration;

use futures::StreamExt as _;
use tonic::{Request, Response, Status};

use pb::{Count, CountRequest, CountStream, HelloReply, HelloRequest};

/// The application's service.
#[derive(Debug, Default)]
pub struct Greeter;

/// Why a greeting failed, as the endpoint's error.
#[derive(Debug)]
pub enum GreetError {
    /// No name was given.
    NoName,
    /// The name asks for the service to be down (for the demo and the tests).
    Down,
}

impl std::fmt::Display for GreetError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            GreetError::NoName => "a name, please",
            GreetError::Down => "the greeter is down",
        })
    }
}

impl std::error::Error for GreetError {}

impl From<GreetError> for Status {
    fn from(error: GreetError) -> Status {
        match error {
            GreetError::NoName => Status::invalid_argument(error.to_string()),
            GreetError::Down => Status::unavailable(error.to_string()),
        }
    }
}

impl Greeter {
    /// The greeting: `kansoku`'s endpoint metrics, errors and span for it, under the call's
    /// transaction, with the gRPC method as the endpoint.
    #[kansoku::monitor_api_endpoint]
    #[kansoku::track_api_request]
    async fn greet(&self, name: &str) -> Result<String, GreetError> {
        // where a real service would look something up
        tokio::task::yield_now().await;
        match name {
            "" => Err(GreetError::NoName),
            "down" => Err(GreetError::Down),
            name => {
                tracing::info!(name, "greeting");
                Ok(format!("hello, {name}"))
            }
        }
    }
}

impl pb::Greeter for Greeter {
    fn say_hello(
        &self,
        request: Request<HelloRequest>,
    ) -> std::pin::Pin<Box<dyn Future<Output = Result<Response<HelloReply>, Status>> + Send>> {
        let name = request.into_inner().name;
        Box::pin(async move {
            let message = Greeter.greet(&name).await?;
            Ok(Response::new(HelloReply { message }))
        })
    }

    fn countdown(
        &self,
        request: Request<CountRequest>,
    ) -> std::pin::Pin<Box<dyn Future<Output = Result<Response<CountStream>, Status>> + Send>> {
        let CountRequest {
            from,
            fail,
            pause_ms,
        } = request.into_inner();
        Box::pin(async move {
            if from > 1000 || pause_ms > 1000 {
                return Err(Status::out_of_range("from and pause_ms are at most 1000"));
            }
            let pause = Duration::from_millis(u64::from(pause_ms));
            let counts = futures::stream::iter((0..from).rev()).then(move |left| async move {
                tokio::time::sleep(pause).await;
                Ok(Count { left })
            });
            // the status goes out in the trailers, after every message
            let end = futures::stream::iter(fail.then(|| Err(Status::data_loss("lost the count"))));
            let stream: CountStream = Box::pin(counts.chain(end));
            Ok(Response::new(stream))
        })
    }
}

/// Serves the greeter on `listener` with kansoku's layers until `shutdown` resolves.
///
/// # Errors
/// When the server fails (tonic's transport error).
pub async fn serve(
    listener: tokio::net::TcpListener,
    telemetry: &kansoku::Telemetry,
    shutdown: impl Future<Output = ()> + Send,
) -> Result<(), tonic::transport::Error> {
    let layer = kansoku::http::KansokuLayer::new(telemetry)
        .route_names(kansoku::http::grpc_methods(pb::METHODS));
    tonic::transport::Server::builder()
        .layer(layer)
        .add_service(pb::GreeterServer::new(Greeter))
        .serve_with_incoming_shutdown(
            tokio_stream::wrappers::TcpListenerStream::new(listener),
            shutdown,
        )
        .await
}
