//! The ops router: `/metrics`, `/health`, `/health/detailed`, to merge into the application's
//! router. One file per concern: who may read the metrics (`token`), their OpenMetrics form
//! (`openmetrics`), what a check is (`check`), running and caching them (`health`), the
//! built-in checks (`checks/`), the configuration (`config`).

mod check;
mod checks;
mod config;
mod health;
mod openmetrics;
mod timestamp;
mod token;

pub use check::{CheckError, CheckFuture, HealthCheck};
pub use checks::HttpCheck;
#[cfg(feature = "redis")]
pub use checks::RedisCheck;
#[cfg(feature = "sqlx")]
pub use checks::SqlxCheck;
pub use config::{OpsConfig, DEFAULT_CACHE_TTL, DEFAULT_CHECK_TIMEOUT};

use std::sync::Arc;

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use http::{header, HeaderValue, Request, StatusCode};

use crate::Telemetry;
use health::{Health, Overall};
#[cfg(store)]
pub(crate) use timestamp::rfc3339;
pub(crate) use token::Access;

/// What the handlers share.
struct Ops {
    telemetry: Telemetry,
    access: Access,
    health: Arc<Health>,
    version: Option<String>,
    environment: Option<String>,
    checks_on_scrape: bool,
}

/// The operations endpoints of a service, as a router to merge into the application's:
///
/// - `GET /metrics`: everything the telemetry records, in the Prometheus text format
///   (`text/plain; version=0.0.4`), or OpenMetrics when the `Accept` header prefers it (as
///   Prometheus's own scraper does). With a token configured ([`OpsConfig::token`] or
///   `KANSOKU_OPS_TOKEN`) it needs `Authorization: Bearer <token>` (else 401), compared in
///   constant time. **Without a token it is served only to clients whose peer address is
///   loopback** (403 for others), which needs the peer address: serve the application with
///   `into_make_service_with_connect_info::<SocketAddr>()`, else every request is refused. Behind
///   a reverse proxy on the same host every client looks local: set a token there.
/// - `GET /health`: liveness, 200 `{"status":"ok"}`; it touches no dependency.
/// - `GET /health/detailed`: every check at once, each under its own timeout, as the guide's
///   JSON (`status` `healthy`/`degraded`/`unhealthy`, `version`, `environment`, `checks` with
///   `name`, `status`, `response_time_ms`, `error`, and `timestamp` in RFC 3339); 200 when
///   healthy or degraded, 503 when unhealthy. Reports are reused for [`OpsConfig::cache_ttl`].
///   Each check's result is also exported as `ns_health_check_up{check}` and
///   `ns_health_check_duration_seconds{check}`.
///
/// - `GET /ops/live`: the live operations page, with `GET /ops/live/data?window=1m|5m|1h`
///   (its JSON, documented in `docs/live-data.md`) and `GET /ops/live/events` (the same once a
///   second as Server-Sent Events): every instance's numbers from Redis, or this instance's
///   own without Redis; under the rule of `/metrics` (the token may also come as the
///   `kansoku_ops_token` cookie, which the page sets from `/ops/live#token=…`). With neither
///   `prometheus` nor `redis` on nothing is recorded, and these routes are not served.
///
/// Whether `/metrics` has a token or is loopback-only is logged once, here.
///
/// ```no_run
/// use std::net::SocketAddr;
/// use axum::{routing::get, Router};
///
/// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
/// let telemetry = kansoku::Telemetry::builder().namespace("shops").from_env().install()?;
/// let app = Router::new()
///     .route("/shops", get(|| async { "[]" }))
///     .merge(kansoku::http::ops_router(&telemetry, kansoku::http::OpsConfig::from_env()));
/// let listener = tokio::net::TcpListener::bind("127.0.0.1:8000").await?;
/// // the peer address is what lets loopback clients read /metrics without a token
/// axum::serve(listener, app.into_make_service_with_connect_info::<SocketAddr>()).await?;
/// # Ok(()) }
/// ```
pub fn ops_router<S>(telemetry: &Telemetry, config: OpsConfig) -> Router<S>
where
    S: Clone + Send + Sync + 'static,
{
    let access = if let Some(token) = &config.token {
        tracing::info!("kansoku ops: /metrics needs the bearer token (configured)");
        Access::Token(token.as_bytes().to_vec())
    } else {
        tracing::warn!(
            "kansoku ops: no token (KANSOKU_OPS_TOKEN unset): /metrics is served to loopback clients only"
        );
        Access::LoopbackOnly
    };
    let checks = with_telemetry_checks(telemetry, &config);
    let ops = Ops {
        telemetry: telemetry.clone(),
        access,
        health: Arc::new(Health::new(
            checks,
            config.check_timeout,
            config.cache_ttl,
            telemetry.clone(),
        )),
        version: config
            .version
            .or_else(|| telemetry.release().map(str::to_owned)),
        environment: config
            .environment
            .or_else(|| telemetry.environment().map(str::to_owned)),
        checks_on_scrape: config.checks_on_scrape,
    };
    #[cfg(store)]
    let live = super::live::routes(telemetry, ops.access.clone());
    let router = Router::new()
        .route("/metrics", get(metrics))
        .route("/health", get(liveness))
        .route("/health/detailed", get(detailed))
        .with_state(Arc::new(ops));
    #[cfg(store)]
    let router = router.merge(live);
    router.layer(axum::middleware::map_response(protect))
}

/// What every ops response carries: not to be framed (clickjacking), not to be sniffed as
/// another type, and a CSP that loads nothing unless the response has its own (the live page
/// and its login page name what they load).
async fn protect(mut response: Response) -> Response {
    use axum::http::{header, HeaderValue};
    let headers = response.headers_mut();
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers
        .entry(header::CONTENT_SECURITY_POLICY)
        .or_insert(HeaderValue::from_static(
            "default-src 'none'; frame-ancestors 'none'",
        ));
    response
}

/// The configured checks, plus the one of the telemetry's own Redis when asked for.
#[cfg_attr(not(feature = "redis"), allow(unused_variables))]
fn with_telemetry_checks(telemetry: &Telemetry, config: &OpsConfig) -> Vec<health::Registered> {
    #[allow(unused_mut)]
    let mut checks = config.checks.clone();
    #[cfg(feature = "redis")]
    if let Some(critical) = config.telemetry_redis {
        if let Some(redis) = telemetry.redis_config() {
            match RedisCheck::of_backend(redis) {
                Ok(check) => checks.push(health::Registered {
                    check: Arc::new(check),
                    critical,
                }),
                // the telemetry already refused a bad configuration at start-up; say it anyway
                Err(error) => tracing::warn!(%error, "kansoku ops: no Redis health check"),
            }
        }
    }
    checks
}

async fn metrics(State(ops): State<Arc<Ops>>, request: Request<axum::body::Body>) -> Response {
    if let Err(status) = ops.access.check(request.headers(), request.extensions()) {
        let mut response = (status, "not allowed to read the metrics\n").into_response();
        if status == StatusCode::UNAUTHORIZED {
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        return response;
    }
    if ops.checks_on_scrape {
        ops.health.refresh_in_background();
    }
    let text = ops.telemetry.prometheus_text();
    let openmetrics = request
        .headers()
        .get(header::ACCEPT)
        .and_then(|accept| accept.to_str().ok())
        .is_some_and(openmetrics::wants_openmetrics);
    let (content_type, body) = if openmetrics {
        (
            openmetrics::OPENMETRICS_TEXT,
            openmetrics::from_prometheus_text(&text),
        )
    } else {
        (openmetrics::PROMETHEUS_TEXT, text)
    };
    ([(header::CONTENT_TYPE, content_type)], body).into_response()
}

async fn liveness() -> Json<serde_json::Value> {
    Json(serde_json::json!({ "status": "ok" }))
}

async fn detailed(State(ops): State<Arc<Ops>>) -> Response {
    let report = ops.health.report().await;
    let status = if report.status == Overall::Unhealthy {
        StatusCode::SERVICE_UNAVAILABLE
    } else {
        StatusCode::OK
    };
    let body = report.to_json(ops.version.as_deref(), ops.environment.as_deref());
    (status, [(header::CACHE_CONTROL, "no-store")], Json(body)).into_response()
}
