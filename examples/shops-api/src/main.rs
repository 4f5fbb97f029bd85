//! The shops API of the monitoring guide, on axum, instrumented with kansoku: the main example.
//!
//! ```text
//! cargo run -p shops-api                          # SQLite in a temp file, 127.0.0.1:8000
//! curl localhost:8000/shops
//! curl localhost:8000/metrics                     # loopback only, or with KANSOKU_OPS_TOKEN
//! curl localhost:8000/health/detailed
//! ```
//!
//! Environment (all optional): `ADDR` (or `--addr`), `DATABASE_URL` (PostgreSQL or SQLite;
//! default a new SQLite file, seeded), `SEARCH_URL` (a Meilisearch-style search service; else
//! SQL `LIKE`), `UPSTREAM_URL` (another instance, for `/upstream/shops/{id}`), `SENTRY_DSN`,
//! `KANSOKU_REDIS_URL`, `KANSOKU_OPS_TOKEN`, `REDIS_CRITICAL=1` (Redis down makes the service
//! unhealthy instead of degraded), `RUST_LOG`.
//!
//! What slow and idle clients may take (seconds; see `server.rs`): `HTTP_HEADER_TIMEOUT` (10,
//! to send a request head, and the idle keep-alive timeout), `HTTP_BODY_TIMEOUT` (10, the
//! longest pause in a request body), `HTTP_REQUEST_TIMEOUT` (30, a whole request, then 408),
//! `HTTP_MAX_CONNECTIONS` (512; at the bound the oldest idle connection is closed for a new
//! one), `SHUTDOWN_TIMEOUT` (10, for the requests in progress at SIGTERM, then they are dropped
//! and the telemetry flushed).
//!
//! Built with `--no-default-features`, kansoku's backends are off: the same service without
//! layers, ops router or recording, the load test's baseline.

mod db;
mod error;
mod routes;
mod search;
mod server;

use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::Duration;

use axum::routing::{get, post};
use axum::Router;

use db::Db;
use search::Search;

/// What the handlers share.
#[derive(Debug, Clone)]
pub struct App {
    db: Db,
    search: Option<Search>,
    upstream: Option<String>,
    http: reqwest::Client,
}

/// The settings, from the command line and the environment.
#[derive(Debug)]
struct Settings {
    addr: SocketAddr,
    database_url: Option<String>,
    search_url: Option<String>,
    upstream_url: Option<String>,
    #[cfg_attr(not(feature = "instrumented"), allow(dead_code))]
    redis_critical: bool,
    limits: server::Limits,
}

impl Settings {
    fn read() -> Result<Settings, String> {
        let var = |name: &str| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
        let mut addr = var("ADDR").unwrap_or_else(|| "127.0.0.1:8000".to_owned());
        let mut args = std::env::args().skip(1);
        while let Some(arg) = args.next() {
            match arg.as_str() {
                "--addr" => {
                    addr = args
                        .next()
                        .ok_or("--addr needs a value, e.g. 127.0.0.1:8000")?;
                }
                other if other.starts_with("--addr=") => {
                    other["--addr=".len()..].clone_into(&mut addr);
                }
                "-h" | "--help" => {
                    println!("usage: shops-api [--addr HOST:PORT]   (see the crate docs for the environment)");
                    std::process::exit(0);
                }
                other => return Err(format!("unknown argument {other:?} (try --help)")),
            }
        }
        let addr = addr.parse().map_err(|_| {
            format!("ADDR/--addr must be HOST:PORT, like 127.0.0.1:8000, not {addr:?}")
        })?;
        Ok(Settings {
            addr,
            database_url: var("DATABASE_URL"),
            search_url: var("SEARCH_URL"),
            upstream_url: var("UPSTREAM_URL"),
            redis_critical: var("REDIS_CRITICAL").is_some_and(|v| v == "1" || v == "true"),
            limits: server::Limits::read(var)?,
        })
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "info,sqlx=warn".into()),
        )
        .init();
    match run().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("shops-api: {error}");
            ExitCode::FAILURE
        }
    }
}

async fn run() -> Result<(), Box<dyn std::error::Error>> {
    let settings = Settings::read()?;
    // reqwest is built with rustls and no provider of its own; kansoku's `build` installs ring
    // too, but the example also runs with kansoku's features off (the load test's baseline)
    if rustls::crypto::CryptoProvider::get_default().is_none() {
        let _ = rustls::crypto::ring::default_provider().install_default();
    }

    let environment = std::env::var("SENTRY_ENVIRONMENT").unwrap_or_else(|_| "development".into());
    let telemetry = kansoku::Telemetry::builder()
        .namespace("osakamenesu")
        .service_name("shops-api")
        .environment(environment)
        .release(env!("CARGO_PKG_VERSION"))
        .from_env()
        .install()?;

    let db = Db::open(settings.database_url.as_deref(), 10)
        .await
        .map_err(|e| format!("cannot open the database: {e}"))?;
    let search = settings
        .search_url
        .as_deref()
        .map(|url| Search::new(url, Duration::from_secs(2)))
        .transpose()?;
    let app = App {
        db: db.clone(),
        search,
        upstream: settings.upstream_url.clone(),
        http: reqwest::Client::builder()
            .timeout(Duration::from_secs(5))
            .build()?,
    };
    let refresher = tokio::spawn(refresh_gauges(app.clone()));

    let router = Router::new()
        .route("/shops", get(routes::list_shops))
        .route("/shops/search", get(routes::search_shops))
        .route("/shops/{id}", get(routes::show_shop))
        .route("/reservations", post(routes::create_reservation))
        .route("/users/active", get(routes::active_users))
        .route("/fail", get(routes::fail))
        .route("/upstream/shops/{id}", get(routes::upstream_shop))
        .with_state(app);
    let timeout = settings.limits.request_timeout_layer();
    let router = instrument(router, timeout, &telemetry, &settings, &db)?;

    let listener = tokio::net::TcpListener::bind(settings.addr)
        .await
        .map_err(|e| format!("cannot listen on {}: {e}", settings.addr))?;
    let local = listener.local_addr()?;
    // one line for scripts and tests (the port is the real one when ADDR asked for port 0)
    println!("shops-api listening on http://{local}");
    tracing::info!(
        "try http://{local}/shops, /shops/1, /shops/search?q=namba, /metrics, /health/detailed; Ctrl-C stops"
    );
    server::serve(listener, router, &settings.limits, shutdown_signal()).await;

    tracing::info!("no connection left; flushing telemetry");
    refresher.abort();
    db.close().await;
    telemetry.shutdown().await;
    Ok(())
}

/// The ops router and the layers, when kansoku's backends are on.
#[cfg(feature = "instrumented")]
fn instrument(
    router: Router,
    timeout: tower_http::timeout::TimeoutLayer,
    telemetry: &kansoku::Telemetry,
    settings: &Settings,
    db: &Db,
) -> Result<Router, Box<dyn std::error::Error>> {
    let mut ops = kansoku::http::OpsConfig::from_env()
        .critical(kansoku::http::SqlxCheck::new(db.pool.clone()))
        .redis_check(settings.redis_critical);
    if let Some(url) = &settings.search_url {
        ops = ops.degrading(kansoku::http::HttpCheck::new("search", url)?);
    }
    reservation_queue_alert(telemetry, db)?;
    // One `layer` call for all: axum boxes every route once more at each call. The catch-panic
    // and timeout layers are inside kansoku's, so it sees the 500 a panic becomes and the 408
    // of a request out of time.
    Ok(router
        .merge(kansoku::http::ops_router(telemetry, ops))
        .layer((
            kansoku::http::KansokuLayer::new(telemetry),
            tower_http::catch_panic::CatchPanicLayer::new(),
            timeout,
        )))
}

/// The guide's reservation-queue alert: pending reservations checked every minute; above 100
/// (`RESERVATION_QUEUE_ALERT`), a Sentry warning and a Slack message
/// (`KANSOKU_SLACK_WEBHOOK_URL`, when set), at most every 30 minutes, and a recovery message.
/// Its state is `ns_alert_firing{alert="reservation_queue"}` and shows on `/ops/live`.
#[cfg(feature = "instrumented")]
fn reservation_queue_alert(
    telemetry: &kansoku::Telemetry,
    db: &Db,
) -> Result<(), Box<dyn std::error::Error>> {
    let threshold = std::env::var("RESERVATION_QUEUE_ALERT")
        .ok()
        .and_then(|v| v.parse::<f64>().ok())
        .unwrap_or(100.0);
    let db = db.clone();
    // dropping the handle leaves the alert running for the life of the process
    let _running = kansoku::alert::Alert::new("reservation_queue")
        .value(move || {
            let db = db.clone();
            // a count of rows: far below 2^52, exact as f64
            #[allow(clippy::cast_precision_loss)]
            async move {
                db.pending_reservations().await.map(|n| n as f64)
            }
        })
        .above(threshold)
        .every(Duration::from_secs(60))
        .cooldown(Duration::from_secs(30 * 60))
        .summary("Pending reservations are piling up")
        .sentry(kansoku::Level::Warning)
        .slack(kansoku::alert::Slack::from_env())
        .spawn(telemetry)?;
    Ok(())
}

#[cfg(not(feature = "instrumented"))]
#[allow(clippy::unnecessary_wraps)]
fn instrument(
    router: Router,
    timeout: tower_http::timeout::TimeoutLayer,
    _: &kansoku::Telemetry,
    _: &Settings,
    _: &Db,
) -> Result<Router, Box<dyn std::error::Error>> {
    Ok(router.layer((tower_http::catch_panic::CatchPanicLayer::new(), timeout)))
}

/// Keeps the pool and active-user gauges current.
async fn refresh_gauges(app: App) {
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    for round in 0u64.. {
        tick.tick().await;
        let (used, max) = app.db.connections();
        kansoku::metrics::set_db_connections(used, max);
        if round % 15 == 0 {
            if let Err(error) = routes::refresh_active_users(&app).await {
                tracing::warn!(%error, "could not count active users");
            }
        }
    }
}

/// Ctrl-C or SIGTERM: stop accepting, let the requests in flight finish (within
/// `SHUTDOWN_TIMEOUT`).
async fn shutdown_signal() {
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(error) => {
                tracing::warn!(%error, "no SIGTERM handler; Ctrl-C still stops");
                std::future::pending::<()>().await;
            }
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        () = terminate => {}
    }
    tracing::info!("shutting down: finishing the requests in flight");
}
