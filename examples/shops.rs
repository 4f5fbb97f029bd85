//! The shops API of the monitoring guide, in miniature: annotated handlers and queries, the
//! guide's business metrics, and the `/metrics` text they produce.
//!
//! ```text
//! cargo run -p kansoku-examples --example shops            # simulate traffic, print /metrics
//! KANSOKU_NAMESPACE=osakamenesu cargo run -p kansoku-examples --example shops
//! ```
//!
//! Embedded defaults: no server, no environment needed. With `SENTRY_DSN` set, errors and
//! (with `SENTRY_TRACES_SAMPLE_RATE`) transactions go to that Sentry. (The axum router and
//! Redis arrive with their backends.)

use std::time::Duration;

use kansoku::metrics::{Counter, Gauge};

#[derive(Debug, Clone)]
struct Shop {
    id: u32,
    name: &'static str,
    active: bool,
}

#[derive(Debug)]
enum ApiError {
    NotFound(u32),
    Database(DbError),
}

#[derive(Debug)]
struct DbError(&'static str);

impl std::fmt::Display for DbError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "database error: {}", self.0)
    }
}
impl std::error::Error for DbError {}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ApiError::NotFound(id) => write!(f, "shop {id} not found"),
            ApiError::Database(e) => write!(f, "{e}"),
        }
    }
}
impl std::error::Error for ApiError {}

impl From<DbError> for ApiError {
    fn from(e: DbError) -> Self {
        ApiError::Database(e)
    }
}

/// The database, simulated: a fixed table and a latency.
#[derive(Debug, Clone)]
struct Db {
    shops: Vec<Shop>,
}

impl Db {
    #[kansoku::track_database_query("select", "shops")]
    async fn fetch_shops(&self, only_active: bool) -> Result<Vec<Shop>, DbError> {
        tokio::time::sleep(Duration::from_millis(2)).await;
        Ok(self
            .shops
            .iter()
            .filter(|s| s.active || !only_active)
            .cloned()
            .collect())
    }

    #[kansoku::track_database_query("insert", "reservations")]
    async fn insert_reservation(&self, shop_id: u32) -> Result<u64, DbError> {
        tokio::time::sleep(Duration::from_millis(1)).await;
        if shop_id == 3 {
            return Err(DbError("unique violation"));
        }
        Ok(u64::from(shop_id) * 1000 + 1)
    }
}

static RESERVATIONS: Counter<2> = Counter::new(
    "reservations_total",
    "Reservations by status and source.",
    ["status", "source"],
);
static ACTIVE_USERS: Gauge<1> =
    Gauge::new("active_users", "Users active now, by type.", ["user_type"]);

#[kansoku::monitor_api_endpoint]
#[kansoku::track_api_request(method = "GET", endpoint = "/shops")]
async fn get_shops(db: &Db) -> Result<Vec<Shop>, ApiError> {
    kansoku::set_tag("shop.filter", "active");
    kansoku::set_context("search", serde_json::json!({"type": "shop_list"}));
    Ok(db.fetch_shops(true).await?)
}

#[kansoku::monitor_api_endpoint]
#[kansoku::track_api_request(method = "GET", endpoint = "/shops/{id}")]
async fn get_shop(db: &Db, id: u32) -> Result<Shop, ApiError> {
    let shops = db.fetch_shops(false).await?;
    shops
        .into_iter()
        .find(|s| s.id == id)
        .ok_or(ApiError::NotFound(id))
}

#[kansoku::monitor_api_endpoint(fields(shop_id, source))]
#[kansoku::track_api_request(method = "POST", endpoint = "/reservations")]
async fn create_reservation(db: &Db, shop_id: u32, source: &str) -> Result<u64, ApiError> {
    match db.insert_reservation(shop_id).await {
        Ok(id) => {
            RESERVATIONS.increment(["confirmed", source]);
            Ok(id)
        }
        Err(e) => {
            RESERVATIONS.increment(["failed", source]);
            Err(e.into())
        }
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let telemetry = kansoku::Telemetry::builder()
        .namespace("osakamenesu")
        .service_name("shops-api")
        .release(env!("CARGO_PKG_VERSION"))
        .from_env()
        .install()?;

    let db = Db {
        shops: vec![
            Shop {
                id: 1,
                name: "Namba",
                active: true,
            },
            Shop {
                id: 2,
                name: "Umeda",
                active: true,
            },
            Shop {
                id: 3,
                name: "Tennoji",
                active: false,
            },
        ],
    };

    // Some traffic: listings, look-ups (one missing), reservations (one failing).
    for _ in 0..5 {
        let shops = get_shops(&db).await?;
        assert_eq!(shops.len(), 2);
    }
    for id in [1, 2, 9] {
        match get_shop(&db, id).await {
            Ok(shop) => println!("# found shop {} ({})", shop.id, shop.name),
            Err(e) => println!("# {e}"),
        }
    }
    for (shop, source) in [(1, "web"), (2, "line"), (3, "web")] {
        if let Err(e) = create_reservation(&db, shop, source).await {
            println!("# reservation failed: {e}");
        }
    }
    ACTIVE_USERS.set(["member"], 42.0);
    ACTIVE_USERS.set(["guest"], 7.0);
    kansoku::metrics::set_db_connections(3, 20);

    // The guide's `complex_operation`: a hand-made transaction in three steps.
    {
        let transaction = kansoku::start_transaction("task", "complex_operation");
        for (op, description) in [
            ("step1", "validate input"),
            ("step2", "process data"),
            ("step3", "save result"),
        ] {
            let _step = transaction.start_child(op, description);
        }
    }
    kansoku::capture_message(
        "example finished",
        kansoku::Level::Info,
        &[("reservations", 3.into())],
    );

    println!("# what GET /metrics serves:");
    print!("{}", telemetry.prometheus_text());
    telemetry.shutdown().await;
    Ok(())
}
