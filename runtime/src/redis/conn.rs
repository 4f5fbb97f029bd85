//! Connections to Redis, shared by the flusher (writes) and the reader (snapshots), which
//! each open their own so that neither waits behind the other: a single server, a Cluster,
//! or the master a set of Sentinels names, over plain TCP or TLS.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use redis::aio::MultiplexedConnection;
use redis::cluster_async::ClusterConnection;
use redis::sentinel::{SentinelClient, SentinelClientBuilder, SentinelServerType};
use redis::{ConnectionAddr, IntoConnectionInfo as _, RedisError, TlsCertificates, TlsMode};

use super::secret::masked;
use super::{RedisConfig, SentinelConfig};
use crate::error::Error;

/// How long one connection attempt, and one reply, may take.
pub(crate) const IO_TIMEOUT: Duration = Duration::from_secs(2);

/// Where the backend connects: the flusher and the reader each open their own connections.
#[derive(Clone)]
pub(crate) enum Server {
    Single(Box<redis::Client>),
    Cluster(Box<redis::cluster::ClusterClient>),
    /// The client asks the Sentinels for the master on every (re)connection, so a failover is
    /// followed by the next reconnection; the lock is only held while connecting.
    Sentinel(Arc<tokio::sync::Mutex<SentinelClient>>),
}

impl Server {
    pub(crate) fn new(config: &RedisConfig) -> Result<Server, Error> {
        let certificates = certificates(config)?;
        if let Some(sentinel) = &config.sentinel {
            return sentinel_server(sentinel, certificates);
        }
        for url in &config.urls {
            check_url(url)?;
        }
        if config.cluster || config.urls.len() > 1 {
            let mut builder = redis::cluster::ClusterClient::builder(config.urls.clone())
                .connection_timeout(IO_TIMEOUT)
                .response_timeout(IO_TIMEOUT)
                .retries(1);
            if let Some(certificates) = certificates {
                builder = builder.certs(certificates);
            }
            let client = builder
                .build()
                .map_err(|e| invalid(&config.urls.join(","), &e))?;
            Ok(Server::Cluster(Box::new(client)))
        } else {
            let url = &config.urls[0];
            let client = match certificates {
                Some(certificates) => redis::Client::build_with_tls(url.as_str(), certificates),
                None => redis::Client::open(url.as_str()),
            }
            .map_err(|e| invalid(url, &e))?;
            Ok(Server::Single(Box::new(client)))
        }
    }

    /// Whether a write must reach a replica before it counts as done: with Sentinel, a
    /// failover promotes a replica, and what the old master acknowledged but had not passed on
    /// would be lost.
    pub(crate) fn replicated(&self) -> bool {
        matches!(self, Server::Sentinel(_))
    }
}

/// The error for a URL the client refuses, the URL shown with its password masked (and the
/// client's message, which never quotes the URL).
fn invalid(url: &str, error: &RedisError) -> Error {
    Error::InvalidRedisUrl(format!("`{}`: {error}", masked(url)))
}

/// Refuses what would silently weaken the connection: `rediss://…#insecure` turns certificate
/// verification off.
fn check_url(url: &str) -> Result<(), Error> {
    let scheme = url.split_once("://").map_or("", |(scheme, _)| scheme);
    if !matches!(scheme, "redis" | "rediss" | "valkey" | "valkeys") {
        return Err(Error::InvalidRedisUrl(format!(
            "`{}`: the scheme must be redis:// or rediss:// (TLS)",
            masked(url)
        )));
    }
    if url.contains("#insecure") {
        return Err(Error::InvalidRedisUrl(format!(
            "`{}`: kansoku always verifies the server's certificate; give its CA with \
             `redis_tls_ca` instead of `#insecure`",
            masked(url)
        )));
    }
    Ok(())
}

/// The CA named by `redis_tls_ca`, read at start-up so a missing or empty file is an error
/// from `build`, not a connection failure later; and the TLS provider, installed once.
fn certificates(config: &RedisConfig) -> Result<Option<TlsCertificates>, Error> {
    let urls = config
        .urls
        .iter()
        .chain(config.sentinel.iter().flat_map(|s| s.urls.iter()));
    if config.tls_ca.is_some() || urls.clone().any(|url| url.starts_with("rediss://")) {
        crate::tls::install_ring_provider();
    }
    let Some(path) = &config.tls_ca else {
        return Ok(None);
    };
    let pem = std::fs::read(path).map_err(|e| {
        Error::Redis(format!(
            "cannot read the Redis CA file `{}`: {e}",
            path.display()
        ))
    })?;
    if !String::from_utf8_lossy(&pem).contains("-----BEGIN CERTIFICATE-----") {
        return Err(Error::Redis(format!(
            "the Redis CA file `{}` holds no PEM certificate",
            path.display()
        )));
    }
    Ok(Some(TlsCertificates {
        client_tls: None,
        root_cert: Some(pem),
    }))
}

fn sentinel_server(
    config: &SentinelConfig,
    certificates: Option<TlsCertificates>,
) -> Result<Server, Error> {
    let all = config.urls.join(",");
    if config.master.is_empty() {
        return Err(Error::InvalidRedisUrl(
            "Sentinel mode needs the master's name (KANSOKU_REDIS_SENTINEL=MASTER@URL[,URL…])"
                .to_owned(),
        ));
    }
    if config.urls.is_empty() {
        return Err(Error::InvalidRedisUrl(format!(
            "Sentinel `{}` has no Sentinel URL",
            config.master
        )));
    }
    let mut addresses = Vec::new();
    let mut first = None;
    for url in &config.urls {
        check_url(url)?;
        let info = url
            .as_str()
            .into_connection_info()
            .map_err(|e| invalid(url, &e))?;
        addresses.push(info.addr().clone());
        first.get_or_insert(info);
    }
    let first = first.expect("at least one URL");
    let tls = matches!(first.addr(), ConnectionAddr::TcpTls { .. });
    let settings = first.redis_settings();
    let mut builder =
        SentinelClientBuilder::new(addresses, &config.master, SentinelServerType::Master)
            .map_err(|e| invalid(&all, &e))?
            .set_client_to_redis_db(settings.db());
    if let Some(user) = settings.username() {
        builder = builder.set_client_to_sentinel_username(user);
    }
    if let Some(password) = settings.password() {
        builder = builder.set_client_to_sentinel_password(password);
    }
    let (user, password) = match &config.master_auth {
        Some((user, password)) => (user.as_deref(), Some(password.as_str())),
        None => (settings.username(), settings.password()),
    };
    if let Some(user) = user {
        builder = builder.set_client_to_redis_username(user);
    }
    if let Some(password) = password {
        builder = builder.set_client_to_redis_password(password);
    }
    if tls {
        builder = builder
            .set_client_to_sentinel_tls_mode(TlsMode::Secure)
            .set_client_to_redis_tls_mode(TlsMode::Secure);
        if let Some(certificates) = certificates {
            builder = builder
                .set_client_to_sentinel_certificates(certificates.clone())
                .set_client_to_redis_certificates(certificates);
        }
    }
    let client = builder.build().map_err(|e| invalid(&all, &e))?;
    Ok(Server::Sentinel(Arc::new(tokio::sync::Mutex::new(client))))
}

/// An open connection (cheap to clone: clones share it).
#[derive(Clone)]
pub(crate) enum Conn {
    Single(MultiplexedConnection),
    Cluster(ClusterConnection),
}

pub(crate) async fn connect(target: &Server) -> Result<Conn, RedisError> {
    let config = redis::AsyncConnectionConfig::new()
        .set_connection_timeout(Some(IO_TIMEOUT))
        .set_response_timeout(Some(IO_TIMEOUT));
    match target {
        Server::Single(client) => {
            let conn = client
                .get_multiplexed_async_connection_with_config(&config)
                .await?;
            Ok(Conn::Single(conn))
        }
        Server::Cluster(client) => Ok(Conn::Cluster(client.get_async_connection().await?)),
        Server::Sentinel(client) => {
            let mut client = client.lock().await;
            let conn = tokio::time::timeout(
                3 * IO_TIMEOUT,
                client.get_async_connection_with_config(&config),
            )
            .await
            .map_err(|_| {
                RedisError::from((
                    redis::ErrorKind::Io,
                    "no Sentinel named a reachable master in time",
                ))
            })??;
            Ok(Conn::Single(conn))
        }
    }
}

/// Now, in Unix seconds: what time buckets are named by.
pub(crate) fn unix_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}
