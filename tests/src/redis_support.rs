//! Real `redis-server` processes for the Redis backend's tests: a single server on a free
//! loopback port (stopped and restarted on the same port at will), a 3-master cluster, a TCP
//! proxy that can cut a connection between a request and its reply or hold its replies, and
//! raw reads of what the backend wrote.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread;
use std::time::{Duration, Instant};

use crate::required_tool;

/// A loopback port nobody listens on now (and, for cluster nodes, its bus port + 10000 too).
pub(crate) fn free_port(with_bus: bool) -> u16 {
    loop {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind a loopback port");
        let port = listener.local_addr().expect("local address").port();
        if !with_bus || (port < 55_000 && TcpListener::bind(("127.0.0.1", port + 10_000)).is_ok()) {
            return port;
        }
    }
}

/// Sends one inline command and returns the raw reply, or `None` if nothing answers.
pub(crate) fn inline(port: u16, command: &str) -> Option<String> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
    stream.write_all(format!("{command}\r\n").as_bytes()).ok()?;
    let mut buf = vec![0; 64 * 1024];
    let n = stream.read(&mut buf).ok()?;
    Some(String::from_utf8_lossy(&buf[..n]).into_owned())
}

/// One `redis-server` on a loopback port, in a temporary folder, without persistence;
/// killed when dropped.
#[derive(Debug)]
pub struct RedisServer {
    port: u16,
    dir: tempfile::TempDir,
    extra: Vec<String>,
    child: Option<Child>,
}

impl RedisServer {
    /// Starts a server on a free port and waits until it answers `PING`.
    ///
    /// # Panics
    /// When `redis-server` is missing or does not come up.
    pub fn start() -> RedisServer {
        RedisServer::start_with(free_port(false), Vec::new())
    }

    /// Starts a server on a free port with more `redis-server` arguments (`--tls-port …`,
    /// `--replicaof …`).
    ///
    /// # Panics
    /// When `redis-server` is missing or does not come up.
    pub fn start_args(extra: &[String]) -> RedisServer {
        RedisServer::start_with(free_port(false), extra.to_vec())
    }

    /// [`RedisServer::start_args`] on a given plain port.
    ///
    /// # Panics
    /// When `redis-server` is missing or does not come up.
    pub fn start_on(port: u16, extra: &[String]) -> RedisServer {
        RedisServer::start_with(port, extra.to_vec())
    }

    /// Sends one inline command (`ACL SETUSER …`) on the plain port as the default user and
    /// returns the raw reply.
    ///
    /// # Panics
    /// When nothing answers.
    pub fn command(&self, command: &str) -> String {
        inline(self.port, command).expect("redis-server answers")
    }

    fn start_with(port: u16, extra: Vec<String>) -> RedisServer {
        let mut server = RedisServer {
            port,
            dir: tempfile::tempdir().expect("a temporary folder"),
            extra,
            child: None,
        };
        server.spawn();
        server
    }

    fn spawn(&mut self) {
        let child = Command::new(required_tool("redis-server"))
            .args(["--port", &self.port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no"])
            .arg("--dir")
            .arg(self.dir.path())
            .args(&self.extra)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start redis-server");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(10);
        while inline(self.port, "PING").is_none_or(|reply| !reply.starts_with("+PONG")) {
            assert!(
                Instant::now() < deadline,
                "redis-server on port {} did not answer PING",
                self.port
            );
            thread::sleep(Duration::from_millis(20));
        }
    }

    /// The port it listens on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// `redis://127.0.0.1:PORT/`.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.port)
    }

    /// Kills the process (no shutdown, nothing saved) and waits for it to be gone.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts it again on the same port, empty.
    pub fn restart(&mut self) {
        self.stop();
        self.spawn();
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.stop();
    }
}

/// The `redis-server` arguments of a cluster node (the TLS cluster adds its own).
pub(crate) const CLUSTER_NODE: [&str; 6] = [
    "--cluster-enabled",
    "yes",
    "--cluster-config-file",
    "nodes.conf",
    "--cluster-node-timeout",
    "5000",
];

/// A Redis Cluster of three masters on loopback, made with `redis-cli --cluster create`.
#[derive(Debug)]
pub struct RedisCluster {
    nodes: Vec<RedisServer>,
}

impl RedisCluster {
    /// Starts three nodes, joins them and waits until the cluster is `ok` on every node.
    ///
    /// # Panics
    /// When a tool is missing or the cluster does not form.
    pub fn start() -> RedisCluster {
        let nodes: Vec<RedisServer> = (0..3)
            .map(|_| {
                RedisServer::start_with(free_port(true), CLUSTER_NODE.map(str::to_owned).to_vec())
            })
            .collect();
        let addresses: Vec<String> = nodes
            .iter()
            .map(|n| format!("127.0.0.1:{}", n.port))
            .collect();
        let status = Command::new(required_tool("redis-cli"))
            .arg("--cluster")
            .arg("create")
            .args(&addresses)
            .args(["--cluster-replicas", "0", "--cluster-yes"])
            .stdout(Stdio::null())
            .status()
            .expect("run redis-cli --cluster create");
        assert!(status.success(), "redis-cli --cluster create failed");
        let deadline = Instant::now() + Duration::from_secs(20);
        for node in &nodes {
            while !inline(node.port, "CLUSTER INFO")
                .is_some_and(|info| info.contains("cluster_state:ok"))
            {
                assert!(Instant::now() < deadline, "the cluster did not become ok");
                thread::sleep(Duration::from_millis(50));
            }
        }
        RedisCluster { nodes }
    }

    /// The URL of every node.
    pub fn urls(&self) -> Vec<String> {
        self.nodes.iter().map(RedisServer::url).collect()
    }
}

/// A TCP proxy in front of a server. Armed with a byte pattern, it forwards the next request
/// containing it, lets the server apply it, and closes the connection before the reply gets
/// back: a reply lost after the write succeeded. Or, told to hold, it keeps that connection's
/// replies until released: a server that stopped answering one client.
#[derive(Debug)]
pub struct CutProxy {
    port: u16,
    armed: Arc<Mutex<Option<Trap>>>,
    cuts: Arc<AtomicUsize>,
    hold: Arc<Hold>,
}

/// What the proxy does to the connection that sends the armed pattern.
#[derive(Debug)]
enum Trap {
    Cut(Vec<u8>),
    Hold(Vec<u8>),
}

impl Trap {
    fn pattern(&self) -> &[u8] {
        match self {
            Trap::Cut(p) | Trap::Hold(p) => p,
        }
    }
}

/// Connections whose replies are held, and whether they were released.
#[derive(Debug, Default)]
struct Hold {
    held: AtomicUsize,
    released: AtomicBool,
}

impl CutProxy {
    /// Listens on a free loopback port and forwards to `upstream_port`.
    ///
    /// # Panics
    /// When it cannot listen.
    pub fn start(upstream_port: u16) -> CutProxy {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind the proxy");
        let port = listener.local_addr().expect("proxy address").port();
        let armed: Arc<Mutex<Option<Trap>>> = Arc::default();
        let cuts = Arc::new(AtomicUsize::new(0));
        let hold = Arc::new(Hold::default());
        let traps = Traps {
            armed: armed.clone(),
            cuts: cuts.clone(),
            hold: hold.clone(),
        };
        thread::spawn(move || {
            for client in listener.incoming().flatten() {
                if let Ok(server) = TcpStream::connect(("127.0.0.1", upstream_port)) {
                    relay(client, server, traps.clone());
                }
            }
        });
        CutProxy {
            port,
            armed,
            cuts,
            hold,
        }
    }

    /// `redis://127.0.0.1:PORT/` of the proxy.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.port)
    }

    /// Cuts the connection that next sends a request containing `pattern`, after forwarding it.
    pub fn arm(&self, pattern: &[u8]) {
        *self.armed.lock().unwrap_or_else(PoisonError::into_inner) =
            Some(Trap::Cut(pattern.to_vec()));
    }

    /// How many connections were cut so far.
    pub fn cuts(&self) -> usize {
        self.cuts.load(SeqCst)
    }

    /// The connection that next sends a request containing `pattern` gets it forwarded (the
    /// server applies it) but no reply, on that connection only, until [`CutProxy::release`].
    pub fn hold(&self, pattern: &[u8]) {
        *self.armed.lock().unwrap_or_else(PoisonError::into_inner) =
            Some(Trap::Hold(pattern.to_vec()));
    }

    /// How many connections have their replies held now.
    pub fn held(&self) -> usize {
        if self.hold.released.load(SeqCst) {
            0
        } else {
            self.hold.held.load(SeqCst)
        }
    }

    /// Lets every held reply through.
    pub fn release(&self) {
        self.hold.released.store(true, SeqCst);
    }
}

impl Drop for CutProxy {
    fn drop(&mut self) {
        self.release();
    }
}

/// How many bytes of a connection's previous read a trap's pattern is also looked for in:
/// more than any pattern a test arms.
const TRAP_TAIL: usize = 64;

/// What each relayed connection shares with the proxy.
#[derive(Debug, Clone)]
struct Traps {
    armed: Arc<Mutex<Option<Trap>>>,
    cuts: Arc<AtomicUsize>,
    hold: Arc<Hold>,
}

fn relay(client: TcpStream, server: TcpStream, traps: Traps) {
    let swallow = Arc::new(AtomicBool::new(false));
    let holding = Arc::new(AtomicBool::new(false));
    let (Ok(mut client_in), Ok(mut server_out)) = (client.try_clone(), server.try_clone()) else {
        return;
    };
    let (mut client_out, mut server_in) = (client, server);
    let (swallow_replies, hold_replies, hold) =
        (swallow.clone(), holding.clone(), traps.hold.clone());
    thread::spawn(move || {
        let mut buf = vec![0; 64 * 1024];
        while let Ok(n) = server_in.read(&mut buf) {
            if n == 0 || swallow_replies.load(SeqCst) {
                break;
            }
            while hold_replies.load(SeqCst) && !hold.released.load(SeqCst) {
                thread::sleep(Duration::from_millis(10));
            }
            if client_out.write_all(&buf[..n]).is_err() {
                break;
            }
        }
    });
    thread::spawn(move || {
        let mut buf = vec![0; 256 * 1024];
        // the end of the previous read: a pattern split across two reads is still seen
        let mut seen: Vec<u8> = Vec::new();
        while let Ok(n) = client_in.read(&mut buf) {
            if n == 0 {
                break;
            }
            let chunk = &buf[..n];
            seen.extend_from_slice(chunk);
            let trap = {
                let mut armed = traps.armed.lock().unwrap_or_else(PoisonError::into_inner);
                let hit = armed.as_ref().is_some_and(|trap| {
                    let p = trap.pattern();
                    seen.windows(p.len()).any(|w| w == p)
                });
                if hit {
                    armed.take()
                } else {
                    None
                }
            };
            let keep = seen.len().min(TRAP_TAIL);
            seen.drain(..seen.len() - keep);
            let cut = matches!(trap, Some(Trap::Cut(_)));
            if cut {
                swallow.store(true, SeqCst);
            }
            if matches!(trap, Some(Trap::Hold(_))) {
                // set before the request goes on, so its reply cannot slip through
                holding.store(true, SeqCst);
                traps.hold.held.fetch_add(1, SeqCst);
            }
            if server_out.write_all(chunk).is_err() {
                break;
            }
            if cut {
                // the rest of the request (it may come in more reads) goes on too, so the
                // server applies it whole; its reply is swallowed, then both ends close
                let _ = client_in.set_read_timeout(Some(Duration::from_millis(300)));
                while let Ok(n) = client_in.read(&mut buf) {
                    if n == 0 || server_out.write_all(&buf[..n]).is_err() {
                        break;
                    }
                }
                thread::sleep(Duration::from_millis(300));
                // counted before the client can see the cut, so a test reading the count
                // right after its flush failed never sees 0
                traps.cuts.fetch_add(1, SeqCst);
                let _ = server_out.shutdown(Shutdown::Both);
                let _ = client_in.shutdown(Shutdown::Both);
                break;
            }
        }
    });
}

/// Every key of the namespace `ns` on these servers (each node of a cluster scanned directly).
///
/// # Panics
/// When a server cannot be read.
pub fn keys(urls: &[String], ns: &str) -> Vec<(String, String)> {
    let mut keys = Vec::new();
    for url in urls {
        let mut conn = redis::Client::open(url.as_str())
            .and_then(|c| c.get_connection())
            .expect("connect for a raw read");
        let found: Vec<String> =
            redis::Commands::scan_match::<_, String>(&mut conn, format!("{{{ns}:rt:*"))
                .expect("SCAN")
                .collect::<Result<_, _>>()
                .expect("SCAN");
        keys.extend(found.into_iter().map(|k| (url.clone(), k)));
    }
    keys
}

/// The hash fields of every `table` key (`api`, `db`, `err`, `cnt`) of `ns`, summed over
/// time buckets: what the backend wrote, read without kansoku.
///
/// # Panics
/// When a server cannot be read.
pub fn raw_totals(urls: &[String], ns: &str, table: &str) -> BTreeMap<String, u64> {
    let mut totals = BTreeMap::new();
    for (url, key) in keys(urls, ns) {
        if !key.ends_with(&format!(":{table}")) {
            continue;
        }
        let mut conn = redis::Client::open(url.as_str())
            .and_then(|c| c.get_connection())
            .expect("connect for a raw read");
        let fields: Vec<(String, u64)> = redis::cmd("HGETALL")
            .arg(&key)
            .query(&mut conn)
            .expect("HGETALL");
        for (field, n) in fields {
            *totals.entry(field).or_default() += n;
        }
    }
    totals
}

/// `(key, TTL)` of every key of `ns` whose TTL is not positive (no expiry: -1).
///
/// # Panics
/// When a server cannot be read.
pub fn keys_without_ttl(urls: &[String], ns: &str) -> Vec<(String, i64)> {
    let mut bad = Vec::new();
    for (url, key) in keys(urls, ns) {
        let mut conn = redis::Client::open(url.as_str())
            .and_then(|c| c.get_connection())
            .expect("connect for a raw read");
        let ttl: i64 = redis::cmd("TTL").arg(&key).query(&mut conn).expect("TTL");
        if ttl <= 0 {
            bad.push((key, ttl));
        }
    }
    bad
}
