//! The background flusher: a thread of its own running a current-thread tokio runtime, so it
//! works whatever runtime (or none) the application uses. Every interval it harvests what
//! changed, adds it to the pending deltas, and sends them as one batch.
//!
//! A batch is frozen with a sequence number when first sent and resent unchanged until Redis
//! acknowledges it; the script applying it skips a bucket that already holds that sequence
//! for this instance, so a reply lost after the server applied the batch costs a resend, never
//! a double count. Deltas harvested meanwhile wait in `pending` for the next batch.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::time::{Duration, Instant};

use redis::aio::MultiplexedConnection;
use redis::{ErrorKind, RedisError, ServerErrorKind, Value};
use tokio::sync::{mpsc, oneshot};

use super::batch::{Batch, Layout, Pending};
use super::conn::{connect, unix_secs, Conn, Server, IO_TIMEOUT};
use super::secret::{described, Trouble};
use crate::backend::HealthCell;
use crate::record::Recorder;
use crate::stats::Harvester;

/// What the handles ask of the flusher.
#[derive(Debug)]
pub(crate) enum Command {
    /// Harvest and send now, giving up at the deadline; answers whether all is written.
    Flush {
        deadline: Instant,
        done: oneshot::Sender<bool>,
    },
    /// A last flush, then stop.
    Shutdown {
        deadline: Instant,
        done: oneshot::Sender<bool>,
    },
}

pub(crate) struct Flusher {
    recorder: Arc<Recorder>,
    /// Recordings left out for want of room (`ns_realtime_dropped_total`, the backend's counter).
    dropped: Arc<AtomicU64>,
    target: Server,
    layout: Arc<Layout>,
    instance: String,
    interval: Duration,
    max_pending: usize,
    shutdown_timeout: Duration,
    harvester: Harvester,
    pending: Pending,
    inflight: Option<Batch>,
    next_seq: u64,
    conn: Option<Conn>,
    /// What went wrong with the last attempt, if it failed (for logging changes only).
    trouble: Option<Trouble>,
    /// Where it writes, passwords masked, for the log.
    shown: String,
    /// What the backend's health report reads.
    health: Arc<HealthCell>,
    /// The script may not be cached by the server: send its body.
    by_body: bool,
    warned_drop: bool,
}

/// A failed send.
struct Failure {
    error: RedisError,
    /// The connection still works (the batch only lacks a replica's acknowledgement).
    keep_connection: bool,
}

impl Failure {
    fn broken(error: RedisError) -> Failure {
        Failure {
            error,
            keep_connection: false,
        }
    }
}

impl Flusher {
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn new(
        recorder: Arc<Recorder>,
        target: Server,
        layout: Arc<Layout>,
        instance: String,
        interval: Duration,
        max_pending: usize,
        shutdown_timeout: Duration,
        health: Arc<HealthCell>,
        shown: String,
    ) -> Flusher {
        Flusher {
            recorder,
            dropped: health.drop_counter(super::BACKLOG_FULL),
            target,
            layout,
            instance,
            interval,
            max_pending,
            shutdown_timeout,
            harvester: Harvester::default(),
            pending: Pending::default(),
            inflight: None,
            next_seq: 1,
            conn: None,
            trouble: None,
            shown,
            health,
            by_body: false,
            warned_drop: false,
        }
    }

    /// Runs until shut down, or until every handle is gone (then with a last flush).
    pub(crate) async fn run(mut self, mut commands: mpsc::UnboundedReceiver<Command>) {
        // connect at once, so a certificate, password or address that is wrong is logged and
        // in the health report at start-up, not at the first write
        let _ = tokio::time::timeout(2 * IO_TIMEOUT, self.connection()).await;
        let mut ticker = tokio::time::interval(self.interval);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = ticker.tick() => {
                    let deadline = Instant::now() + self.interval.max(IO_TIMEOUT);
                    self.cycle(deadline).await;
                }
                command = commands.recv() => match command {
                    Some(Command::Flush { deadline, done }) => {
                        let _ = done.send(self.cycle(deadline).await);
                    }
                    Some(Command::Shutdown { deadline, done }) => {
                        let _ = done.send(self.cycle(deadline).await);
                        return;
                    }
                    None => {
                        self.cycle(Instant::now() + self.shutdown_timeout).await;
                        return;
                    }
                },
            }
        }
    }

    /// Harvests, then sends what is pending until done or `deadline`. True when nothing is
    /// left unwritten.
    async fn cycle(&mut self, deadline: Instant) -> bool {
        self.harvest();
        let deadline = tokio::time::Instant::from_std(deadline);
        tokio::time::timeout_at(deadline, self.send_all())
            .await
            .unwrap_or(false)
    }

    fn harvest(&mut self) {
        let bucket = self.layout.bucket_of(unix_secs());
        let held = self.inflight.as_ref().map_or(0, Batch::len);
        let mut dropped = 0;
        for (key, delta) in self.harvester.harvest(&self.recorder.snapshot()) {
            let room = self.max_pending.saturating_sub(held + self.pending.len());
            dropped += self.pending.add(bucket, key, delta, room);
        }
        if dropped > 0 {
            self.dropped.fetch_add(dropped, Relaxed);
            if !self.warned_drop {
                self.warned_drop = true;
                tracing::warn!(
                    max_pending = self.max_pending,
                    "kansoku: Redis unreachable and {} series held for it; further recordings \
                     are left out of Redis (counted in realtime_dropped_total; Prometheus still has them)",
                    self.max_pending
                );
            }
        }
    }

    async fn send_all(&mut self) -> bool {
        loop {
            if self.inflight.is_none() {
                if self.pending.is_empty() {
                    return true;
                }
                let batch = self.pending.take(self.next_seq);
                self.next_seq += 1;
                self.inflight = Some(batch);
            }
            let Some(mut conn) = self.connection().await else {
                return false;
            };
            let Some(batch) = self.inflight.as_ref() else {
                continue;
            };
            let commands = batch.commands(&self.layout, &self.instance, self.by_body);
            let replicated = self.target.replicated();
            match apply(&mut conn, commands, replicated).await {
                Ok(()) => {
                    self.inflight = None;
                    self.by_body = false;
                    self.note_reachable(None);
                }
                Err(failure)
                    if !self.by_body
                        && failure.error.kind() == ErrorKind::Server(ServerErrorKind::NoScript) =>
                {
                    // not cached on this server (new, restarted, or another cluster node):
                    // resend with the body, which caches it; buckets already applied skip it
                    self.by_body = true;
                }
                Err(failure) => {
                    if !failure.keep_connection {
                        self.conn = None;
                    }
                    self.note_reachable(Some(&failure.error));
                    return false;
                }
            }
        }
    }

    fn note_reachable(&mut self, error: Option<&RedisError>) {
        match error {
            None => self.health.reached(),
            Some(error) => self.health.failed(described(error)),
        }
        let trouble = error.map(Trouble::of);
        if trouble == self.trouble {
            return;
        }
        if let (Some(error), Some(trouble)) = (error, trouble) {
            tracing::warn!(
                target_server = %self.shown,
                error = %described(error),
                "kansoku: cannot write real-time counters to Redis: {}",
                trouble.advice()
            );
        } else {
            tracing::info!(
                target_server = %self.shown,
                "kansoku: Redis reachable again; real-time counters catch up"
            );
        }
        self.trouble = trouble;
    }

    async fn connection(&mut self) -> Option<Conn> {
        if let Some(conn) = &self.conn {
            return Some(conn.clone());
        }
        match connect(&self.target).await {
            Ok(conn) => {
                self.by_body = false;
                self.conn = Some(conn.clone());
                Some(conn)
            }
            Err(error) => {
                self.note_reachable(Some(&error));
                None
            }
        }
    }
}

/// Sends the script calls of a batch: one pipeline on a single server, one call per slot
/// (all at once) on a cluster. `replicated`: the batch counts as written only once a replica
/// has it too (see [`Server::replicated`]).
async fn apply(
    conn: &mut Conn,
    commands: Vec<redis::Cmd>,
    replicated: bool,
) -> Result<(), Failure> {
    match conn {
        Conn::Single(conn) => {
            let mut pipe = redis::pipe();
            for cmd in commands {
                pipe.add_command(cmd);
            }
            pipe.query_async::<Vec<Value>>(conn)
                .await
                .map_err(Failure::broken)?;
            if replicated {
                confirm_replicated(conn).await?;
            }
            Ok(())
        }
        Conn::Cluster(conn) => {
            let mut calls = tokio::task::JoinSet::new();
            for cmd in commands {
                let mut conn = conn.clone();
                calls.spawn(async move { cmd.query_async::<Value>(&mut conn).await });
            }
            let mut outcome = Ok(());
            while let Some(joined) = calls.join_next().await {
                let result = joined.unwrap_or_else(|_| {
                    Err(RedisError::from((ErrorKind::Client, "flush task failed")))
                });
                if let Err(error) = result {
                    outcome = Err(Failure::broken(error));
                }
            }
            outcome
        }
    }
}

/// How long a write waits for a replica's acknowledgement.
const REPLICA_WAIT_MS: u64 = 1000;

/// `WAIT 1`: what this connection wrote has reached a replica. A master with no replica
/// connected has nothing to fail over to, so its writes count as they are; one whose replicas
/// did not answer in time keeps the batch, to be resent (the resend is idempotent).
async fn confirm_replicated(conn: &mut MultiplexedConnection) -> Result<(), Failure> {
    let acknowledged: i64 = redis::cmd("WAIT")
        .arg(1)
        .arg(REPLICA_WAIT_MS)
        .query_async(conn)
        .await
        .map_err(Failure::broken)?;
    if acknowledged >= 1 {
        return Ok(());
    }
    let role: Vec<Value> = redis::cmd("ROLE")
        .query_async(conn)
        .await
        .map_err(Failure::broken)?;
    let replicas = match role.get(2) {
        Some(Value::Array(replicas)) => replicas.len(),
        _ => 0,
    };
    if replicas == 0 {
        return Ok(());
    }
    Err(Failure {
        error: RedisError::from((
            ErrorKind::Io,
            "no replica acknowledged the write in time; it is resent",
        )),
        keep_connection: true,
    })
}
