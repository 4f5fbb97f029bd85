//! Redis as production runs it, for real: certificates made with `openssl` for a TLS
//! `redis-server`, and a Sentinel set (a master, a replica and three Sentinels, all
//! `redis-server` processes on loopback ports).

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use crate::redis_support::{free_port, inline, RedisServer};
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
             keyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\n",
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
        let args = [
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
        ];
        let server = RedisServer::start_args(&args);
        TlsRedis { server, tls_port }
    }

    /// `rediss://127.0.0.1:TLS_PORT/`.
    pub fn tls_url(&self) -> String {
        format!("rediss://127.0.0.1:{}/", self.tls_port)
    }
}

/// A master, one replica and three Sentinels watching them under the name `mymaster`.
#[derive(Debug)]
pub struct SentinelSet {
    /// The first master (killed by the failover test).
    pub master: RedisServer,
    /// Its replica, promoted by the failover.
    pub replica: RedisServer,
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
    /// Starts the five processes and waits until every Sentinel knows the replica and the
    /// other two Sentinels (so a failover can be agreed on).
    ///
    /// # Panics
    /// When a process does not come up or the Sentinels do not find each other.
    pub fn start() -> SentinelSet {
        let master = RedisServer::start();
        let replica = RedisServer::start_args(&[
            "--replicaof".to_owned(),
            "127.0.0.1".to_owned(),
            master.port().to_string(),
        ]);
        wait_for(Duration::from_secs(20), "the replica to sync", || {
            inline(replica.port(), "INFO replication")
                .is_some_and(|info| info.contains("master_link_status:up"))
        });
        let sentinels: Vec<SentinelProcess> =
            (0..3).map(|_| spawn_sentinel(master.port())).collect();
        for sentinel in &sentinels {
            wait_for(
                Duration::from_secs(30),
                "the Sentinels to find each other",
                || {
                    let others =
                        inline(sentinel.port, &format!("SENTINEL sentinels {MASTER_NAME}"))
                            .map_or(0, |reply| reply.matches("runid").count());
                    let replicas =
                        inline(sentinel.port, &format!("SENTINEL replicas {MASTER_NAME}"))
                            .map_or(0, |reply| reply.matches("runid").count());
                    others >= 2 && replicas >= 1
                },
            );
        }
        SentinelSet {
            master,
            replica,
            sentinels,
        }
    }

    /// `redis://127.0.0.1:PORT` of each Sentinel.
    pub fn urls(&self) -> Vec<String> {
        self.sentinels
            .iter()
            .map(|s| format!("redis://127.0.0.1:{}", s.port))
            .collect()
    }

    /// The port the Sentinels name as the master now.
    ///
    /// # Panics
    /// When no Sentinel answers.
    pub fn master_port(&self) -> u16 {
        let reply = inline(
            self.sentinels[0].port,
            &format!("SENTINEL get-master-addr-by-name {MASTER_NAME}"),
        )
        .expect("a Sentinel answers");
        // *2\r\n$9\r\n127.0.0.1\r\n$5\r\nPORT\r\n
        reply
            .split("\r\n")
            .filter_map(|line| line.parse::<u16>().ok())
            .last()
            .expect("a master port")
    }

    /// Kills the master (`SIGKILL`) and waits until the Sentinels name the replica instead.
    ///
    /// # Panics
    /// When the failover does not happen within 60 s.
    pub fn kill_master_and_wait_for_failover(&mut self) {
        self.master.stop();
        let replica = self.replica.port();
        wait_for(Duration::from_mins(1), "the failover", || {
            self.master_port() == replica
                && inline(replica, "ROLE").is_some_and(|role| role.contains("master"))
        });
    }
}

fn spawn_sentinel(master_port: u16) -> SentinelProcess {
    let dir = tempfile::tempdir().expect("a temporary folder");
    let port = free_port(false);
    let config = dir.path().join("sentinel.conf");
    std::fs::write(
        &config,
        format!(
            "port {port}\nbind 127.0.0.1\ndir {}\n\
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
    wait_for(Duration::from_secs(10), "a Sentinel to answer", || {
        inline(port, "PING").is_some_and(|reply| reply.starts_with("+PONG"))
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
