//! A real Sentry-compatible server for the end-to-end tests: [Bugsink](https://www.bugsink.com)
//! 2.6.2, on loopback, with `SQLite`, one instance per test.
//!
//! ```no_run
//! use std::time::Duration;
//! let bugsink = kansoku_tests::bugsink::Bugsink::start();
//! // point the SDK at `bugsink.dsn()`, capture an event, flush …
//! # let event_id = "0123456789abcdef0123456789abcdef";
//! let event = bugsink.wait_for_event(event_id, Duration::from_secs(10));
//! assert_eq!(event["tags"]["shop.filter"], "active");
//! ```
//!
//! Each [`Bugsink::start`] is its own server: its own free port, its own temporary folder with
//! `bugsink_conf.py` and the two `SQLite` files (copied from the template migrated once by
//! `scripts/install-bugsink.sh`), its own user, team, project, DSN and API token. Tests running
//! in parallel each start their own. The server stops when the [`Bugsink`] is dropped, and also
//! when the test process dies without dropping it (a watcher ends it when its stdin closes).
//!
//! Events are digested eagerly (`SNAPPEA = {"TASK_ALWAYS_EAGER": True}`): an event is stored
//! before the `POST …/envelope/` that carries it is answered. Bugsink keeps error and message
//! events only; transactions and spans are answered 200 and dropped.
//!
//! Timing (2 cores shared with other builds): [`Bugsink::start`] takes 1.2–1.5 s with the
//! template database — the `bugsink-manage shell` that creates the project (~0.8 s) runs while
//! gunicorn boots (~0.6 s to `/health/ready`); migrating instead of copying the template would
//! add ~13 s. Three started at once took 4–5 s each. Stopping one (drop) takes ~0.5 s.

use std::fmt::Write as _;
use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

/// How long the server may take to answer `/health/ready`.
const READY_TIMEOUT: Duration = Duration::from_secs(30);

/// What gunicorn logs when its port is taken.
const PORT_TAKEN: &str = "Connection in use";

/// Creates the user, team, project and API token of one instance; prints them as one JSON line.
const SETUP: &str = r#"
import json
from users.models import User
from teams.models import Team, TeamMembership, TeamRole
from projects.models import Project, ProjectMembership, ProjectRole
from bsmain.models import AuthToken
user = User.objects.create_superuser(username="kansoku", email="kansoku@example.org", password="kansoku")
team = Team.objects.create(name="kansoku")
TeamMembership.objects.create(team=team, user=user, role=TeamRole.ADMIN, accepted=True)
project = Project.objects.create(team=team, name="kansoku")
ProjectMembership.objects.create(project=project, user=user, role=ProjectRole.ADMIN, accepted=True)
print(json.dumps({
    "project_id": project.id,
    "sentry_key": project.sentry_key.hex,
    "token": AuthToken.create_full_access().token,
}))
"#;

/// Kills the process group `$1` (gunicorn's master and worker) when stdin reaches its end,
/// that is when the test process dies without dropping its [`Bugsink`] (on drop, the server is
/// stopped gracefully and this watcher killed).
const WATCHER: &str = r#"read -r _; kill -9 "-$1""#; // dash: no `--`

/// One running Bugsink server with one project. Stopped on drop.
#[derive(Debug)]
pub struct Bugsink {
    /// gunicorn's master, leader of its own process group.
    server: Child,
    /// Holds a pipe from this process: kills the server when the pipe closes.
    watcher: Child,
    port: u16,
    project_id: u64,
    sentry_key: String,
    token: String,
    http: ureq::Agent,
    /// The configuration, databases and server log; removed on drop (declared last: dropped
    /// after the server is stopped).
    dir: tempfile::TempDir,
}

impl Bugsink {
    /// Starts a fresh server with one project, and waits until it is ready.
    ///
    /// # Panics
    /// When Bugsink is not installed (run `bash scripts/install-bugsink.sh`), or the server does
    /// not come up within 30 s (the panic shows its log).
    pub fn start() -> Bugsink {
        let venv = venv();
        let template = repo_root().join(".tools/bugsink-template");
        for file in ["db.sqlite3", "snappea.sqlite3"] {
            assert!(
                template.join(file).is_file(),
                "the Bugsink template database {} is missing; run `bash scripts/install-bugsink.sh`",
                template.join(file).display()
            );
        }
        for attempt in 1..=3 {
            let mut bugsink = Bugsink::spawn(&venv, &template, crate::free_port());
            match bugsink.wait_until_ready() {
                Ok(()) => return bugsink,
                // A port picked free can be taken by another process before gunicorn binds it.
                Err(log) if attempt < 3 && log.contains(PORT_TAKEN) => {}
                Err(log) => panic!(
                    "Bugsink did not become ready on port {}; its log:\n{log}",
                    bugsink.port
                ),
            }
        }
        unreachable!("the last attempt returns or panics")
    }

    /// A new instance with its project, not yet ready.
    fn spawn(venv: &Path, template: &Path, port: u16) -> Bugsink {
        let dir = tempfile::Builder::new()
            .prefix("kansoku-bugsink-")
            .tempdir()
            .expect("a temporary folder for Bugsink");
        for file in ["db.sqlite3", "snappea.sqlite3"] {
            std::fs::copy(template.join(file), dir.path().join(file))
                .unwrap_or_else(|e| panic!("copying the Bugsink template {file}: {e}"));
        }
        write_config(dir.path(), port);
        let (server, watcher) = spawn_server(venv, dir.path(), port);
        // while gunicorn boots
        let (project_id, sentry_key, token) = create_project(venv, dir.path());
        Bugsink {
            server,
            watcher,
            port,
            project_id,
            sentry_key,
            token,
            http: ureq::Agent::config_builder()
                .http_status_as_error(false)
                .timeout_global(Some(Duration::from_secs(10)))
                .build()
                .into(),
            dir,
        }
    }

    /// The project's DSN, `http://KEY@127.0.0.1:PORT/ID`.
    pub fn dsn(&self) -> String {
        format!(
            "http://{}@127.0.0.1:{}/{}",
            self.sentry_key, self.port, self.project_id
        )
    }

    /// The project's id (the last part of the DSN).
    pub fn project_id(&self) -> u64 {
        self.project_id
    }

    /// The project's public key (the user part of the DSN), for a hand-made `X-Sentry-Auth`.
    pub fn sentry_key(&self) -> &str {
        &self.sentry_key
    }

    /// `http://127.0.0.1:PORT`.
    pub fn base_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Where SDKs post envelopes: `http://127.0.0.1:PORT/api/ID/envelope/`.
    pub fn envelope_url(&self) -> String {
        format!("{}/api/{}/envelope/", self.base_url(), self.project_id)
    }

    /// A full-access API token (`Authorization: Bearer …`).
    pub fn token(&self) -> &str {
        &self.token
    }

    /// The server's log (gunicorn's and Bugsink's output) so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("server.log")).unwrap_or_default()
    }

    /// The stored event with this SDK event id (32 hex digits, dashes allowed), as the SDK sent
    /// it: `event_id`, `level`, `message`, `exception`, `tags`, `contexts`, `user`, `release`,
    /// `environment`, … Bugsink adds nothing to it. `None` when no such event is stored (yet).
    ///
    /// # Panics
    /// On an event id that is not a UUID, or an API answer other than 200 or 404.
    pub fn event(&self, event_id: &str) -> Option<Value> {
        self.event_record(event_id)
            .map(|mut record| record["data"].take())
    }

    /// Bugsink's whole record of the event: its `data` (what [`Bugsink::event`] returns) with
    /// `id` (Bugsink's own), `issue`, `event_id` (dashed), `ingested_at`, `timestamp`, and
    /// `stacktrace_md` (the stack trace as Bugsink renders it).
    ///
    /// # Panics
    /// As [`Bugsink::event`].
    pub fn event_record(&self, event_id: &str) -> Option<Value> {
        let hex: String = event_id.chars().filter(|c| *c != '-').collect();
        assert!(
            hex.len() == 32 && hex.chars().all(|c| c.is_ascii_hexdigit()),
            "not an event id (32 hex digits): {event_id:?}"
        );
        let hex = hex.to_ascii_lowercase();
        let path = format!(
            "/api/canonical/0/events/lookup/?project={}&event_id={hex}",
            self.project_id
        );
        let (status, body) = self.api_get(&path);
        match status {
            200 => Some(parse(&path, &body)),
            404 => None,
            _ => panic!(
                "GET {path}: {status}\n{body}\nBugsink's log:\n{}",
                self.log()
            ),
        }
    }

    /// Polls [`Bugsink::event`] until the event is stored.
    ///
    /// # Panics
    /// When it is not stored within `timeout`; the panic lists the events that are.
    pub fn wait_for_event(&self, event_id: &str, timeout: Duration) -> Value {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(event) = self.event(event_id) {
                return event;
            }
            if Instant::now() >= deadline {
                let stored: Vec<Value> = self
                    .events()
                    .into_iter()
                    .map(|e| serde_json::json!({"event_id": e["event_id"], "message": e["message"], "exception": e["exception"]}))
                    .collect();
                panic!(
                    "event {event_id} was not stored within {timeout:?}; stored events: {}\nBugsink's log:\n{}",
                    serde_json::to_string_pretty(&stored).unwrap(),
                    self.log()
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// The issues of the project (Bugsink's grouping of events), oldest first: `id`,
    /// `calculated_type`, `calculated_value`, `digested_event_count`, `events_at` (releases), …
    pub fn issues(&self) -> Vec<Value> {
        self.all_pages(&format!(
            "/api/canonical/0/issues/?project={}&order=asc",
            self.project_id
        ))
    }

    /// Every stored event of the project (as [`Bugsink::event`] gives them), in the order
    /// Bugsink received them. Bugsink lists events per issue only, so this costs one request per
    /// issue and one per event.
    pub fn events(&self) -> Vec<Value> {
        let mut records: Vec<Value> = self
            .issues()
            .iter()
            .flat_map(|issue| {
                let issue = issue["id"].as_str().expect("an issue id");
                self.all_pages(&format!("/api/canonical/0/events/?issue={issue}&order=asc"))
            })
            .collect();
        records.sort_by(|a, b| a["ingested_at"].as_str().cmp(&b["ingested_at"].as_str()));
        records
            .iter()
            .map(|record| {
                let id = record["id"].as_str().expect("an event's Bugsink id");
                let path = format!("/api/canonical/0/events/{id}/");
                let (status, body) = self.api_get(&path);
                assert_eq!(status, 200, "GET {path}: {status}\n{body}");
                parse(&path, &body)["data"].take()
            })
            .collect()
    }

    /// `GET` on the API with the token: (status, body).
    fn api_get(&self, path: &str) -> (u16, String) {
        let url = format!("{}{path}", self.base_url());
        let mut response = self
            .http
            .get(&url)
            .header("Authorization", &format!("Bearer {}", self.token))
            .call()
            .unwrap_or_else(|e| panic!("GET {url}: {e}\nBugsink's log:\n{}", self.log()));
        let body = response
            .body_mut()
            .read_to_string()
            .unwrap_or_else(|e| panic!("GET {url}: reading the answer: {e}"));
        (response.status().as_u16(), body)
    }

    /// The `results` of every page of a paginated list.
    fn all_pages(&self, first: &str) -> Vec<Value> {
        let mut results = Vec::new();
        let mut path = Some(first.to_owned());
        while let Some(current) = path.take() {
            let (status, body) = self.api_get(&current);
            assert_eq!(status, 200, "GET {current}: {status}\n{body}");
            let mut page = parse(&current, &body);
            if let Value::Array(items) = page["results"].take() {
                results.extend(items);
            }
            // `next` is an absolute URL
            path = page["next"]
                .as_str()
                .map(|next| next.find("/api/").map_or(next, |i| &next[i..]).to_owned());
        }
        results
    }

    /// Waits for `GET /health/ready` to answer 200; on failure, the server's log.
    fn wait_until_ready(&mut self) -> Result<(), String> {
        let deadline = Instant::now() + READY_TIMEOUT;
        let url = format!("{}/health/ready", self.base_url());
        loop {
            let log = self.log();
            if log.contains(PORT_TAKEN) {
                // rather than the 5 s gunicorn spends retrying, deaf to signals but SIGKILL (it
                // has no worker yet)
                let _ = self.server.kill();
                return Err(log);
            }
            if let Ok(response) = self.http.get(&url).call() {
                if response.status() == 200 {
                    return Ok(());
                }
            }
            if let Some(status) = self.server.try_wait().expect("the server's status") {
                return Err(format!("(exited: {status})\n{}", self.log()));
            }
            if Instant::now() >= deadline {
                return Err(format!(
                    "(not ready after {READY_TIMEOUT:?})\n{}",
                    self.log()
                ));
            }
            std::thread::sleep(Duration::from_millis(25));
        }
    }

    /// Stops the server: gunicorn's quick shutdown (SIGQUIT: the master stops its worker and
    /// exits, ~0.5 s), SIGKILL to its process group if that takes more than 3 s (a gunicorn
    /// still retrying a taken port handles no signal for 5 s).
    fn stop_server(&mut self) {
        let pid = self.server.id().to_string();
        let running = |server: &mut Child| matches!(server.try_wait(), Ok(None));
        if running(&mut self.server) {
            kill("-QUIT", &pid);
            let deadline = Instant::now() + Duration::from_secs(3);
            while running(&mut self.server) && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(10));
            }
            // not reaped yet, so the group id is still gunicorn's
            if running(&mut self.server) {
                kill("-9", &format!("-{pid}"));
            }
        }
        let _ = self.server.wait();
        let _ = self.watcher.kill();
        let _ = self.watcher.wait();
    }
}

impl Drop for Bugsink {
    fn drop(&mut self) {
        self.stop_server();
    }
}

/// `kill SIGNAL TARGET` with the shell's own `kill` (no `procps` on a minimal Debian).
fn kill(signal: &str, target: &str) {
    let _ = Command::new("sh")
        .args(["-c", r#"kill "$1" "$2""#, "kill", signal, target])
        .stderr(Stdio::null())
        .status();
}

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ is inside the repository")
        .to_owned()
}

/// `$KANSOKU_BUGSINK_VENV`, or `<repo>/.tools/bugsink-venv`.
fn venv() -> PathBuf {
    let venv = std::env::var_os("KANSOKU_BUGSINK_VENV")
        .map_or_else(|| repo_root().join(".tools/bugsink-venv"), PathBuf::from);
    assert!(
        venv.join("bin/gunicorn").is_file() && venv.join("bin/bugsink-manage").is_file(),
        "Bugsink is needed by this test and is not installed in {} ($KANSOKU_BUGSINK_VENV); run `bash scripts/install-bugsink.sh`",
        venv.display()
    );
    venv
}

/// `bugsink_conf.py`: loopback, `SQLite` in `dir`, eager tasks, no mail, no phone-home.
fn write_config(dir: &Path, port: u16) {
    let path = |name: &str| {
        let path = dir.join(name);
        let path = path.to_str().expect("a UTF-8 temporary folder");
        serde_json::to_string(path).unwrap() // a Python string literal too
    };
    let mut conf = String::from("from bugsink.settings.default import *  # noqa\n\n");
    // a throw-away instance on loopback: its key signs nothing that outlives it
    let _ = writeln!(
        conf,
        "SECRET_KEY = \"kansoku-tests-bugsink-{port}-not-a-secret\""
    );
    let _ = writeln!(
        conf,
        "DATABASES[\"default\"][\"NAME\"] = {}",
        path("db.sqlite3")
    );
    let _ = writeln!(
        conf,
        "DATABASES[\"snappea\"][\"NAME\"] = {}",
        path("snappea.sqlite3")
    );
    let _ = writeln!(conf, "SNAPPEA = {{\"TASK_ALWAYS_EAGER\": True}}");
    let _ = writeln!(
        conf,
        "EMAIL_BACKEND = \"django.core.mail.backends.dummy.EmailBackend\""
    );
    let _ = writeln!(conf, "TIME_ZONE = \"UTC\"");
    let _ = writeln!(
        conf,
        "BUGSINK = {{\n    \"BASE_URL\": \"http://127.0.0.1:{port}\",\n    \"SINGLE_USER\": True,\n    \"SINGLE_TEAM\": True,\n    \"USER_REGISTRATION\": \"CB_NOBODY\",\n    \"PHONEHOME\": False,\n    # default /tmp/bugsink/ingestion is shared by every instance on the machine\n    \"INGEST_STORE_BASE_DIR\": {},\n}}",
        path("ingestion")
    );
    std::fs::write(dir.join("bugsink_conf.py"), conf).expect("writing bugsink_conf.py");
}

/// `bugsink-manage`/`gunicorn` of the venv, with the configuration of `dir`.
fn bugsink_command(program: &Path, dir: &Path) -> Command {
    let mut command = Command::new(program);
    command
        .current_dir(dir)
        .env("PYTHONPATH", dir)
        .env("DJANGO_SETTINGS_MODULE", "bugsink_conf")
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .env_remove("SENTRY_DSN");
    command
}

/// gunicorn in a process group of its own, and its watcher: (server, watcher).
fn spawn_server(venv: &Path, dir: &Path, port: u16) -> (Child, Child) {
    let log = std::fs::File::create(dir.join("server.log")).expect("creating server.log");
    let server = bugsink_command(&venv.join("bin/gunicorn"), dir)
        .args(["--bind", &format!("127.0.0.1:{port}")])
        .args(["--workers", "1", "--no-control-socket"])
        .arg("bugsink.wsgi")
        .process_group(0)
        .stdin(Stdio::null())
        .stdout(log.try_clone().expect("server.log"))
        .stderr(log)
        .spawn()
        .unwrap_or_else(|e| panic!("starting gunicorn: {e}"));
    // In a group of its own too, so that a Ctrl-C of the tests does not end it before gunicorn.
    let watcher = Command::new("sh")
        .args(["-c", WATCHER, "bugsink-watcher"])
        .arg(server.id().to_string())
        .process_group(0)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("starting the watcher of gunicorn: {e}"));
    (server, watcher)
}

/// Creates the user, team, project and token: (project id, sentry key, token).
fn create_project(venv: &Path, dir: &Path) -> (u64, String, String) {
    let output = bugsink_command(&venv.join("bin/bugsink-manage"), dir)
        .args(["shell", "--no-imports", "-c", SETUP])
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("running bugsink-manage shell: {e}"));
    let stdout = String::from_utf8_lossy(&output.stdout);
    let created = stdout
        .lines()
        .rev()
        .find(|line| line.starts_with('{'))
        .filter(|_| output.status.success())
        .and_then(|line| serde_json::from_str::<Value>(line).ok())
        .unwrap_or_else(|| {
            panic!(
                "bugsink-manage shell could not create the project ({}):\n{stdout}\n{}",
                output.status,
                String::from_utf8_lossy(&output.stderr)
            )
        });
    (
        created["project_id"].as_u64().expect("project_id"),
        created["sentry_key"]
            .as_str()
            .expect("sentry_key")
            .to_owned(),
        created["token"].as_str().expect("token").to_owned(),
    )
}

fn parse(path: &str, body: &str) -> Value {
    serde_json::from_str(body).unwrap_or_else(|e| panic!("GET {path}: not JSON ({e}):\n{body}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_taken_port_is_seen_at_once_so_that_start_can_take_another() {
        let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = taken.local_addr().unwrap().port();
        let template = repo_root().join(".tools/bugsink-template");
        let started = Instant::now();
        let mut bugsink = Bugsink::spawn(&venv(), &template, port);
        let log = bugsink.wait_until_ready().unwrap_err();
        assert!(log.contains(PORT_TAKEN), "{log}");
        assert!(
            started.elapsed() < Duration::from_secs(4),
            "{:?}",
            started.elapsed()
        );
    }
}
