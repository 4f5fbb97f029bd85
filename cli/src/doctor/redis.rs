//! Redis answers PING, and kansoku's real-time keys for the namespace are being written.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::{origin, Target, Verdict, TIMEOUT};

/// Newer than this, the newest time bucket counts as "being written".
const FRESH: Duration = Duration::from_secs(180);

pub(crate) async fn check(target: &Target) -> Verdict {
    let Some(url) = &target.redis_url else {
        return Verdict::Skip("KANSOKU_REDIS_URL is not set: no real-time counters".to_owned());
    };
    let shown = origin(url);
    let Ok(client) = redis::Client::open(url.as_str()) else {
        return Verdict::Fail(
            format!("the Redis URL {shown} does not parse"),
            "use redis://[:PASSWORD@]HOST:PORT[/DB] (rediss:// for TLS)".to_owned(),
        );
    };
    let work = async {
        let mut conn = client
            .get_multiplexed_async_connection()
            .await
            .map_err(|e| e.to_string())?;
        let pong: String = redis::cmd("PING")
            .query_async(&mut conn)
            .await
            .map_err(|e| e.to_string())?;
        let pattern = format!("{{{}:rt:*", target.namespace);
        let keys: Vec<String> = scan(&mut conn, &pattern).await.map_err(|e| e.to_string())?;
        Ok::<_, String>((pong, keys))
    };
    let (pong, keys) = match tokio::time::timeout(TIMEOUT * 2, work).await {
        Ok(Ok(answer)) => answer,
        Ok(Err(e)) => {
            let fix = if e.contains("NOAUTH") || e.contains("WRONGPASS") {
                "put the right password in the URL: redis://:PASSWORD@HOST:PORT"
            } else {
                "start Redis, or point KANSOKU_REDIS_URL at the one the service uses"
            };
            let wrong = if e.contains("NOAUTH") || e.contains("WRONGPASS") {
                "Redis refuses the credentials".to_owned()
            } else {
                "Redis does not answer".to_owned()
            };
            return Verdict::Fail(format!("{wrong} at {shown}"), fix.to_owned());
        }
        Err(_) => {
            return Verdict::Fail(
                format!(
                    "Redis at {shown} did not answer within {}s",
                    (TIMEOUT * 2).as_secs()
                ),
                "check the host, the port and the firewall".to_owned(),
            )
        }
    };
    let newest = keys.iter().filter_map(|key| bucket_end(key)).max();
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs();
    match newest {
        Some(end) if end + FRESH.as_secs() >= now => Verdict::Ok(format!(
            "{shown} answered {pong}; kansoku's real-time keys of `{}` are being written (newest time bucket {})",
            target.namespace,
            if end >= now {
                "is the current one".to_owned()
            } else {
                format!("ended {}s ago", now - end)
            }
        )),
        Some(end) => Verdict::Fail(
            format!(
                "{shown} answered {pong}, but the newest real-time key of `{}` is {}s old",
                target.namespace,
                now.saturating_sub(end)
            ),
            "the service is not writing: is it running with the `redis` feature and this KANSOKU_REDIS_URL? its /health/detailed shows the Redis backend's last error".to_owned(),
        ),
        None => Verdict::Fail(
            format!("{shown} answered {pong}, but holds no real-time key of namespace `{}`", target.namespace),
            "start the service with KANSOKU_REDIS_URL pointing here and serve a request; or pass the service's --namespace".to_owned(),
        ),
    }
}

async fn scan(
    conn: &mut redis::aio::MultiplexedConnection,
    pattern: &str,
) -> redis::RedisResult<Vec<String>> {
    let mut cursor = 0_u64;
    let mut keys = Vec::new();
    loop {
        let (next, batch): (u64, Vec<String>) = redis::cmd("SCAN")
            .arg(cursor)
            .arg("MATCH")
            .arg(pattern)
            .arg("COUNT")
            .arg(1000)
            .query_async(conn)
            .await?;
        keys.extend(batch);
        // enough to see the newest bucket; a big keyspace is not walked to the end
        if next == 0 || keys.len() > 10_000 {
            return Ok(keys);
        }
        cursor = next;
    }
}

/// The end (Unix seconds) of the time bucket of a key `{ns:rt:S:B}:…`.
fn bucket_end(key: &str) -> Option<u64> {
    let tag = key.strip_prefix('{')?.split('}').next()?;
    let mut parts = tag.rsplitn(3, ':');
    let start: u64 = parts.next()?.parse().ok()?;
    let length: u64 = parts.next()?.parse().ok()?;
    Some(start + length)
}

#[cfg(test)]
mod tests {
    #[test]
    fn bucket_end_reads_the_hash_tag() {
        assert_eq!(
            super::bucket_end("{shop:rt:10:1700000000}:api"),
            Some(1_700_000_010)
        );
        assert_eq!(super::bucket_end("{shop:rt:10:x}:api"), None);
        assert_eq!(super::bucket_end("shop:rt"), None);
    }
}
