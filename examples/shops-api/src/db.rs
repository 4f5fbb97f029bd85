//! The database: SQLite in a file of its own by default (created and seeded at start), or the
//! PostgreSQL that `DATABASE_URL` names. Every query carries `#[track_database_query]`.

use std::path::PathBuf;
use std::time::Duration;

use serde::Serialize;
use sqlx::any::AnyPoolOptions;
use sqlx::{AnyPool, Row};

/// A shop, as the API returns it.
#[derive(Debug, Clone, Serialize)]
pub struct Shop {
    pub id: i64,
    pub name: String,
    pub area: String,
    pub active: bool,
}

/// The pool, and the SQLite file to remove at exit when it was made here.
#[derive(Debug, Clone)]
pub struct Db {
    pub pool: AnyPool,
    pub owned_file: Option<PathBuf>,
}

const SHOPS: [(&str, &str, bool); 8] = [
    ("Namba Garden", "namba", true),
    ("Umeda Terrace", "umeda", true),
    ("Tennoji Corner", "tennoji", false),
    ("Shinsaibashi Lounge", "shinsaibashi", true),
    ("Kyobashi Room", "kyobashi", true),
    ("Namba Annex", "namba", true),
    ("Umeda Night", "umeda", false),
    ("Honmachi Studio", "honmachi", true),
];

impl Db {
    /// Connects to `url` (PostgreSQL or SQLite), or to a new SQLite file, and creates and
    /// seeds the tables when they are missing.
    pub async fn open(url: Option<&str>, max_connections: u32) -> Result<Db, sqlx::Error> {
        sqlx::any::install_default_drivers();
        let (url, owned_file) = if let Some(url) = url {
            (url.to_owned(), None)
        } else {
            // one file per process, so two instances on one machine do not share it
            let file = std::env::temp_dir()
                .join(format!("kansoku-shops-api-{}.sqlite", std::process::id()));
            let _ = std::fs::remove_file(&file);
            (format!("sqlite://{}?mode=rwc", file.display()), Some(file))
        };
        let pool = AnyPoolOptions::new()
            .max_connections(max_connections)
            .acquire_timeout(Duration::from_secs(3))
            .connect(&url)
            .await?;
        let db = Db { pool, owned_file };
        db.prepare(url.starts_with("postgres")).await?;
        Ok(db)
    }

    async fn prepare(&self, postgres: bool) -> Result<(), sqlx::Error> {
        let id = if postgres {
            "BIGSERIAL PRIMARY KEY"
        } else {
            "INTEGER PRIMARY KEY AUTOINCREMENT"
        };
        let statements = [
            format!("CREATE TABLE IF NOT EXISTS shops (id {id}, name TEXT NOT NULL, area TEXT NOT NULL, active INTEGER NOT NULL)"),
            format!("CREATE TABLE IF NOT EXISTS reservations (id {id}, shop_id BIGINT NOT NULL, customer TEXT NOT NULL, user_type TEXT NOT NULL, source TEXT NOT NULL, status TEXT NOT NULL, created_at BIGINT NOT NULL)"),
        ];
        for statement in &statements {
            sqlx::query(statement).execute(&self.pool).await?;
        }
        let count: i64 = sqlx::query("SELECT COUNT(*) AS n FROM shops")
            .fetch_one(&self.pool)
            .await?
            .try_get("n")?;
        if count == 0 {
            for (name, area, active) in SHOPS {
                sqlx::query("INSERT INTO shops (name, area, active) VALUES ($1, $2, $3)")
                    .bind(name)
                    .bind(area)
                    .bind(i32::from(active))
                    .execute(&self.pool)
                    .await?;
            }
        }
        Ok(())
    }

    /// Shops, only the active ones unless `all`.
    #[kansoku::track_database_query("select", "shops")]
    pub async fn shops(&self, all: bool) -> Result<Vec<Shop>, sqlx::Error> {
        let rows =
            sqlx::query("SELECT id, name, area, active FROM shops WHERE active >= $1 ORDER BY id")
                .bind(i32::from(!all))
                .fetch_all(&self.pool)
                .await?;
        rows.iter().map(shop).collect()
    }

    /// One shop.
    #[kansoku::track_database_query("select", "shops")]
    pub async fn shop(&self, id: i64) -> Result<Option<Shop>, sqlx::Error> {
        let row = sqlx::query("SELECT id, name, area, active FROM shops WHERE id = $1")
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(shop).transpose()
    }

    /// Active shops whose name or area contains `text` (the search without a search service).
    #[kansoku::track_database_query("search", "shops")]
    pub async fn search(&self, text: &str) -> Result<Vec<Shop>, sqlx::Error> {
        let pattern = format!("%{}%", text.to_lowercase().replace(['%', '_'], ""));
        let rows = sqlx::query(
            "SELECT id, name, area, active FROM shops WHERE active = 1 AND (LOWER(name) LIKE $1 OR LOWER(area) LIKE $1) ORDER BY id",
        )
        .bind(pattern)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(shop).collect()
    }

    /// Records a reservation and returns its id.
    #[kansoku::track_database_query("insert", "reservations")]
    pub async fn insert_reservation(
        &self,
        shop_id: i64,
        customer: &str,
        user_type: &str,
        source: &str,
        status: &str,
    ) -> Result<i64, sqlx::Error> {
        let row = sqlx::query(
            "INSERT INTO reservations (shop_id, customer, user_type, source, status, created_at) VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
        )
        .bind(shop_id)
        .bind(customer)
        .bind(user_type)
        .bind(source)
        .bind(status)
        .bind(unix_now())
        .fetch_one(&self.pool)
        .await?;
        row.try_get("id")
    }

    /// Reservations waiting for confirmation: the value of the reservation-queue alert.
    #[cfg_attr(not(feature = "instrumented"), allow(dead_code))]
    #[kansoku::track_database_query("select", "reservations")]
    pub async fn pending_reservations(&self) -> Result<i64, sqlx::Error> {
        let row = sqlx::query("SELECT COUNT(*) AS n FROM reservations WHERE status = 'pending'")
            .fetch_one(&self.pool)
            .await?;
        row.try_get("n")
    }

    /// Distinct customers with a reservation in the last `window`, by user type.
    #[kansoku::track_database_query("select", "reservations")]
    pub async fn active_users(&self, window: Duration) -> Result<Vec<(String, i64)>, sqlx::Error> {
        let since = unix_now() - i64::try_from(window.as_secs()).unwrap_or(i64::MAX);
        let rows = sqlx::query(
            "SELECT user_type, COUNT(DISTINCT customer) AS n FROM reservations WHERE created_at >= $1 GROUP BY user_type ORDER BY user_type",
        )
        .bind(since)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| Ok((r.try_get("user_type")?, r.try_get("n")?)))
            .collect()
    }

    /// Connections in use and the pool's maximum, for `ns_database_connections_used/max`.
    pub fn connections(&self) -> (u64, u64) {
        let size = u64::from(self.pool.size());
        let idle = u64::try_from(self.pool.num_idle()).unwrap_or(0);
        (
            size.saturating_sub(idle),
            u64::from(self.pool.options().get_max_connections()),
        )
    }

    /// Closes the pool and removes the SQLite file made at start.
    pub async fn close(&self) {
        self.pool.close().await;
        if let Some(file) = &self.owned_file {
            let _ = std::fs::remove_file(file);
        }
    }
}

fn shop(row: &sqlx::any::AnyRow) -> Result<Shop, sqlx::Error> {
    Ok(Shop {
        id: row.try_get("id")?,
        name: row.try_get("name")?,
        area: row.try_get("area")?,
        active: row.try_get::<i32, _>("active")? != 0,
    })
}

fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}
