//! The gRPC example's server (and, with `--call NAME`, a client call to it): see the crate
//! docs of `grpc_greeter`.

use std::process::ExitCode;

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .init();
    match run().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("grpc-greeter: {error}");
            ExitCode::FAILURE
        }
    }
}

async fn run() -> Result<(), Box<dyn std::error::Error>> {
    let var = |name: &str, default: &str| {
        std::env::var(name)
            .ok()
            .filter(|v| !v.trim().is_empty())
            .unwrap_or_else(|| default.to_owned())
    };
    let grpc_addr = var("GRPC_ADDR", "127.0.0.1:50051");
    let args: Vec<String> = std::env::args().skip(1).collect();
    if let [flag, name] = args.as_slice() {
        if flag == "--call" {
            let mut client =
                grpc_greeter::pb::GreeterClient::connect(format!("http://{grpc_addr}")).await?;
            let reply = client
                .say_hello(tonic::Request::new(grpc_greeter::pb::HelloRequest {
                    name: name.clone(),
                }))
                .await?;
            println!("{}", reply.into_inner().message);
            return Ok(());
        }
    }
    if !args.is_empty() {
        return Err(
            "usage: grpc-greeter [--call NAME]   (see the crate docs for the environment)".into(),
        );
    }

    let telemetry = kansoku::Telemetry::builder()
        .namespace("greeter")
        .service_name("grpc-greeter")
        .release(env!("CARGO_PKG_VERSION"))
        .from_env()
        .install()?;

    // `/metrics`, `/health`, `/ops/live` on their own port: gRPC speaks HTTP/2 only
    let ops_addr = var("OPS_ADDR", "127.0.0.1:9464");
    let ops = tokio::net::TcpListener::bind(&ops_addr)
        .await
        .map_err(|e| format!("cannot listen on {ops_addr}: {e}"))?;
    let ops_router = kansoku::http::ops_router(&telemetry, kansoku::http::OpsConfig::from_env());
    // the peer's address tells `/metrics` a loopback client when no token is set
    let ops_server = tokio::spawn(async move {
        axum::serve(
            ops,
            ops_router.into_make_service_with_connect_info::<std::net::SocketAddr>(),
        )
        .await
    });

    let listener = tokio::net::TcpListener::bind(&grpc_addr)
        .await
        .map_err(|e| format!("cannot listen on {grpc_addr}: {e}"))?;
    println!(
        "grpc-greeter listening on http://{} (ops on http://{ops_addr})",
        listener.local_addr()?
    );
    grpc_greeter::serve(listener, &telemetry, async {
        let _ = tokio::signal::ctrl_c().await;
    })
    .await?;
    ops_server.abort();
    telemetry.shutdown().await;
    Ok(())
}
