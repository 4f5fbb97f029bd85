//! Deltas waiting for Redis, the batches they are sent in, and the key layout.
//!
//! Keys (`ns` the namespace, `S` the bucket length in seconds, `B` the bucket's start in Unix
//! seconds; the part in braces is the Redis Cluster hash tag, so one time bucket is one slot):
//!
//! | key | type | fields |
//! |---|---|---|
//! | `{ns:rt:S:B}:api` | hash | `endpoint\|method\|ok` (and `error`, `panic`, `cancelled`) → calls; `endpoint\|method\|le:0.005` … `le:+Inf` → calls in that latency bucket; `endpoint\|method\|sum_ns` → total latency |
//! | `{ns:rt:S:B}:db` | hash | the same with `operation\|table` |
//! | `{ns:rt:S:B}:err` | hash | `endpoint\|kind` → errors |
//! | `{ns:rt:S:B}:cnt` | hash | `name{label="value",…}` → business counter increments |
//! | `{ns:rt:S:B}:http` | hash | the HTTP layer's `route\|method\|ok` … `sum_ns` as in `api`, and `route\|method\|2xx` (`1xx` … `5xx`) → answers by status-code class |
//! | `{ns:rt:S:B}:seq:INSTANCE` | string | the last batch sequence of that instance applied to this bucket |
//! | `{ns:rt:S:B}:inst` | hash | `INSTANCE` → the Redis server's Unix time (seconds) of that instance's last write to this bucket |
//!
//! Every key expires one retention (plus one bucket) after its bucket's last write.

use std::collections::{BTreeMap, HashMap};

use crate::record::Bounds;
use crate::stats::{SeriesKey, Values};
use crate::Status;

/// Applies one instance's batch to one time bucket, once: `KEYS[1]` holds the last sequence
/// number of this instance applied here, `KEYS[2]` the bucket's instances; `ARGV` = seq, ttl,
/// instance, then for each hash key in `KEYS[3..]` the number of its fields followed by
/// field/increment pairs. The instance's last write is stamped with the server's clock
/// (`TIME`), so instances with skewed clocks still compare.
pub(crate) const APPLY: &str = r"
local seq = tonumber(ARGV[1])
local last = tonumber(redis.call('GET', KEYS[1]) or '0')
if seq <= last then return 0 end
local ttl = tonumber(ARGV[2])
redis.call('HSET', KEYS[2], ARGV[3], redis.call('TIME')[1])
redis.call('EXPIRE', KEYS[2], ttl)
local i = 4
for k = 3, #KEYS do
  local n = tonumber(ARGV[i])
  i = i + 1
  for _ = 1, n do
    redis.call('HINCRBY', KEYS[k], ARGV[i], ARGV[i + 1])
    i = i + 2
  end
  redis.call('EXPIRE', KEYS[k], ttl)
end
redis.call('SET', KEYS[1], seq, 'EX', ttl)
return 1
";

/// How many recordings (calls, increments) a delta holds: what is lost when it is dropped.
fn recordings(key: &SeriesKey, values: &[u64]) -> u64 {
    match key {
        SeriesKey::Api(..) | SeriesKey::Db(..) | SeriesKey::Http(..) => values.iter().take(4).sum(),
        SeriesKey::Error(..) | SeriesKey::Counter(_) => values.iter().sum(),
        // the same requests as their `Http` series: not counted twice
        SeriesKey::HttpClass(..) => 0,
    }
}

/// Names of keys and fields.
#[derive(Debug, Clone)]
pub(crate) struct Layout {
    pub(crate) namespace: String,
    pub(crate) bucket_secs: u64,
    pub(crate) ttl_secs: u64,
    pub(crate) api_le: Vec<String>,
    pub(crate) db_le: Vec<String>,
}

/// The hash tables of one time bucket.
pub(crate) const TABLES: [&str; 5] = ["api", "db", "err", "cnt", "http"];
/// The hash of the instances that wrote to a bucket, and when each last did.
pub(crate) const INSTANCES: &str = "inst";

fn le_names(bounds: &Bounds) -> Vec<String> {
    bounds
        .seconds
        .iter()
        .map(|s| format!("le:{s}"))
        .chain(std::iter::once("le:+Inf".to_owned()))
        .collect()
}

impl Layout {
    pub(crate) fn new(
        namespace: &str,
        bucket_secs: u64,
        ttl_secs: u64,
        api: &Bounds,
        db: &Bounds,
    ) -> Layout {
        Layout {
            namespace: namespace.to_owned(),
            bucket_secs,
            ttl_secs,
            api_le: le_names(api),
            db_le: le_names(db),
        }
    }

    /// The start of the bucket holding `unix_secs`.
    pub(crate) fn bucket_of(&self, unix_secs: u64) -> u64 {
        unix_secs - unix_secs % self.bucket_secs
    }

    /// `{ns:rt:S:B}:table`.
    pub(crate) fn key(&self, bucket: u64, table: &str) -> String {
        format!(
            "{{{}:rt:{}:{bucket}}}:{table}",
            self.namespace, self.bucket_secs
        )
    }

    fn seq_key(&self, bucket: u64, instance: &str) -> String {
        self.key(bucket, &format!("seq:{instance}"))
    }

    /// The table and the field/increment pairs of one series' delta.
    fn fields(&self, key: &SeriesKey, delta: &[u64], out: &mut [Vec<(String, u64)>; 5]) {
        let (table, prefix, le) = match key {
            SeriesKey::Api(a, b) => (0, format!("{a}|{b}"), &self.api_le),
            SeriesKey::Db(a, b) => (1, format!("{a}|{b}"), &self.db_le),
            SeriesKey::Http(route, method) => (4, format!("{route}|{method}"), &self.api_le),
            SeriesKey::HttpClass(route, method) => {
                for (class, n) in (1..).zip(delta) {
                    if *n > 0 {
                        out[4].push((format!("{route}|{method}|{class}xx"), *n));
                    }
                }
                return;
            }
            SeriesKey::Error(endpoint, kind) => {
                out[2].push((format!("{endpoint}|{kind}"), delta[0]));
                return;
            }
            SeriesKey::Counter(series) => {
                out[3].push((series.clone(), delta[0]));
                return;
            }
        };
        let rows = &mut out[table];
        for status in Status::ALL {
            let n = delta[status.index()];
            if n > 0 {
                rows.push((format!("{prefix}|{}", status.as_str()), n));
            }
        }
        let buckets = &delta[4..delta.len() - 1];
        for (name, n) in le.iter().zip(buckets) {
            if *n > 0 {
                rows.push((format!("{prefix}|{name}"), *n));
            }
        }
        let sum = delta[delta.len() - 1];
        if sum > 0 {
            rows.push((format!("{prefix}|sum_ns"), sum));
        }
    }

    /// The script call applying `series` to `bucket` (its keys are all in one slot).
    /// `by_body` sends the script itself (`EVAL`) rather than its digest (`EVALSHA`).
    pub(crate) fn apply_cmd(
        &self,
        bucket: u64,
        series: &[(SeriesKey, Values)],
        instance: &str,
        seq: u64,
        by_body: bool,
    ) -> redis::Cmd {
        let mut tables: [Vec<(String, u64)>; 5] = Default::default();
        for (key, delta) in series {
            self.fields(key, delta, &mut tables);
        }
        let used: Vec<usize> = (0..TABLES.len())
            .filter(|t| !tables[*t].is_empty())
            .collect();
        let mut cmd = if by_body {
            let mut cmd = redis::cmd("EVAL");
            cmd.arg(APPLY);
            cmd
        } else {
            let mut cmd = redis::cmd("EVALSHA");
            cmd.arg(script_sha());
            cmd
        };
        cmd.arg(used.len() + 2)
            .arg(self.seq_key(bucket, instance))
            .arg(self.key(bucket, INSTANCES));
        for table in &used {
            cmd.arg(self.key(bucket, TABLES[*table]));
        }
        cmd.arg(seq).arg(self.ttl_secs).arg(instance);
        for table in used {
            cmd.arg(tables[table].len());
            for (field, n) in &tables[table] {
                cmd.arg(field).arg(i64::try_from(*n).unwrap_or(i64::MAX));
            }
        }
        cmd
    }
}

/// The SHA-1 digest of [`APPLY`], for `EVALSHA`.
pub(crate) fn script_sha() -> &'static str {
    static SHA: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    SHA.get_or_init(|| redis::Script::new(APPLY).get_hash().to_owned())
}

/// Deltas not yet sent, by (time bucket, series).
#[derive(Debug, Default)]
pub(crate) struct Pending {
    series: HashMap<(u64, SeriesKey), Values>,
}

impl Pending {
    pub(crate) fn len(&self) -> usize {
        self.series.len()
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.series.is_empty()
    }

    /// Adds `delta` to what `bucket` holds for `key`. A new (bucket, series) pair is refused
    /// when `room` is zero; the number of recordings refused is returned.
    pub(crate) fn add(&mut self, bucket: u64, key: SeriesKey, delta: Values, room: usize) -> u64 {
        if let Some(held) = self.series.get_mut(&(bucket, key.clone())) {
            if held.len() < delta.len() {
                held.resize(delta.len(), 0);
            }
            for (h, d) in held.iter_mut().zip(&delta) {
                *h += d;
            }
            return 0;
        }
        if room == 0 {
            return recordings(&key, &delta);
        }
        self.series.insert((bucket, key), delta);
        0
    }

    /// Everything pending as one batch with sequence number `seq`.
    pub(crate) fn take(&mut self, seq: u64) -> Batch {
        let mut buckets: BTreeMap<u64, Vec<(SeriesKey, Values)>> = BTreeMap::new();
        for ((bucket, key), values) in self.series.drain() {
            buckets.entry(bucket).or_default().push((key, values));
        }
        for series in buckets.values_mut() {
            series.sort_by(|a, b| a.0.cmp(&b.0));
        }
        Batch { seq, buckets }
    }
}

/// A frozen set of deltas, sent (and resent, unchanged) until Redis acknowledges it.
#[derive(Debug)]
pub(crate) struct Batch {
    pub(crate) seq: u64,
    pub(crate) buckets: BTreeMap<u64, Vec<(SeriesKey, Values)>>,
}

impl Batch {
    /// How many (bucket, series) pairs it holds.
    pub(crate) fn len(&self) -> usize {
        self.buckets.values().map(Vec::len).sum()
    }

    /// One script call per time bucket (so per cluster slot).
    pub(crate) fn commands(
        &self,
        layout: &Layout,
        instance: &str,
        by_body: bool,
    ) -> Vec<redis::Cmd> {
        self.buckets
            .iter()
            .map(|(bucket, series)| layout.apply_cmd(*bucket, series, instance, self.seq, by_body))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn layout() -> Layout {
        let api = Bounds::new(&crate::record::DEFAULT_API_BOUNDS).unwrap();
        let db = Bounds::new(&crate::record::DEFAULT_DB_BOUNDS).unwrap();
        Layout::new("shop", 10, 3610, &api, &db)
    }

    #[test]
    fn keys_of_one_bucket_share_a_hash_tag() {
        let layout = layout();
        assert_eq!(layout.bucket_of(1_700_000_007), 1_700_000_000);
        assert_eq!(
            layout.key(1_700_000_000, "api"),
            "{shop:rt:10:1700000000}:api"
        );
        assert_eq!(
            layout.seq_key(1_700_000_000, "ab12"),
            "{shop:rt:10:1700000000}:seq:ab12"
        );
    }

    #[test]
    fn pending_merges_series_and_refuses_new_ones_without_room() {
        let mut pending = Pending::default();
        let key = SeriesKey::Counter("c{}".into());
        assert_eq!(pending.add(10, key.clone(), vec![2], 1), 0);
        assert_eq!(pending.add(10, key.clone(), vec![3], 0), 0);
        assert_eq!(pending.add(20, key, vec![4], 0), 4);
        let batch = pending.take(7);
        assert_eq!(batch.len(), 1);
        assert_eq!(batch.buckets[&10][0].1, vec![5]);
    }

    /// The flush cost for `n` changed series: script calls, and bytes on the wire.
    fn cost(n: usize) -> (usize, usize) {
        let layout = layout();
        let mut pending = Pending::default();
        for i in 0..n {
            // a request series that saw ok calls in two latency buckets, with its sum
            let mut delta = vec![0; 4 + 12 + 1];
            delta[0] = 40;
            delta[4 + 1] = 30;
            delta[4 + 2] = 10;
            delta[16] = 400_000_000;
            let key = SeriesKey::Api(format!("/shops/{i}"), "GET".into());
            pending.add(1_700_000_000, key, delta, usize::MAX);
        }
        let batch = pending.take(1);
        let mut pipe = redis::pipe();
        let commands = batch.commands(&layout, "0123456789abcdef", false);
        for cmd in &commands {
            pipe.add_command(cmd.clone());
        }
        (commands.len(), pipe.get_packed_pipeline().len())
    }

    #[test]
    fn flush_cost_grows_with_changed_series() {
        let mut last = 0;
        for n in [10, 100, 1000] {
            let (commands, bytes) = cost(n);
            println!("flush of {n} changed request series: {commands} script call(s), {bytes} bytes sent");
            assert_eq!(commands, 1);
            assert!(bytes > last);
            last = bytes;
        }
    }
}
