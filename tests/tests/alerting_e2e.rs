//! End to end: a service serving kansoku's Prometheus text behind a bearer token, a real
//! `prometheus` scraping it every second with the generated rules loaded (the test's copy,
//! with `for` shortened), traffic with errors and slow requests, then:
//! - every dashboard panel's expression returns data through Prometheus' HTTP API;
//! - the error-ratio alert, the crash alert after a first panic, the fast SLO burn (all
//!   critical, as the guide has them) and the p95 alert (a warning) become firing;
//! - a real Alertmanager with the generated configuration (receivers pointed at the test's
//!   Slack-webhook and SMTP listeners — the stand-ins for Slack and a mail server) posts the
//!   warning to Slack only, the error rate and the crash to Slack and e-mail at once, and holds
//!   back the slow burn, which the fast one inhibits.
//!
//! And a real Alertmanager given alerts as Prometheus would send them: a target that is down
//! silences the alerts of its own instance and no other's.
//!
//! The service here is a small axum server in the test wearing kansoku's `KansokuLayer` and
//! `ops_router` (the token-guarded `/metrics`, the health checks). To run this against
//! `examples/shops-api` instead, replace [`Service::start`] with starting the example
//! (`ADDR`, `KANSOKU_OPS_TOKEN`) and [`Service::drive`] with requests to its routes; the rest
//! reads only Prometheus, Alertmanager and the listeners.
// Handlers here stand in for real ones with trivial bodies; clippy sees them as written.
#![allow(clippy::unused_async, clippy::unnecessary_wraps)]

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::get;
use axum::Router;
use kansoku::deploy::{self, Config, Slo};
use kansoku::metrics::{Counter, Gauge};
use kansoku::Telemetry;
use kansoku_tests::listeners::{Answer, SmtpListener, WebhookListener};
use kansoku_tests::monitoring::{client, Server};

const TOKEN: &str = "scrape-token-for-the-test";
/// Bounds each wait for something Prometheus or Alertmanager does within seconds.
const LIMIT: Duration = Duration::from_mins(2);

// ------------------------------------------------------------------------------------------
// the service

static RESERVATIONS: Counter<1> =
    Counter::new("reservations_total", "Reservations made.", ["status"]);
static ACTIVE_USERS: Gauge<0> = Gauge::new("active_users", "Users active now.", []);
#[derive(Debug)]
struct ShopError;
impl std::fmt::Display for ShopError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("shop not found")
    }
}
impl std::error::Error for ShopError {}

#[kansoku::track_database_query("select", "shops")]
async fn fetch_shop(id: u64) -> Result<u64, ShopError> {
    if id.is_multiple_of(3) {
        Err(ShopError)
    } else {
        Ok(id)
    }
}

/// One request in three fails: a 33% error ratio on `/shops/{id}`.
#[kansoku::track_api_request(method = "GET", endpoint = "/shops/{id}")]
async fn get_shop(id: u64) -> Result<u64, ShopError> {
    fetch_shop(id).await
}

/// Slower than the latency objective's 1 s.
#[kansoku::track_api_request(method = "GET", endpoint = "/shops/slow")]
async fn slow_shops() -> Result<u64, ShopError> {
    tokio::time::sleep(Duration::from_millis(1100)).await;
    Ok(0)
}

/// Every call panics: the crash alert's first panic.
#[kansoku::monitor_api_endpoint]
#[kansoku::track_api_request(method = "POST", endpoint = "/shops/{id}/reserve")]
async fn reserve(id: u64) -> Result<u64, ShopError> {
    panic!("reservation {id}: the queue is gone");
}

#[derive(Clone)]
struct App {
    telemetry: Telemetry,
}

async fn shop(State(app): State<App>, Path(id): Path<u64>) -> StatusCode {
    let result = app.telemetry.instrument(get_shop(id)).await;
    let status = if result.is_ok() {
        StatusCode::OK
    } else {
        StatusCode::NOT_FOUND
    };
    app.telemetry
        .instrument(async {
            RESERVATIONS.increment([if result.is_ok() {
                "confirmed"
            } else {
                "failed"
            }]);
        })
        .await;
    status
}

async fn slow(State(app): State<App>) -> StatusCode {
    let _ = app.telemetry.instrument(slow_shops()).await;
    StatusCode::OK
}

/// A dependency check for the ops router's `/health/detailed` and `ns_health_check_up`.
struct Database;
impl kansoku::http::HealthCheck for Database {
    fn name(&self) -> &'static str {
        "database"
    }
    fn check(&self) -> kansoku::http::CheckFuture<'_> {
        Box::pin(async { Ok(()) })
    }
}

struct Service {
    url: String,
    telemetry: Telemetry,
}

impl Service {
    async fn start() -> Service {
        let telemetry = Telemetry::builder()
            .namespace("shop")
            .service_name("shops-api")
            .build()
            .unwrap();
        let app = App {
            telemetry: telemetry.clone(),
        };
        let router = Router::new()
            .route("/shops/slow", get(slow))
            .route("/shops/{id}", get(shop))
            .with_state(app)
            .layer(kansoku::http::KansokuLayer::new(&telemetry))
            .merge(kansoku::http::ops_router(
                &telemetry,
                kansoku::http::OpsConfig::new()
                    .token(TOKEN)
                    .critical(Database),
            ));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, router).await });
        telemetry
            .instrument(async {
                kansoku::metrics::set_db_connections(9, 10);
                ACTIVE_USERS.set([], 12.0);
            })
            .await;
        // the application's own alert, whose gauge the dashboard shows
        let pending = Arc::new(AtomicU64::new(150));
        kansoku::alert::Alert::new("reservation_queue")
            .value(move || {
                let pending = pending.clone();
                #[allow(clippy::cast_precision_loss)]
                async move {
                    Ok::<_, std::io::Error>(pending.load(Ordering::Relaxed) as f64)
                }
            })
            .above(100.0)
            .every(Duration::from_millis(500))
            .spawn(&telemetry)
            .unwrap();
        Service { url, telemetry }
    }

    /// One call of `/shops/{id}/reserve`, which panics (`status="panic"`, `kind="panic"`).
    async fn panic_once(&self) {
        let call = tokio::spawn(self.telemetry.instrument(reserve(7))).await;
        assert!(call.is_err_and(|e| e.is_panic()));
    }

    /// Requests until the test ends: errors on `/shops/{id}`, a slow one now and then.
    fn drive(&self) {
        let url = self.url.clone();
        tokio::spawn(async move {
            let client = client();
            for id in 0_u64.. {
                let _ = client.get(format!("{url}/shops/{id}")).send().await;
                if id.is_multiple_of(10) {
                    let client = client.clone();
                    let url = url.clone();
                    tokio::spawn(
                        async move { client.get(format!("{url}/shops/slow")).send().await },
                    );
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        });
    }
}

// ------------------------------------------------------------------------------------------
// the generated configuration, the test's copy

fn config(slack_file: &str, smtp: &str) -> Config {
    let mut config = Config::new("shop");
    config.job = Some("shops-api".to_owned());
    config.business_metrics = vec!["reservations_total".to_owned(), "active_users".to_owned()];
    config.slo = vec![
        Slo::availability("availability", 0.999),
        Slo::latency("shops-latency", 0.99, 1.0).endpoints("/shops.*"),
    ];
    // shortened only here, so the test does not wait minutes; the slow burn waits longer than
    // the fast one, so Alertmanager already holds the alert that inhibits it. The p95
    // threshold is lowered so that `/shops/slow` raises a warning.
    let alerts = &mut config.alerts;
    alerts.latency_p95_seconds = 1.0;
    "3s".clone_into(&mut alerts.error_for);
    "3s".clone_into(&mut alerts.latency_for);
    "3s".clone_into(&mut alerts.pool_for);
    "3s".clone_into(&mut alerts.target_down_for);
    "2s".clone_into(&mut alerts.slo_fast_for);
    "12s".clone_into(&mut alerts.slo_slow_for);
    let receivers = &mut config.alertmanager;
    slack_file.clone_into(&mut receivers.slack_api_url_file);
    smtp.clone_into(&mut receivers.smtp_smarthost);
    receivers.smtp_require_tls = false;
    "1s".clone_into(&mut receivers.group_wait);
    "1s".clone_into(&mut receivers.group_interval);
    "1h".clone_into(&mut receivers.repeat_interval);
    config
}

fn prometheus_yml(service: &str, alertmanager: &str) -> String {
    let target = service.trim_start_matches("http://");
    let am = alertmanager.trim_start_matches("http://");
    format!(
        "global:
  scrape_interval: 1s
  evaluation_interval: 1s
rule_files: [rules.yml]
alerting:
  alertmanagers:
    - static_configs:
        - targets: ['{am}']
scrape_configs:
  - job_name: shops-api
    authorization:
      credentials: '{TOKEN}'
    static_configs:
      - targets: ['{target}']
"
    )
}

async fn wait_until<F, Fut>(what: &str, mut check: F) -> serde_json::Value
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<serde_json::Value, String>>,
{
    let deadline = tokio::time::Instant::now() + LIMIT;
    loop {
        match check().await {
            Ok(found) => return found,
            Err(state) => assert!(
                tokio::time::Instant::now() < deadline,
                "{what} did not happen within {LIMIT:?}; last state: {state}"
            ),
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// The alert `name` in Prometheus' `/api/v1/alerts`, once it is firing.
async fn firing(prometheus: &Server, client: &reqwest::Client, name: &str) -> serde_json::Value {
    wait_until(&format!("{name} firing in Prometheus"), || async {
        let answer = prometheus.get_json(client, "/api/v1/alerts", &[]).await;
        answer["data"]["alerts"]
            .as_array()
            .and_then(|alerts| {
                alerts
                    .iter()
                    .find(|a| a["labels"]["alertname"] == name && a["state"] == "firing")
                    .cloned()
            })
            .ok_or_else(|| answer.to_string())
    })
    .await
}

/// The first mail about `alert`, unfolded.
async fn mail_about(smtp: &SmtpListener, alert: &str) -> String {
    let mail = wait_until(&format!("{alert} by e-mail"), || async {
        smtp.mails()
            .into_iter()
            .map(|m| unfold(&m))
            .find(|m| m.contains(&format!("] {alert} (")))
            .map(serde_json::Value::String)
            .ok_or_else(|| format!("{} mails: {:?}", smtp.mails().len(), smtp.mails()))
    })
    .await;
    mail.as_str().unwrap().to_owned()
}

/// The receivers Alertmanager routed the alert `name` to (`/api/v2/alerts`).
async fn receivers_in_alertmanager(
    alertmanager: &Server,
    client: &reqwest::Client,
    name: &str,
) -> Vec<String> {
    let alerts = alertmanager.get_json(client, "/api/v2/alerts", &[]).await;
    let alert = alerts
        .as_array()
        .and_then(|all| all.iter().find(|a| a["labels"]["alertname"] == name))
        .unwrap_or_else(|| panic!("no {name} in Alertmanager: {alerts}"));
    alert["receivers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["name"].as_str().unwrap().to_owned())
        .collect()
}

/// Mail text with quoted-printable soft line breaks undone.
fn unfold(mail: &str) -> String {
    mail.replace("=\r\n", "")
        .replace("=\n", "")
        .replace("=3D", "=")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[allow(clippy::too_many_lines)] // one scenario, in the order it happens
async fn prometheus_and_alertmanager_run_the_generated_rules_dashboard_and_routes() {
    let client = client();
    let service = Service::start().await;
    // the token is required, as Prometheus will send it
    let refused = client
        .get(format!("{}/metrics", service.url))
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 401);
    service.drive();

    let slack = WebhookListener::start(&[], Answer::Ok).await;
    let smtp = SmtpListener::start().await;
    let slack_file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(slack_file.path(), slack.url()).unwrap();
    let config = config(slack_file.path().to_str().unwrap(), &smtp.address());

    let alertmanager = Server::alertmanager(&deploy::alertmanager_config(&config).unwrap(), &[]);
    alertmanager.ready(&client).await;
    let prometheus = Server::prometheus(
        &prometheus_yml(&service.url, alertmanager.url()),
        &[("rules.yml", deploy::prometheus_rules(&config).unwrap())],
    );
    prometheus.ready(&client).await;

    // the scrape with the token works
    wait_until("a successful scrape", || async {
        let up = prometheus
            .query(&client, "up{job=\"shops-api\"} == 1")
            .await;
        if up.is_empty() {
            Err(prometheus.log())
        } else {
            Ok(up[0].clone())
        }
    })
    .await;

    // every panel's every query returns data
    let dashboard: serde_json::Value =
        serde_json::from_str(&deploy::grafana_dashboard(&config).unwrap()).unwrap();
    let mut queries = Vec::new();
    for panel in dashboard["panels"].as_array().unwrap() {
        for target in panel["targets"].as_array().unwrap() {
            let expr = target["expr"]
                .as_str()
                .unwrap()
                .replace("$endpoint", ".*")
                .replace("$table", ".*");
            queries.push((panel["title"].as_str().unwrap().to_owned(), expr));
        }
    }
    assert!(queries.len() >= 12, "{queries:?}");
    wait_until("data in every dashboard panel", || async {
        let mut empty = Vec::new();
        for (title, expr) in &queries {
            if prometheus.query(&client, expr).await.is_empty() {
                empty.push(format!("{title}: {expr}"));
            }
        }
        if empty.is_empty() {
            Ok(serde_json::Value::Null)
        } else {
            Err(format!("no data yet for {empty:#?}"))
        }
    })
    .await;

    // the latency objective reads the bucket of its threshold as the exporter prints it
    // (`le="1"`): the slow requests make its bad ratio positive, not absent or 0
    let slow_share = prometheus
        .query(
            &client,
            "slo:shop_sli_errors:ratio_rate5m{slo=\"shops-latency\"} > 0",
        )
        .await;
    assert_eq!(slow_share.len(), 1, "{slow_share:?}");
    let budgets = prometheus
        .query(&client, "slo:shop_error_budget:remaining_ratio")
        .await;
    assert_eq!(budgets.len(), 2, "one per objective: {budgets:?}");

    // a first panic, once Prometheus scrapes the service: a new series at 1
    service.panic_once().await;

    // the alerts, with the guide's severities
    let error_ratio = firing(&prometheus, &client, "HighErrorRatio").await;
    assert_eq!(error_ratio["labels"]["endpoint"], "/shops/{id}");
    assert_eq!(error_ratio["labels"]["severity"], "critical");
    let crash = firing(&prometheus, &client, "EndpointPanicked").await;
    assert_eq!(
        crash["labels"]["endpoint"], "/shops/{id}/reserve",
        "{crash}"
    );
    assert_eq!(crash["labels"]["kind"], "panic", "{crash}");
    assert_eq!(crash["labels"]["severity"], "critical", "{crash}");
    let p95 = firing(&prometheus, &client, "HighLatencyP95").await;
    assert_eq!(p95["labels"]["endpoint"], "/shops/slow");
    assert_eq!(p95["labels"]["severity"], "warning");
    let fast = firing(&prometheus, &client, "SLOAvailabilityBudgetBurnFast").await;
    assert_eq!(fast["labels"]["severity"], "critical");
    let slow = firing(&prometheus, &client, "SLOAvailabilityBudgetBurnSlow").await;
    assert_eq!(slow["labels"]["severity"], "critical");
    // both attributes counted the panic; it is one alert
    let crashes = prometheus
        .query(&client, "ALERTS{alertname=\"EndpointPanicked\"}")
        .await;
    assert_eq!(crashes.len(), 1, "{crashes:?}");

    // to people: the error rate, the crash and the fast burn to Slack and by e-mail, each in
    // one notification of the receiver that holds both
    for alert in [
        "HighErrorRatio",
        "EndpointPanicked",
        "SLOAvailabilityBudgetBurnFast",
    ] {
        slack
            .wait_for(&format!("{alert} on Slack"), LIMIT, |bodies| {
                bodies.iter().any(|b| b.to_string().contains(alert))
            })
            .await;
        let mail = mail_about(&smtp, alert).await;
        assert!(
            mail.contains(&format!("Subject: [FIRING] {alert} (shop)")),
            "{mail}"
        );
        assert!(mail.contains("To: oncall@example.com"), "{mail}");
        assert_eq!(
            receivers_in_alertmanager(&alertmanager, &client, alert).await,
            ["slack-and-email"]
        );
    }
    let crash_mail = mail_about(&smtp, "EndpointPanicked").await;
    assert!(
        crash_mail.contains("/shops/{id}/reserve") && crash_mail.contains("panic"),
        "{crash_mail}"
    );
    // the warning to Slack only
    slack
        .wait_for("the HighLatencyP95 warning", LIMIT, |bodies| {
            bodies
                .iter()
                .any(|b| b.to_string().contains("HighLatencyP95"))
        })
        .await;
    assert_eq!(
        receivers_in_alertmanager(&alertmanager, &client, "HighLatencyP95").await,
        ["slack"]
    );

    // the slow burn reached Alertmanager and is inhibited by the fast one: never on Slack
    let inhibited = wait_until("the slow burn inhibited in Alertmanager", || async {
        let alerts = alertmanager.get_json(&client, "/api/v2/alerts", &[]).await;
        alerts
            .as_array()
            .and_then(|all| {
                all.iter()
                    .find(|a| a["labels"]["alertname"] == "SLOAvailabilityBudgetBurnSlow")
                    .cloned()
            })
            .filter(|a| {
                a["status"]["inhibitedBy"]
                    .as_array()
                    .is_some_and(|by| !by.is_empty())
            })
            .ok_or_else(|| alerts.to_string())
    })
    .await;
    assert_eq!(inhibited["status"]["state"], "suppressed", "{inhibited}");
    assert!(
        slack
            .bodies()
            .iter()
            .all(|b| !b.to_string().contains("SLOAvailabilityBudgetBurnSlow")),
        "{:#?}",
        slack.bodies()
    );
    // warnings are not mailed, nor is what is inhibited
    for alert in ["HighLatencyP95", "SLOAvailabilityBudgetBurnSlow"] {
        assert!(
            smtp.mails().iter().all(|m| !unfold(m).contains(alert)),
            "{alert} was mailed: {:?}",
            smtp.mails()
        );
    }
    // the application's own alert is on the dashboard's panel too
    let app_alert = prometheus
        .query(
            &client,
            "shop_alert_firing{alert=\"reservation_queue\"} == 1",
        )
        .await;
    assert_eq!(app_alert.len(), 1, "{app_alert:?}");
    assert!(service.telemetry.alerts()[0].firing);
}

// ------------------------------------------------------------------------------------------
// inhibition, with alerts as Prometheus sends them

/// The alert `name` as the generated rule makes it: the rule's labels and `extra`, its
/// annotations with `{{ $labels.x }}` filled in, as Prometheus would post it.
fn alert(config: &Config, name: &str, extra: &[(&str, &str)]) -> serde_json::Value {
    let rule = deploy::alert_rules(config)
        .into_iter()
        .find(|rule| rule.name == name)
        .unwrap_or_else(|| panic!("no alert {name}"));
    let mut labels = serde_json::Map::new();
    labels.insert("alertname".to_owned(), name.into());
    for (k, v) in rule
        .labels
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .chain(extra.iter().copied())
    {
        labels.insert(k.to_owned(), v.into());
    }
    let mut annotations = serde_json::Map::new();
    for (k, v) in &rule.annotations {
        let mut text = v.clone();
        for (label, value) in &labels {
            text = text.replace(
                &format!("{{{{ $labels.{label} }}}}"),
                value.as_str().unwrap(),
            );
        }
        annotations.insert(k.clone(), text.into());
    }
    serde_json::json!({ "labels": labels, "annotations": annotations })
}

/// The state Alertmanager gives each of `alerts` (by alert name and `instance` or `slo`):
/// `active`, or `suppressed` with what inhibits it.
fn states(alerts: &serde_json::Value) -> Vec<(String, String, bool)> {
    let mut out: Vec<(String, String, bool)> = alerts
        .as_array()
        .into_iter()
        .flatten()
        .map(|a| {
            let labels = &a["labels"];
            let which = labels["instance"]
                .as_str()
                .or(labels["slo"].as_str())
                .or(labels["endpoint"].as_str())
                .unwrap_or_default();
            let inhibited = a["status"]["inhibitedBy"]
                .as_array()
                .is_some_and(|by| !by.is_empty());
            (
                format!(
                    "{} {}",
                    labels["alertname"].as_str().unwrap_or_default(),
                    a["status"]["state"].as_str().unwrap_or_default()
                ),
                which.to_owned(),
                inhibited,
            )
        })
        .collect();
    out.sort();
    out
}

/// `alerts` posted to Alertmanager's API, as Prometheus posts them.
async fn post_alerts(alertmanager: &Server, client: &reqwest::Client, alerts: &serde_json::Value) {
    let posted = client
        .post(format!("{}/api/v2/alerts", alertmanager.url()))
        .header("content-type", "application/json")
        .body(alerts.to_string())
        .send()
        .await
        .unwrap();
    assert!(posted.status().is_success(), "{posted:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_target_down_silences_its_own_instance_only_and_a_fast_burn_its_own_objective() {
    let client = client();
    let slack = WebhookListener::start(&[], Answer::Ok).await;
    let smtp = SmtpListener::start().await;
    let slack_file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(slack_file.path(), slack.url()).unwrap();
    let config = config(slack_file.path().to_str().unwrap(), &smtp.address());
    let alertmanager = Server::alertmanager(&deploy::alertmanager_config(&config).unwrap(), &[]);
    alertmanager.ready(&client).await;

    let (down, up) = ("10.0.0.1:8000", "10.0.0.2:8000");
    let target = |instance| [("job", "shops-api"), ("instance", instance)];
    let alerts = serde_json::Value::Array(vec![
        alert(&config, "ScrapeTargetDown", &target(down)),
        alert(&config, "DatabasePoolSaturated", &target(down)),
        alert(&config, "DatabasePoolSaturated", &target(up)),
        // about an endpoint, no instance: a label both lack is no reason to silence it
        alert(&config, "HighLatencyP95", &[("endpoint", "/shops")]),
        alert(
            &config,
            "SLOAvailabilityBudgetBurnFast",
            &[("slo", "availability")],
        ),
        alert(
            &config,
            "SLOAvailabilityBudgetBurnSlow",
            &[("slo", "availability")],
        ),
        alert(
            &config,
            "SLOLatencyBudgetBurnSlow",
            &[("slo", "shops-latency")],
        ),
    ]);
    post_alerts(&alertmanager, &client, &alerts).await;

    let expected: Vec<(String, String, bool)> = vec![
        ("DatabasePoolSaturated active", up, false),
        ("DatabasePoolSaturated suppressed", down, true),
        ("HighLatencyP95 active", "/shops", false),
        (
            "SLOAvailabilityBudgetBurnFast active",
            "availability",
            false,
        ),
        (
            "SLOAvailabilityBudgetBurnSlow suppressed",
            "availability",
            true,
        ),
        ("SLOLatencyBudgetBurnSlow active", "shops-latency", false),
        ("ScrapeTargetDown active", down, false),
    ]
    .into_iter()
    .map(|(a, b, c)| (a.to_owned(), b.to_owned(), c))
    .collect();
    wait_until("the inhibitions in Alertmanager", || async {
        let now = states(&alertmanager.get_json(&client, "/api/v2/alerts", &[]).await);
        if now == expected {
            Ok(serde_json::Value::Null)
        } else {
            Err(format!("{now:#?}"))
        }
    })
    .await;

    // the other instance's pool reaches people, by Slack and e-mail (critical, as the guide's
    // DatabaseConnectionPoolExhausted); the silenced one is in no notification
    let pool_on_slack = |bodies: &[serde_json::Value]| {
        bodies
            .iter()
            .map(ToString::to_string)
            .filter(|b| b.contains("DatabasePoolSaturated"))
            .collect::<Vec<_>>()
    };
    slack
        .wait_for("the pool of the instance that is up", LIMIT, |bodies| {
            pool_on_slack(bodies).iter().any(|b| b.contains(up))
        })
        .await;
    let mail = mail_about(&smtp, "DatabasePoolSaturated").await;
    assert!(mail.contains(up) && !mail.contains(down), "{mail}");
    slack
        .wait_for("the latency slow burn", LIMIT, |bodies| {
            bodies
                .iter()
                .any(|b| b.to_string().contains("SLOLatencyBudgetBurnSlow"))
        })
        .await;
    assert!(
        pool_on_slack(&slack.bodies())
            .iter()
            .all(|b| !b.contains(down)),
        "{:#?}",
        slack.bodies()
    );
    assert!(
        slack
            .bodies()
            .iter()
            .all(|b| !b.to_string().contains("SLOAvailabilityBudgetBurnSlow")),
        "{:#?}",
        slack.bodies()
    );
}
