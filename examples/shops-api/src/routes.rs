//! The handlers: every one carries `#[monitor_api_endpoint]` and `#[track_api_request]`.

use std::time::Duration;

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::Json;
use kansoku::metrics::{Counter, Gauge};
use serde::Deserialize;

use crate::db::Shop;
use crate::error::ApiError;
use crate::App;

/// The guide's business metrics.
static RESERVATIONS: Counter<2> = Counter::new(
    "reservations_total",
    "Reservations requested, by status and source.",
    ["status", "source"],
);
static ACTIVE_USERS: Gauge<1> = Gauge::new(
    "active_users",
    "Customers with a reservation in the last 15 minutes, by user type.",
    ["user_type"],
);

/// How far back a customer counts as active.
pub const ACTIVE_WINDOW: Duration = Duration::from_secs(15 * 60);

#[derive(Debug, Deserialize)]
pub struct ListQuery {
    #[serde(default)]
    all: bool,
}

#[kansoku::monitor_api_endpoint]
#[kansoku::track_api_request(method = "GET", endpoint = "/shops")]
pub async fn list_shops(
    State(app): State<App>,
    Query(query): Query<ListQuery>,
) -> Result<Json<Vec<Shop>>, ApiError> {
    kansoku::set_tag("shop.filter", if query.all { "all" } else { "active" });
    Ok(Json(app.db.shops(query.all).await?))
}

#[kansoku::monitor_api_endpoint]
#[kansoku::track_api_request(method = "GET", endpoint = "/shops/{id}")]
pub async fn show_shop(
    State(app): State<App>,
    Path(id): Path<i64>,
) -> Result<Json<Shop>, ApiError> {
    app.db
        .shop(id)
        .await?
        .map(Json)
        .ok_or(ApiError::NotFound(id))
}

#[derive(Debug, Deserialize)]
pub struct SearchQuery {
    q: String,
}

#[kansoku::monitor_api_endpoint]
#[kansoku::track_api_request(method = "GET", endpoint = "/shops/search")]
pub async fn search_shops(
    State(app): State<App>,
    Query(query): Query<SearchQuery>,
) -> Result<Json<Vec<Shop>>, ApiError> {
    let text = query.q.trim();
    if text.is_empty() || text.len() > 100 {
        return Err(ApiError::BadRequest("q must be 1 to 100 characters".into()));
    }
    kansoku::set_context(
        "search",
        serde_json::json!({ "type": "shop_search", "length": text.len() }),
    );
    let Some(search) = &app.search else {
        return Ok(Json(app.db.search(text).await?));
    };
    match search.shop_ids(text).await {
        Ok(ids) => {
            let mut shops = Vec::with_capacity(ids.len());
            for id in ids {
                if let Some(shop) = app.db.shop(id).await?.filter(|s| s.active) {
                    shops.push(shop);
                }
            }
            Ok(Json(shops))
        }
        // degraded, not down: answer from the database, and say why in Sentry and the logs
        Err(error) => {
            tracing::warn!(%error, "search service failed; searching the database instead");
            kansoku::capture_error(&error, &[("fallback", "database".into())]);
            Ok(Json(app.db.search(text).await?))
        }
    }
}

#[derive(Debug, Deserialize)]
pub struct NewReservation {
    shop_id: i64,
    customer: String,
    #[serde(default = "member")]
    user_type: String,
    #[serde(default = "web")]
    source: String,
}

fn member() -> String {
    "member".into()
}
fn web() -> String {
    "web".into()
}

#[kansoku::monitor_api_endpoint]
#[kansoku::track_api_request(method = "POST", endpoint = "/reservations")]
pub async fn create_reservation(
    State(app): State<App>,
    Json(new): Json<NewReservation>,
) -> Result<(StatusCode, Json<serde_json::Value>), ApiError> {
    // a label value comes from the request: keep it to known values
    let source = match new.source.as_str() {
        s @ ("web" | "app" | "line" | "phone") => s,
        _ => "other",
    };
    let user_type = if new.user_type == "guest" {
        "guest"
    } else {
        "member"
    };
    if new.customer.is_empty() || new.customer.len() > 200 {
        RESERVATIONS.increment(["rejected", source]);
        return Err(ApiError::BadRequest(
            "customer must be 1 to 200 characters".into(),
        ));
    }
    match app.db.shop(new.shop_id).await? {
        Some(shop) if shop.active => {}
        Some(_) => {
            RESERVATIONS.increment(["rejected", source]);
            return Err(ApiError::BadRequest(format!(
                "shop {} takes no reservations",
                new.shop_id
            )));
        }
        None => {
            RESERVATIONS.increment(["rejected", source]);
            return Err(ApiError::NotFound(new.shop_id));
        }
    }
    let id = match app
        .db
        .insert_reservation(new.shop_id, &new.customer, user_type, source, "confirmed")
        .await
    {
        Ok(id) => id,
        Err(error) => {
            RESERVATIONS.increment(["failed", source]);
            return Err(error.into());
        }
    };
    RESERVATIONS.increment(["confirmed", source]);
    Ok((
        StatusCode::CREATED,
        Json(serde_json::json!({ "id": id, "shop_id": new.shop_id, "status": "confirmed" })),
    ))
}

#[kansoku::monitor_api_endpoint]
#[kansoku::track_api_request(method = "GET", endpoint = "/users/active")]
pub async fn active_users(State(app): State<App>) -> Result<Json<serde_json::Value>, ApiError> {
    let counts = refresh_active_users(&app).await?;
    Ok(Json(
        serde_json::json!({ "window_seconds": ACTIVE_WINDOW.as_secs(), "active_users": counts }),
    ))
}

/// Sets the active-users gauge from the database (also run periodically by `main`).
pub async fn refresh_active_users(
    app: &App,
) -> Result<serde_json::Map<String, serde_json::Value>, ApiError> {
    let mut counts = serde_json::Map::new();
    for user_type in ["member", "guest"] {
        counts.insert(user_type.into(), 0.into());
    }
    for (user_type, n) in app.db.active_users(ACTIVE_WINDOW).await? {
        counts.insert(user_type, n.into());
    }
    for (user_type, n) in &counts {
        ACTIVE_USERS.set([user_type], n.as_f64().unwrap_or(0.0));
    }
    Ok(counts)
}

#[derive(Debug, Deserialize)]
pub struct FailQuery {
    #[serde(default)]
    kind: Option<String>,
    #[serde(default)]
    ms: Option<u64>,
}

/// Fails on demand, to see errors, panics and slow requests arrive: `?kind=error` (500),
/// `?kind=panic` (the handler panics), `?kind=slow&ms=N` (answers after N ms, at most 30 s).
#[kansoku::monitor_api_endpoint]
#[kansoku::track_api_request(method = "GET", endpoint = "/fail")]
pub async fn fail(Query(query): Query<FailQuery>) -> Result<&'static str, ApiError> {
    match query.kind.as_deref().unwrap_or("error") {
        "panic" => panic!("panic requested by the caller"),
        "slow" => {
            tokio::time::sleep(Duration::from_millis(query.ms.unwrap_or(3500).min(30_000))).await;
            Ok("slow answer\n")
        }
        _ => Err(ApiError::Injected),
    }
}

/// Calls the same API on another instance (`UPSTREAM_URL`) with this request's trace
/// headers: the other instance's transaction joins this trace.
#[kansoku::monitor_api_endpoint]
#[kansoku::track_api_request(method = "GET", endpoint = "/upstream/shops/{id}")]
pub async fn upstream_shop(
    State(app): State<App>,
    Path(id): Path<i64>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let Some(upstream) = &app.upstream else {
        return Err(ApiError::Upstream("no UPSTREAM_URL configured".into()));
    };
    #[allow(unused_mut)]
    let mut request = app
        .http
        .get(format!("{}/shops/{id}", upstream.trim_end_matches('/')))
        .build()
        .map_err(|e| ApiError::Upstream(e.without_url().to_string()))?;
    #[cfg(feature = "instrumented")]
    kansoku::http::inject_trace_headers(request.headers_mut());
    let response = app
        .http
        .execute(request)
        .await
        .map_err(|e| ApiError::Upstream(e.without_url().to_string()))?;
    let status = response.status();
    let body: serde_json::Value = response
        .json()
        .await
        .map_err(|e| ApiError::Upstream(e.without_url().to_string()))?;
    if status == StatusCode::NOT_FOUND {
        return Err(ApiError::NotFound(id));
    }
    if !status.is_success() {
        return Err(ApiError::Upstream(format!("answered {status}")));
    }
    Ok(Json(serde_json::json!({ "via": "upstream", "shop": body })))
}
