//! Redis: a fresh connection and a `PING`, so a restarted server is seen as soon as it is back.

use std::time::Duration;

use crate::http::{CheckError, CheckFuture, HealthCheck};

/// Checks a Redis server with `PING` (on a new connection each time, so the answer says whether
/// a client can connect now). For a cluster, every node given is asked.
///
/// ```
/// # fn main() -> Result<(), kansoku::Error> {
/// let check = kansoku::http::RedisCheck::new("redis://127.0.0.1:6379/")?;
/// let config = kansoku::http::OpsConfig::new().degrading(check);
/// # Ok(()) }
/// ```
///
/// With the telemetry's own Redis (`KANSOKU_REDIS_URL`), use
/// [`OpsConfig::redis_check`](crate::http::OpsConfig::redis_check) instead.
#[derive(Clone)]
pub struct RedisCheck {
    name: String,
    target: Target,
    timeout: Option<Duration>,
}

/// What is asked: servers given by URL, or the telemetry's own Redis, reached the way its
/// backend reaches it.
#[derive(Clone)]
enum Target {
    Nodes(Vec<redis::Client>),
    Backend(crate::redis::Probe),
}

impl std::fmt::Debug for RedisCheck {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // the clients hold the URLs, passwords included: not shown
        f.debug_struct("RedisCheck")
            .field("name", &self.name)
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

impl RedisCheck {
    /// A check named `redis` of the server at `url` (`redis://[:PASSWORD@]HOST[:PORT][/DB]`).
    /// A URL that does not parse is an error (which does not repeat the URL).
    pub fn new(url: &str) -> Result<RedisCheck, crate::Error> {
        RedisCheck::nodes([url])
    }

    /// A check of several servers (a cluster's nodes): healthy when every one answers.
    pub fn nodes<'a>(urls: impl IntoIterator<Item = &'a str>) -> Result<RedisCheck, crate::Error> {
        let clients = urls
            .into_iter()
            .map(|url| {
                redis::Client::open(url)
                    .map_err(|e| crate::Error::InvalidRedisUrl(format!("{:?}", e.kind())))
            })
            .collect::<Result<Vec<_>, _>>()?;
        if clients.is_empty() {
            return Err(crate::Error::InvalidRedisUrl("none given".to_owned()));
        }
        Ok(RedisCheck {
            name: "redis".to_owned(),
            target: Target::Nodes(clients),
            timeout: None,
        })
    }

    /// The check of the telemetry's own Redis (single server, Cluster or Sentinel, TLS).
    pub(crate) fn of_backend(
        config: &crate::redis::RedisConfig,
    ) -> Result<RedisCheck, crate::Error> {
        Ok(RedisCheck {
            name: "redis".to_owned(),
            target: Target::Backend(crate::redis::Probe::new(config)?),
            timeout: None,
        })
    }

    /// Another name than `redis` (for a second server).
    #[must_use]
    pub fn name(mut self, name: impl Into<String>) -> RedisCheck {
        self.name = name.into();
        self
    }

    /// This check's own timeout.
    #[must_use]
    pub fn timeout(mut self, timeout: Duration) -> RedisCheck {
        self.timeout = Some(timeout);
        self
    }
}

async fn ping(client: &redis::Client) -> Result<(), CheckError> {
    let mut conn = client.get_multiplexed_async_connection().await?;
    let pong: String = redis::cmd("PING").query_async(&mut conn).await?;
    if pong == "PONG" {
        Ok(())
    } else {
        Err(CheckError::new(format_args!("PING answered {pong:?}")))
    }
}

impl HealthCheck for RedisCheck {
    fn name(&self) -> &str {
        &self.name
    }

    fn check(&self) -> CheckFuture<'_> {
        Box::pin(async move {
            match &self.target {
                Target::Nodes(clients) => {
                    let results = futures::future::join_all(clients.iter().map(ping)).await;
                    results.into_iter().collect()
                }
                Target::Backend(probe) => Ok(probe.ping().await?),
            }
        })
    }

    fn timeout(&self) -> Option<Duration> {
        self.timeout
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_password_shows_neither_in_debug_nor_in_the_error() {
        // port 1 on loopback: nothing listens, the connection is refused at once
        let check = RedisCheck::new("redis://:hunter2@127.0.0.1:1/").unwrap();
        assert!(!format!("{check:?}").contains("hunter2"));
        let error = check.check().await.unwrap_err().to_string();
        assert!(!error.is_empty() && !error.contains("hunter2"), "{error}");
        assert!(matches!(
            RedisCheck::new("not a url"),
            Err(crate::Error::InvalidRedisUrl(_))
        ));
    }
}
