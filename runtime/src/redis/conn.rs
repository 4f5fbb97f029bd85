//! Connections to Redis, shared by the flusher (writes) and the reader (snapshots), which
//! each open their own so that neither waits behind the other.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use redis::aio::MultiplexedConnection;
use redis::cluster_async::ClusterConnection;
use redis::RedisError;

use super::RedisConfig;
use crate::error::Error;

/// How long one connection attempt, and one reply, may take.
pub(crate) const IO_TIMEOUT: Duration = Duration::from_secs(2);

/// Where the backend connects: the flusher and the reader each open their own connections.
#[derive(Clone)]
pub(crate) enum Server {
    Single(redis::Client),
    Cluster(Box<redis::cluster::ClusterClient>),
}

impl Server {
    pub(crate) fn new(config: &RedisConfig) -> Result<Server, Error> {
        let invalid = |e: RedisError| Error::InvalidRedisUrl(e.to_string());
        if config.cluster || config.urls.len() > 1 {
            let client = redis::cluster::ClusterClient::builder(config.urls.clone())
                .connection_timeout(Duration::from_secs(2))
                .response_timeout(Duration::from_secs(2))
                .retries(1)
                .build()
                .map_err(invalid)?;
            Ok(Server::Cluster(Box::new(client)))
        } else {
            let url = &config.urls[0];
            let client = redis::Client::open(url.as_str())
                .map_err(|e| Error::InvalidRedisUrl(format!("`{url}`: {e}")))?;
            Ok(Server::Single(client))
        }
    }
}

/// An open connection (cheap to clone: clones share it).
#[derive(Clone)]
pub(crate) enum Conn {
    Single(MultiplexedConnection),
    Cluster(ClusterConnection),
}

pub(crate) async fn connect(target: &Server) -> Result<Conn, RedisError> {
    match target {
        Server::Single(client) => {
            let config = redis::AsyncConnectionConfig::new()
                .set_connection_timeout(Some(IO_TIMEOUT))
                .set_response_timeout(Some(IO_TIMEOUT));
            let conn = client
                .get_multiplexed_async_connection_with_config(&config)
                .await?;
            Ok(Conn::Single(conn))
        }
        Server::Cluster(client) => Ok(Conn::Cluster(client.get_async_connection().await?)),
    }
}

/// Now, in Unix seconds: what time buckets are named by.
pub(crate) fn unix_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}
