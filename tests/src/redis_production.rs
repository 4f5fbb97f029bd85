//! Redis as production runs it, for real: certificates made with `openssl` for a TLS
//! `redis-server`, and a Sentinel set (a master, a replica and three Sentinels, all
//! `redis-server` processes on loopback ports).

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use crate::redis_support::{free_port, inline, RedisServer, CLUSTER_NODE};
use crate::required_tool;

/// A CA and a server certificate it signed for `127.0.0.1` and `localhost`, as PEM files.
#[derive(Debug)]
pub struct Certificates {
    dir: tempfile::TempDir,
}

impl Certificates {
    /// Makes a CA named `name` and a server certificate it signs.
    ///
    /// # Panics
    /// When `openssl` is missing or fails.
    pub fn make(name: &str) -> Certificates {
        let dir = tempfile::tempdir().expect("a temporary folder");
        let openssl = |args: &[&str]| {
            let output = Command::new(required_tool("openssl"))
                .args(args)
                .current_dir(dir.path())
                .output()
                .expect("run openssl");
            assert!(
                output.status.success(),
                "openssl {args:?} failed: {}",
                String::from_utf8_lossy(&output.stderr)
            );
        };
        let subject = format!("/CN={name} test CA");
        openssl(&[
            "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", &subject,
            "-keyout", "ca.key", "-out", "ca.pem",
        ]);
        openssl(&[
            "req",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-subj",
            "/CN=127.0.0.1",
            "-keyout",
            "server.key",
            "-out",
            "server.csr",
        ]);
        std::fs::write(
            dir.path().join("san.ext"),
            "subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\n\
             keyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth,clientAuth\n",
        )
        .expect("write the extension file");
        openssl(&[
            "x509",
            "-req",
            "-in",
            "server.csr",
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-days",
            "2",
            "-extfile",
            "san.ext",
            "-out",
            "server.pem",
        ]);
        Certificates { dir }
    }

    /// The CA's certificate, for `redis_tls_ca`.
    pub fn ca(&self) -> PathBuf {
        self.dir.path().join("ca.pem")
    }

    /// The server's certificate and key (PEM), for a test's own TLS server.
    pub fn server(&self) -> (String, String) {
        (self.file("server.pem"), self.file("server.key"))
    }

    fn file(&self, name: &str) -> String {
        self.dir.path().join(name).display().to_string()
    }
}

/// A `redis-server` that speaks TLS on one port (and plain TCP on another, for the test's own
/// raw reads), with a certificate from `certificates`.
#[derive(Debug)]
pub struct TlsRedis {
    /// The server; its `url()` is the plain port.
    pub server: RedisServer,
    tls_port: u16,
}

impl TlsRedis {
    /// Starts it.
    ///
    /// # Panics
    /// When `redis-server` is missing, built without TLS, or does not come up.
    pub fn start(certificates: &Certificates) -> TlsRedis {
        let tls_port = free_port(false);
        let server = RedisServer::start_args(&tls_args(certificates, tls_port));
        TlsRedis { server, tls_port }
    }

    /// `rediss://127.0.0.1:TLS_PORT/`.
    pub fn tls_url(&self) -> String {
        format!("rediss://127.0.0.1:{}/", self.tls_port)
    }
}

/// A Redis Cluster of three masters speaking TLS to clients and to each other
/// (`tls-cluster yes`), each also on a plain port for the test's own raw reads.
#[derive(Debug)]
pub struct TlsCluster {
    nodes: Vec<TlsRedis>,
}

impl TlsCluster {
    /// Starts three nodes, joins them over TLS with `redis-cli --tls --cluster create`, and
    /// waits until the cluster is `ok` on every node.
    ///
    /// # Panics
    /// When a tool is missing or the cluster does not form.
    pub fn start(certificates: &Certificates) -> TlsCluster {
        let nodes: Vec<TlsRedis> = (0..3)
            .map(|_| {
                let tls_port = free_port(false);
                let mut args = tls_args(certificates, tls_port);
                args.extend(["--tls-cluster", "yes"].map(str::to_owned));
                args.extend(CLUSTER_NODE.map(str::to_owned));
                let server = RedisServer::start_on(free_port(true), &args);
                TlsRedis { server, tls_port }
            })
            .collect();
        // `timeout`: redis-cli waits forever for nodes that cannot meet
        let output = Command::new(required_tool("timeout"))
            .arg("60")
            .arg(required_tool("redis-cli"))
            .args(["--tls", "--cacert", &certificates.file("ca.pem")])
            .args(["--cluster", "create"])
            .args(nodes.iter().map(|n| format!("127.0.0.1:{}", n.tls_port)))
            .args(["--cluster-replicas", "0", "--cluster-yes"])
            .output()
            .expect("run redis-cli --cluster create");
        assert!(
            output.status.success(),
            "redis-cli --tls --cluster create failed: {}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        for node in &nodes {
            wait_for(Duration::from_secs(30), "the TLS cluster to be ok", || {
                inline(node.server.port(), "CLUSTER INFO")
                    .is_some_and(|info| info.contains("cluster_state:ok"))
            });
        }
        TlsCluster { nodes }
    }

    /// `rediss://` URLs of the nodes, for kansoku.
    pub fn tls_urls(&self) -> Vec<String> {
        self.nodes.iter().map(TlsRedis::tls_url).collect()
    }

    /// Plain `redis://` URLs of the nodes, for the test's raw reads.
    pub fn plain_urls(&self) -> Vec<String> {
        self.nodes.iter().map(|n| n.server.url()).collect()
    }
}

fn tls_args(certificates: &Certificates, tls_port: u16) -> Vec<String> {
    [
        "--tls-port".to_owned(),
        tls_port.to_string(),
        "--tls-cert-file".to_owned(),
        certificates.file("server.pem"),
        "--tls-key-file".to_owned(),
        certificates.file("server.key"),
        "--tls-ca-cert-file".to_owned(),
        certificates.file("ca.pem"),
        "--tls-auth-clients".to_owned(),
        "no".to_owned(),
    ]
    .to_vec()
}

/// A master, one replica and three Sentinels watching them under the name `mymaster`; with
/// TLS, the Sentinels speak only TLS and reach the master and replica over TLS too (the master
/// and replica keep a plain port for the test's own raw reads).
#[derive(Debug)]
pub struct SentinelSet {
    /// The first master (killed by the failover test).
    pub master: RedisServer,
    /// Its replica, promoted by the failover.
    pub replica: RedisServer,
    /// The port the Sentinels know the replica by (its TLS port with TLS).
    replica_port: u16,
    /// The CA, when the set speaks TLS.
    ca: Option<String>,
    sentinels: Vec<SentinelProcess>,
}

#[derive(Debug)]
struct SentinelProcess {
    port: u16,
    child: Child,
    _dir: tempfile::TempDir,
}

impl Drop for SentinelProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The master name the Sentinels monitor.
pub const MASTER_NAME: &str = "mymaster";

impl SentinelSet {
    /// Starts the five processes on plain TCP and waits until every Sentinel knows the
    /// replica and the other two Sentinels (so a failover can be agreed on).
    ///
    /// # Panics
    /// When a process does not come up or the Sentinels do not find each other.
    pub fn start() -> SentinelSet {
        SentinelSet::start_with(None)
    }

    /// [`SentinelSet::start`], everything over TLS with `certificates`.
    ///
    /// # Panics
    /// As [`SentinelSet::start`].
    pub fn start_tls(certificates: &Certificates) -> SentinelSet {
        SentinelSet::start_with(Some(certificates))
    }

    fn start_with(certificates: Option<&Certificates>) -> SentinelSet {
        let (master, master_port) = data_node(certificates, None);
        let (replica, replica_port) = data_node(certificates, Some(master_port));
        wait_for(Duration::from_secs(20), "the replica to sync", || {
            inline(replica.port(), "INFO replication")
                .is_some_and(|info| info.contains("master_link_status:up"))
        });
        let ca = certificates.map(|c| c.file("ca.pem"));
        let sentinels: Vec<SentinelProcess> = (0..3)
            .map(|_| spawn_sentinel(master_port, certificates))
            .collect();
        let set = SentinelSet {
            master,
            replica,
            replica_port,
            ca,
            sentinels,
        };
        for sentinel in &set.sentinels {
            wait_for(
                Duration::from_secs(30),
                "the Sentinels to find each other",
                || {
                    let count = |command: &str| {
                        set.ask(sentinel.port, command)
                            .map_or(0, |reply| reply.matches("runid").count())
                    };
                    count(&format!("SENTINEL sentinels {MASTER_NAME}")) >= 2
                        && count(&format!("SENTINEL replicas {MASTER_NAME}")) >= 1
                },
            );
        }
        set
    }

    /// One command to a Sentinel, over TLS when the set uses it.
    fn ask(&self, port: u16, command: &str) -> Option<String> {
        match &self.ca {
            None => inline(port, command),
            Some(ca) => tls_command(port, ca, command),
        }
    }

    /// The URL of each Sentinel (`rediss://` with TLS).
    pub fn urls(&self) -> Vec<String> {
        let scheme = if self.ca.is_some() { "rediss" } else { "redis" };
        self.sentinels
            .iter()
            .map(|s| format!("{scheme}://127.0.0.1:{}", s.port))
            .collect()
    }

    /// The port the Sentinels name as the master now.
    ///
    /// # Panics
    /// When no Sentinel answers.
    pub fn master_port(&self) -> u16 {
        let reply = self
            .ask(
                self.sentinels[0].port,
                &format!("SENTINEL get-master-addr-by-name {MASTER_NAME}"),
            )
            .expect("a Sentinel answers");
        // the address's port is the last number of the reply, in RESP or as redis-cli prints it
        reply
            .lines()
            .rev()
            .find_map(|line| line.trim().parse::<u16>().ok())
            .expect("a master port")
    }

    /// Kills the master (`SIGKILL`) and waits until the Sentinels name the replica instead.
    ///
    /// # Panics
    /// When the failover does not happen within a minute.
    pub fn kill_master_and_wait_for_failover(&mut self) {
        self.master.stop();
        wait_for(Duration::from_mins(1), "the failover", || {
            self.master_port() == self.replica_port
                && inline(self.replica.port(), "ROLE").is_some_and(|role| role.contains("master"))
        });
    }
}

/// A master (`replica_of` None) or a replica of the master at that port; returns the server
/// and the port Sentinels and replicas reach it by.
fn data_node(certificates: Option<&Certificates>, replica_of: Option<u16>) -> (RedisServer, u16) {
    let mut args = Vec::new();
    let tls_port = certificates.map(|certificates| {
        let tls_port = free_port(false);
        args.extend(tls_args(certificates, tls_port));
        args.extend(["--tls-replication".to_owned(), "yes".to_owned()]);
        tls_port
    });
    if let Some(master) = replica_of {
        args.extend([
            "--replicaof".to_owned(),
            "127.0.0.1".to_owned(),
            master.to_string(),
        ]);
    }
    let server = RedisServer::start_args(&args);
    let port = tls_port.unwrap_or(server.port());
    (server, port)
}

/// One command through `redis-cli --tls`, its output as redis-cli prints it.
fn tls_command(port: u16, ca: &str, command: &str) -> Option<String> {
    let output = Command::new(required_tool("redis-cli"))
        .args(["--tls", "--cacert", ca, "-p", &port.to_string()])
        .args(command.split_whitespace())
        .output()
        .ok()?;
    output
        .status
        .success()
        .then(|| String::from_utf8_lossy(&output.stdout).into_owned())
        .filter(|out| !out.starts_with("Could not connect"))
}

fn spawn_sentinel(master_port: u16, certificates: Option<&Certificates>) -> SentinelProcess {
    let dir = tempfile::tempdir().expect("a temporary folder");
    let port = free_port(false);
    let listen = match certificates {
        None => format!("port {port}\n"),
        Some(c) => format!(
            "port 0\ntls-port {port}\ntls-cert-file {}\ntls-key-file {}\n\
             tls-ca-cert-file {}\ntls-auth-clients no\ntls-replication yes\n",
            c.file("server.pem"),
            c.file("server.key"),
            c.file("ca.pem")
        ),
    };
    let config = dir.path().join("sentinel.conf");
    std::fs::write(
        &config,
        format!(
            "{listen}bind 127.0.0.1\ndir {}\n\
             sentinel monitor {MASTER_NAME} 127.0.0.1 {master_port} 2\n\
             sentinel down-after-milliseconds {MASTER_NAME} 1000\n\
             sentinel failover-timeout {MASTER_NAME} 5000\n\
             sentinel parallel-syncs {MASTER_NAME} 1\n",
            dir.path().display()
        ),
    )
    .expect("write sentinel.conf");
    let child = Command::new(required_tool("redis-server"))
        .arg(&config)
        .arg("--sentinel")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start a Sentinel");
    let ca = certificates.map(|c| c.file("ca.pem"));
    wait_for(Duration::from_secs(10), "a Sentinel to answer", || {
        let reply = match &ca {
            None => inline(port, "PING"),
            Some(ca) => tls_command(port, ca, "PING"),
        };
        reply.is_some_and(|reply| reply.contains("PONG"))
    });
    SentinelProcess {
        port,
        child,
        _dir: dir,
    }
}

fn wait_for(timeout: Duration, what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        thread::sleep(Duration::from_millis(100));
    }
}
