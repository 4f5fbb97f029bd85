//! Reading the real-time buckets, apart from the flusher: a snapshot is read on its own
//! connection, by a task of its own, so a flush that is slow or stuck (Redis holding a reply,
//! a batch being retried) never delays it, and a slow read never holds up flushing.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tokio::sync::oneshot;

use super::batch::Layout;
use super::conn::{connect, unix_secs, Conn, Server, IO_TIMEOUT};
use super::snapshot::{assemble, bucket_keys, buckets_in, BucketTables};
use super::{RealtimeError, RealtimeSnapshot};

/// The read side of one `Telemetry`'s Redis backend.
pub(crate) struct Reader {
    /// The backend thread's runtime: reads run there, so the caller may use any runtime.
    runtime: tokio::runtime::Handle,
    target: Server,
    layout: Arc<Layout>,
    /// The reader's own connection, opened on the first read and dropped after a failure.
    conn: Mutex<Option<Conn>>,
}

impl Reader {
    pub(crate) fn new(
        runtime: tokio::runtime::Handle,
        target: Server,
        layout: Arc<Layout>,
    ) -> Reader {
        Reader {
            runtime,
            target,
            layout,
            conn: Mutex::new(None),
        }
    }

    /// What every instance wrote over `window`. Fails with `Stopped` once the backend's
    /// runtime is gone (after shutdown), since the read is a task on it.
    pub(crate) async fn snapshot(
        self: &Arc<Self>,
        window: Duration,
    ) -> Result<RealtimeSnapshot, RealtimeError> {
        let (reply, answer) = oneshot::channel();
        let reader = Arc::clone(self);
        self.runtime.spawn(async move {
            // connecting and reading each have IO_TIMEOUT; the whole read is bounded too
            let read = tokio::time::timeout(3 * IO_TIMEOUT, reader.read(window))
                .await
                .unwrap_or_else(|_| Err(RealtimeError::Redis("timed out".into())));
            let _ = reply.send(read);
        });
        answer.await.map_err(|_| RealtimeError::Stopped)?
    }

    async fn read(&self, window: Duration) -> Result<RealtimeSnapshot, RealtimeError> {
        let cached = self
            .conn
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        if let Some(conn) = cached {
            match read_window(conn, &self.layout, window).await {
                Ok(snapshot) => return Ok(snapshot),
                // The server may have restarted since the connection was opened: one more
                // try on a fresh connection tells a dead connection from an unreachable Redis.
                Err(_) => self.forget_connection(),
            }
        }
        let conn = connect(&self.target)
            .await
            .map_err(|e| RealtimeError::Redis(e.to_string()))?;
        *self.conn.lock().unwrap_or_else(PoisonError::into_inner) = Some(conn.clone());
        let read = read_window(conn, &self.layout, window).await;
        if read.is_err() {
            self.forget_connection();
        }
        read
    }

    fn forget_connection(&self) {
        *self.conn.lock().unwrap_or_else(PoisonError::into_inner) = None;
    }
}

/// Reads every time bucket of `window` (the buckets in parallel: on a cluster each is a slot
/// of its own) and adds them up.
async fn read_window(
    conn: Conn,
    layout: &Layout,
    window: Duration,
) -> Result<RealtimeSnapshot, RealtimeError> {
    let buckets = buckets_in(layout, unix_secs(), window);
    let mut reads = tokio::task::JoinSet::new();
    for bucket in buckets {
        let mut pipe = redis::pipe();
        for key in bucket_keys(layout, bucket) {
            pipe.cmd("HGETALL").arg(key);
        }
        let mut conn = conn.clone();
        reads.spawn(async move {
            match &mut conn {
                Conn::Single(c) => pipe.query_async::<Vec<Vec<(String, u64)>>>(c).await,
                Conn::Cluster(c) => pipe.query_async::<Vec<Vec<(String, u64)>>>(c).await,
            }
        });
    }
    let mut tables = Vec::new();
    while let Some(joined) = reads.join_next().await {
        let read = joined
            .map_err(|e| RealtimeError::Redis(e.to_string()))?
            .map_err(|e| RealtimeError::Redis(e.to_string()))?;
        let mut read = read.into_iter();
        let bucket: BucketTables = std::array::from_fn(|_| read.next().unwrap_or_default());
        tables.push(bucket);
    }
    Ok(assemble(window, tables))
}
