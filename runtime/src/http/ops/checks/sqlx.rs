//! An SQL database: `SELECT 1` through the application's own sqlx pool.

use std::fmt;
use std::time::Duration;

use sqlx::{Database, Executor, Pool};

use crate::http::{CheckFuture, HealthCheck};

/// Checks a database with `SELECT 1` through the application's sqlx pool (any database sqlx
/// drives: PostgreSQL, MySQL, SQLite, `Any`). It takes a connection like a request would, so
/// a pool exhausted by slow queries shows here too.
///
/// ```
/// // `pool` is the application's own: a `PgPool`, `SqlitePool`, `AnyPool`…
/// fn ops_config<DB: sqlx::Database>(pool: sqlx::Pool<DB>) -> kansoku::http::OpsConfig
/// where
///     for<'c> &'c mut DB::Connection: sqlx::Executor<'c, Database = DB>,
/// {
///     kansoku::http::OpsConfig::new().critical(kansoku::http::SqlxCheck::new(pool))
/// }
/// ```
pub struct SqlxCheck<DB: Database> {
    name: String,
    pool: Pool<DB>,
    timeout: Option<Duration>,
}

impl<DB: Database> fmt::Debug for SqlxCheck<DB> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SqlxCheck")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

impl<DB: Database> SqlxCheck<DB> {
    /// A check named `database` of `pool` (a clone shares the application's connections).
    pub fn new(pool: Pool<DB>) -> SqlxCheck<DB> {
        SqlxCheck {
            name: "database".to_owned(),
            pool,
            timeout: None,
        }
    }

    /// Another name than `database`.
    #[must_use]
    pub fn name(mut self, name: impl Into<String>) -> SqlxCheck<DB> {
        self.name = name.into();
        self
    }

    /// This check's own timeout.
    #[must_use]
    pub fn timeout(mut self, timeout: Duration) -> SqlxCheck<DB> {
        self.timeout = Some(timeout);
        self
    }
}

impl<DB: Database> HealthCheck for SqlxCheck<DB>
where
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
{
    fn name(&self) -> &str {
        &self.name
    }

    fn check(&self) -> CheckFuture<'_> {
        Box::pin(async move {
            (&self.pool).execute("SELECT 1").await?;
            Ok(())
        })
    }

    fn timeout(&self) -> Option<Duration> {
        self.timeout
    }
}
