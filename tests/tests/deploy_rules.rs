//! The generated deploy files, checked by the real tools: `promtool check rules` and
//! `promtool test rules` (synthetic series for every alert: it fires when it should, stays
//! quiet when it should not) and `amtool check-config`; and the files checked in under
//! `deploy/` are exactly what the generator makes of `deploy/osakamenesu.toml`.
// Handlers here stand in for real ones with trivial bodies; clippy sees them as written.
#![allow(clippy::unused_async, clippy::unnecessary_wraps)]

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;

use kansoku::deploy::{self, Config, Slo};
use kansoku_tests::required_tool;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn example_config() -> Config {
    let path = repo().join("deploy/osakamenesu.toml");
    let text = std::fs::read_to_string(&path).expect("deploy/osakamenesu.toml");
    toml::from_str(&text).expect("deploy/osakamenesu.toml parses")
}

/// A configuration with both kinds of objective, as a test fixture.
fn shop_config() -> Config {
    let mut config = Config::new("shop");
    config.slo = vec![
        Slo::availability("availability", 0.999),
        Slo::latency("fast-shops", 0.99, 0.5).endpoints("/shops.*"),
    ];
    config.business_metrics = vec!["reservations_total".to_owned(), "active_users".to_owned()];
    config
}

fn run(tool: &str, args: &[&str], dir: &Path) -> (bool, String) {
    let out = Command::new(required_tool(tool))
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap_or_else(|e| panic!("{tool} starts: {e}"));
    let report = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), report)
}

#[test]
fn the_checked_in_deploy_files_are_what_the_generator_makes() {
    let config = example_config();
    for (file, generated) in [
        ("prometheus-rules.yml", deploy::prometheus_rules(&config)),
        ("grafana-dashboard.json", deploy::grafana_dashboard(&config)),
        ("alertmanager.yml", deploy::alertmanager_config(&config)),
    ] {
        let checked_in = std::fs::read_to_string(repo().join("deploy").join(file))
            .unwrap_or_else(|e| panic!("deploy/{file}: {e}"));
        assert!(
            checked_in == generated.unwrap(),
            "deploy/{file} differs from the generator's output: regenerate it with the command at the top of deploy/osakamenesu.toml"
        );
    }
}

#[test]
fn promtool_check_rules_accepts_every_generated_rule_file() {
    let dir = tempfile::tempdir().unwrap();
    for (name, config) in [
        ("example.yml", example_config()),
        ("shop.yml", shop_config()),
        ("other.yml", other_config()),
        ("defaults.yml", Config::new("kansoku")),
    ] {
        std::fs::write(
            dir.path().join(name),
            deploy::prometheus_rules(&config).unwrap(),
        )
        .unwrap();
        let (ok, report) = run("promtool", &["check", "rules", name], dir.path());
        assert!(ok, "promtool check rules {name}:\n{report}");
        assert!(report.contains("SUCCESS"), "{report}");
    }
    // and the checked-in one, as a user would run it
    let (ok, report) = run(
        "promtool",
        &["check", "rules", "deploy/prometheus-rules.yml"],
        &repo(),
    );
    assert!(ok, "{report}");
}

#[test]
fn amtool_check_config_accepts_the_alertmanager_configuration() {
    let dir = tempfile::tempdir().unwrap();
    for (name, config) in [
        ("example.yml", example_config()),
        ("shop.yml", shop_config()),
        ("other.yml", other_config()),
    ] {
        std::fs::write(
            dir.path().join(name),
            deploy::alertmanager_config(&config).unwrap(),
        )
        .unwrap();
        let (ok, report) = run("amtool", &["check-config", name], dir.path());
        assert!(ok, "amtool check-config {name}:\n{report}");
        assert!(
            report.contains("2 inhibit rules") && report.contains("2 receivers"),
            "{report}"
        );
    }
}

#[test]
fn the_dashboard_is_grafana_json_with_the_variables_and_panels() {
    let config = shop_config();
    let json: serde_json::Value =
        serde_json::from_str(&deploy::grafana_dashboard(&config).unwrap()).unwrap();
    let variables: Vec<&str> = json["templating"]["list"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["name"].as_str().unwrap())
        .collect();
    assert_eq!(variables, ["datasource", "endpoint", "table"]);
    let titles: Vec<&str> = json["panels"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["title"].as_str().unwrap())
        .collect();
    for wanted in [
        "Request rate",
        "Error ratio",
        "Latency p50 / p95 / p99",
        "In flight",
        "HTTP status codes by route",
        "Database query rate",
        "Database query latency p95",
        "Database pool use",
        "Health checks",
        "Business metrics",
        "SLO error budget remaining",
    ] {
        assert!(
            titles.contains(&wanted),
            "no panel {wanted:?} in {titles:?}"
        );
    }
    for panel in json["panels"].as_array().unwrap() {
        assert_eq!(panel["datasource"]["uid"], "${datasource}", "{panel}");
        for target in panel["targets"].as_array().unwrap() {
            let expr = target["expr"].as_str().unwrap();
            // every query reads this namespace's series (recorded or exported), never another's
            assert!(
                expr.contains("shop_") || expr.contains(":shop_") || expr.contains("shop:"),
                "{expr}"
            );
        }
    }
}

/// The generator reads `kansoku::names`; the exporter must print exactly those families, with
/// those kinds and labels, or a generated query would read nothing.
#[tokio::test]
async fn every_family_the_exporter_prints_is_in_names_with_its_kind_and_labels() {
    #[kansoku::track_api_request(method = "GET", endpoint = "/shops")]
    #[kansoku::monitor_api_endpoint]
    async fn get_shops(fail: bool) -> Result<u8, std::io::Error> {
        if fail {
            return Err(std::io::Error::other("down"));
        }
        query().await
    }
    #[kansoku::track_database_query("select", "shops")]
    async fn query() -> Result<u8, std::io::Error> {
        Ok(1)
    }
    let telemetry = kansoku::Telemetry::builder()
        .namespace("names")
        .max_series_per_metric(1)
        .build()
        .unwrap();
    telemetry
        .instrument(async {
            get_shops(false).await.unwrap();
            get_shops(true).await.unwrap_err();
            kansoku::metrics::set_db_connections(1, 4);
            kansoku::metrics::record_error("/a", "X");
            kansoku::metrics::record_error("/b", "Y"); // overflows: the overflow family too
        })
        .await;
    let alert = kansoku::alert::Alert::new("queue")
        .value(|| async { Ok::<_, std::io::Error>(1.0) })
        .above(5.0)
        .every(std::time::Duration::from_millis(10))
        .spawn(&telemetry)
        .unwrap();
    while telemetry.alerts()[0].checked_at.is_none() {
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    let text = telemetry.prometheus_text();
    let mut seen = 0;
    for line in text.lines() {
        let Some(rest) = line.strip_prefix("# TYPE names_") else {
            continue;
        };
        let (name, kind) = rest.split_once(' ').unwrap();
        let family = kansoku::names::ALL
            .iter()
            .find(|f| f.name == name)
            .unwrap_or_else(|| panic!("`names_{name}` is exported but not in kansoku::names"));
        let expected = match family.kind {
            kansoku::names::Kind::Counter => "counter",
            kansoku::names::Kind::Gauge => "gauge",
            kansoku::names::Kind::Histogram => "histogram",
        };
        assert_eq!(kind, expected, "{name}");
        // the labels of each sample are the family's (histograms add `le`)
        for sample in text
            .lines()
            .filter(|l| l.starts_with(&format!("names_{name}{{")))
        {
            let labels: Vec<&str> = sample
                [sample.find('{').unwrap() + 1..sample.rfind('}').unwrap()]
                .split("\",")
                .filter_map(|pair| pair.split_once('=').map(|(k, _)| k.trim_start_matches(',')))
                .collect();
            assert_eq!(labels, family.labels, "{sample}");
        }
        seen += 1;
    }
    // requests, duration, in flight, errors, queries, query duration, pool used and max,
    // overflow, alert firing (and the Redis drop counter when its feature is on)
    assert!(seen >= 10, "{text}");
    alert.stop();
}

// ---------------------------------------------------------------------------------------------
// promtool test rules

/// The expected entry of one firing alert: `severity` as the test states it, the rule's other
/// labels and `extra`, its annotations with `{{ $labels.x }}` filled in from them, in
/// promtool's test format. The severity is the test's, not read from the rule, so a wrong
/// default fails the case.
fn expected(config: &Config, alert: &str, severity: &str, extra: &[(&str, &str)]) -> String {
    let rule = deploy::alert_rules(config)
        .into_iter()
        .find(|rule| rule.name == alert)
        .unwrap_or_else(|| panic!("no alert {alert}"));
    let mut labels: Vec<(String, String)> = rule
        .labels
        .iter()
        .map(|(k, v)| {
            let v = if k == "severity" { severity } else { v };
            (k.clone(), v.to_owned())
        })
        .collect();
    labels.extend(
        extra
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned())),
    );
    let mut out = String::from("          - exp_labels:\n");
    for (k, v) in &labels {
        let _ = writeln!(out, "              {k}: {}", json(v));
    }
    out.push_str("            exp_annotations:\n");
    for (k, v) in &rule.annotations {
        let mut text = v.clone();
        for (label, value) in &labels {
            text = text.replace(&format!("{{{{ $labels.{label} }}}}"), value);
        }
        let _ = writeln!(out, "              {k}: {}", json(&text));
    }
    out
}

/// A YAML double-quoted scalar (JSON strings are valid YAML).
fn json(text: &str) -> String {
    serde_json::Value::String(text.to_owned()).to_string()
}

/// One `alert_rule_test` entry: at `at`, exactly `firing` (already rendered) of `alert`.
fn at(at: &str, alert: &str, firing: &[String]) -> String {
    if firing.is_empty() {
        format!("      - eval_time: {at}\n        alertname: {alert}\n        exp_alerts: []\n")
    } else {
        format!(
            "      - eval_time: {at}\n        alertname: {alert}\n        exp_alerts:\n{}",
            firing.concat()
        )
    }
}

/// Input series of requests to `/shops` every 15 s: `ok` and `error` per step.
fn requests(ok: &str, error: &str) -> String {
    let series = |status: &str, values: &str| {
        format!(
            "      - series: 'shop_api_requests_total{{endpoint=\"/shops\",method=\"GET\",status=\"{status}\",job=\"shop\",instance=\"a:1\"}}'\n        values: '{values}'\n"
        )
    };
    series("ok", ok) + &series("error", error)
}

/// Latency histogram series of `/shops`: `fast` requests at or under 0.1 s, `slow` ones
/// between 2.5 s and 5 s, per 15 s step, as `a+bxN` expansions per bucket.
fn latency(fast: &str, all: &str) -> String {
    let mut out = String::new();
    for le in Config::default()
        .api_buckets
        .iter()
        .map(ToString::to_string)
        .chain(["+Inf".to_owned()])
    {
        let bound: f64 = le.parse().unwrap_or(f64::INFINITY);
        let values = if bound < 0.1 {
            "0x80"
        } else if bound < 5.0 {
            fast
        } else {
            all
        };
        let _ = write!(
            out,
            "      - series: 'shop_api_request_duration_seconds_bucket{{endpoint=\"/shops\",method=\"GET\",le=\"{le}\",job=\"shop\",instance=\"a:1\"}}'\n        values: '{values}'\n"
        );
    }
    let _ = write!(
        out,
        "      - series: 'shop_api_request_duration_seconds_count{{endpoint=\"/shops\",method=\"GET\",job=\"shop\",instance=\"a:1\"}}'\n        values: '{all}'\n"
    );
    out
}

fn case(name: &str, series: &str, checks: &[String]) -> String {
    format!(
        "  - name: {}\n    interval: 15s\n    input_series:\n{series}    alert_rule_test:\n{}",
        json(name),
        checks.concat()
    )
}

#[test]
#[allow(clippy::too_many_lines)] // one list of cases, read top to bottom
fn promtool_test_rules_every_alert_fires_when_it_should_and_only_then() {
    let config = shop_config();
    let shops = [("endpoint", "/shops")];
    // the guide: an error rate above 5% goes to Slack and e-mail, so it is critical
    let error_ratio = expected(&config, "HighErrorRatio", "critical", &shops);
    let p95 = expected(&config, "HighLatencyP95", "warning", &shops);
    let instance = [("instance", "a:1"), ("job", "shop")];
    let fast_burn = |slo: &str, kind: &str| {
        expected(
            &config,
            &format!("SLO{kind}BudgetBurnFast"),
            "critical",
            &[("slo", slo)],
        )
    };
    // the SRE workbook pages on the 6× burn as on the 14.4× one
    let slow_burn = |slo: &str, kind: &str| {
        expected(
            &config,
            &format!("SLO{kind}BudgetBurnSlow"),
            "critical",
            &[("slo", slo)],
        )
    };
    let cases = [
        // 6 errors in every 100 requests: pending as soon as both windows see it, firing
        // after the 5 minutes of `for`, not before
        case(
            "6% errors fire after their 5m",
            &requests("0+94x120", "0+6x120"),
            &[
                at("4m", "HighErrorRatio", &[]),
                at("10m", "HighErrorRatio", std::slice::from_ref(&error_ratio)),
                at("30m", "HighErrorRatio", std::slice::from_ref(&error_ratio)),
            ],
        ),
        case(
            "4% errors stay quiet",
            &requests("0+96x120", "0+4x120"),
            &[at("10m", "HighErrorRatio", &[]), at("30m", "HighErrorRatio", &[])],
        ),
        // a minute of one request in three failing, then none: the 1m window drops below
        // the threshold long before 5m have passed
        case(
            "a 1-minute burst of errors stays quiet",
            &requests("0+100x120", "0x20 50+50x3 200x96"),
            &["6m", "7m", "8m", "9m", "10m", "12m", "15m"]
                .iter()
                .map(|t| at(t, "HighErrorRatio", &[]))
                .collect::<Vec<_>>(),
        ),
        // nothing served at all, and traffic that stopped: no ratio, no alert
        case(
            "zero traffic divides by nothing",
            &(requests("0x120", "0x120") + &latency("0x120", "0x120")),
            &[
                at("10m", "HighErrorRatio", &[]),
                at("20m", "HighLatencyP95", &[]),
                at("20m", "SLOAvailabilityBudgetBurnFast", &[]),
                at("20m", "SLOLatencyBudgetBurnFast", &[]),
                at("20m", "SLOAvailabilityBudgetBurnSlow", &[]),
            ],
        ),
        case(
            "traffic that stops leaves no alert",
            &requests("0+100x20 2000x100", "0+1x20 20x100"),
            &[at("20m", "HighErrorRatio", &[]), at("20m", "SLOAvailabilityBudgetBurnFast", &[])],
        ),
        // 175 of every 200 requests take ≤ 0.1 s, 25 take 2.5–5 s: p95 = 2.5 + 2.5 × 15/25 = 4 s
        case(
            "a p95 of 4 s fires after its 10m",
            &latency("0+175x120", "0+200x120"),
            &[
                at("8m", "HighLatencyP95", &[]),
                at("15m", "HighLatencyP95", std::slice::from_ref(&p95)),
            ],
        ),
        // all fast (p95 inside the first buckets)
        case(
            "a p95 under the threshold stays quiet",
            &latency("0+200x120", "0+200x120"),
            &[at("20m", "HighLatencyP95", &[])],
        ),
        // one minute of 4 s requests amid fast ones
        case(
            "a 1-minute burst of slow requests stays quiet",
            &latency("0+200x20 4000x4 4000+200x95", "0+200x20 4200+200x3 4800+200x96"),
            &["6m", "8m", "10m", "12m", "15m", "20m"]
                .iter()
                .map(|t| at(t, "HighLatencyP95", &[]))
                .collect::<Vec<_>>(),
        ),
        case(
            "a pool 95% used for 5m fires, 85% does not",
            "      - series: 'shop_database_connections_used{job=\"shop\",instance=\"a:1\"}'\n        values: '19x40 17x40'\n      - series: 'shop_database_connections_max{job=\"shop\",instance=\"a:1\"}'\n        values: '20x80'\n",
            &[
                at("3m", "DatabasePoolSaturated", &[]),
                // the guide's DatabaseConnectionPoolExhausted: critical
                at("8m", "DatabasePoolSaturated", &[expected(&config, "DatabasePoolSaturated", "critical", &instance)]),
                at("18m", "DatabasePoolSaturated", &[]),
            ],
        ),
        case(
            "a pool without a maximum divides by nothing",
            "      - series: 'shop_database_connections_used{job=\"shop\",instance=\"a:1\"}'\n        values: '5x40'\n      - series: 'shop_database_connections_max{job=\"shop\",instance=\"a:1\"}'\n        values: '0x40'\n",
            &[at("8m", "DatabasePoolSaturated", &[])],
        ),
        case(
            "a target down for 1m fires, one that is up does not",
            "      - series: 'up{job=\"shop\",instance=\"a:1\"}'\n        values: '1x8 0x40'\n",
            &[
                at("2m", "ScrapeTargetDown", &[]),
                at("5m", "ScrapeTargetDown", &[expected(&config, "ScrapeTargetDown", "critical", &instance)]),
            ],
        ),
        // 2% errors: 20× the 0.1% budget of 99.9% — a fast burn (over 14.4×) pages within
        // minutes; the slow burn (6×) follows after its 15m; the 5% alert stays quiet
        case(
            "2% errors burn the availability budget fast",
            &requests("0+98x120", "0+2x120"),
            &[
                at("1m", "SLOAvailabilityBudgetBurnFast", &[]),
                at("5m", "SLOAvailabilityBudgetBurnFast", &[fast_burn("availability", "Availability")]),
                at("5m", "SLOAvailabilityBudgetBurnSlow", &[]),
                at("20m", "SLOAvailabilityBudgetBurnSlow", &[slow_burn("availability", "Availability")]),
                at("20m", "HighErrorRatio", &[]),
            ],
        ),
        // 1% errors: 10× — over 6× but under 14.4×: only the slow burn
        case(
            "1% errors burn it slowly",
            &requests("0+99x120", "0+1x120"),
            &[
                at("20m", "SLOAvailabilityBudgetBurnFast", &[]),
                at("20m", "SLOAvailabilityBudgetBurnSlow", &[slow_burn("availability", "Availability")]),
            ],
        ),
        // 0.5% errors: 5×, within what the budget allows over a month's burn
        case(
            "0.5% errors stay within the budget's pace",
            &requests("0+199x120", "0+1x120"),
            &[
                at("20m", "SLOAvailabilityBudgetBurnFast", &[]),
                at("25m", "SLOAvailabilityBudgetBurnSlow", &[]),
            ],
        ),
        // 12.5% of /shops requests slower than the 0.5 s objective threshold: 12.5× the 1%
        // budget — a slow burn, not a fast one
        case(
            "slow requests burn the latency budget",
            &latency("0+175x120", "0+200x120"),
            &[
                at("20m", "SLOLatencyBudgetBurnFast", &[]),
                at("20m", "SLOLatencyBudgetBurnSlow", &[slow_burn("fast-shops", "Latency")]),
            ],
        ),
    ];
    promtool_test_rules(&config, &[&cases[..], &crash_cases(&config)].concat());
}

/// `promtool test rules` of `cases` against the rules generated from `config`.
fn promtool_test_rules(config: &Config, cases: &[String]) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("rules.yml"),
        deploy::prometheus_rules(config).unwrap(),
    )
    .unwrap();
    let tests = format!(
        "rule_files:\n  - rules.yml\nevaluation_interval: 1m\ntests:\n{}",
        cases.concat()
    );
    std::fs::write(dir.path().join("tests.yml"), &tests).unwrap();
    let (ok, report) = run("promtool", &["test", "rules", "tests.yml"], dir.path());
    assert!(
        ok,
        "promtool test rules:\n{report}\n--- tests.yml:\n{tests}"
    );
    assert!(report.contains("SUCCESS"), "{report}");
}

/// One input series of `ns` (the name after the namespace, with its labels) on target `a:1`.
fn input(ns: &str, name: &str, labels: &str, values: &str) -> String {
    let labels = if labels.is_empty() {
        String::new()
    } else {
        format!("{labels},")
    };
    format!(
        "      - series: '{ns}_{name}{{{labels}job=\"{ns}\",instance=\"a:1\"}}'\n        values: '{values}'\n"
    )
}

/// The panic counter of `#[track_api_request]` on `/shops`.
fn request_panics(ns: &str, values: &str) -> String {
    input(
        ns,
        "api_requests_total",
        "endpoint=\"/shops\",method=\"GET\",status=\"panic\"",
        values,
    )
}

/// `up` of target `a:1`.
fn up(ns: &str, values: &str) -> String {
    format!("      - series: 'up{{job=\"{ns}\",instance=\"a:1\"}}'\n        values: '{values}'\n")
}

/// The crash alert with the defaults: `for: 0s`, a panic counts as new for 5m. Samples every
/// 15 s, so `_x8` leaves the first two minutes empty.
#[allow(clippy::too_many_lines)] // one list of cases, read top to bottom
fn crash_cases(config: &Config) -> Vec<String> {
    let ns = config.namespace.as_str();
    let crash = |endpoint: &str| {
        expected(
            config,
            "EndpointPanicked",
            "critical",
            &[("endpoint", endpoint), ("kind", "panic")],
        )
    };
    let shops = crash("/shops");
    let quiet = |times: &[&str]| -> Vec<String> {
        times
            .iter()
            .map(|t| at(t, "EndpointPanicked", &[]))
            .collect()
    };
    vec![
        // `api_requests_total{status="panic"}` appears at 1 at 2m: `rate` and `increase` see
        // one sample and nothing else; the alert fires at the first evaluation, stays 5m
        case(
            "a first panic of a new series fires at once",
            &(input(
                ns,
                "api_requests_total",
                "endpoint=\"/shops\",method=\"GET\",status=\"ok\"",
                "0+10x80",
            ) + &request_panics(ns, "_x8 1x72")),
            &[
                at("1m", "EndpointPanicked", &[]),
                at("2m", "EndpointPanicked", std::slice::from_ref(&shops)),
                at("6m", "EndpointPanicked", std::slice::from_ref(&shops)),
                at("8m", "EndpointPanicked", &[]),
            ],
        ),
        // at 1 since the start (its alert over by 5m), a second panic at 10m
        case(
            "a later panic (1 to 2) fires at once",
            &request_panics(ns, "1x39 2x40"),
            &[
                at("8m", "EndpointPanicked", &[]),
                at("10m", "EndpointPanicked", std::slice::from_ref(&shops)),
                at("14m", "EndpointPanicked", std::slice::from_ref(&shops)),
                at("16m", "EndpointPanicked", &[]),
            ],
        ),
        // `#[monitor_api_endpoint]` counts the panic in `errors_total{kind="panic"}`
        case(
            "a panic of a monitored endpoint fires",
            &input(
                ns,
                "errors_total",
                "endpoint=\"/reserve\",kind=\"panic\"",
                "_x8 1x40",
            ),
            &[
                at("1m", "EndpointPanicked", &[]),
                at("2m", "EndpointPanicked", &[crash("/reserve")]),
            ],
        ),
        // both attributes on one function: both counters, one alert
        case(
            "a panic counted twice is one alert",
            &(input(
                ns,
                "errors_total",
                "endpoint=\"/shops\",kind=\"panic\"",
                "_x8 1x40",
            ) + &request_panics(ns, "_x8 1x40")),
            &[at("2m", "EndpointPanicked", std::slice::from_ref(&shops))],
        ),
        case(
            "an error that is not a panic is no crash",
            &(input(
                ns,
                "errors_total",
                "endpoint=\"/shops\",kind=\"ShopError\"",
                "_x8 1x40",
            ) + &input(
                ns,
                "api_requests_total",
                "endpoint=\"/shops\",method=\"GET\",status=\"error\"",
                "_x8 1+1x40",
            )),
            &quiet(&["2m", "3m", "5m"]),
        ),
        // a minute of failed scrapes from 5m (stale, then nothing): at 10m the value 5m ago is
        // missing, yet it is the same count as before: no new panic
        case(
            "a failed scrape is no new panic",
            &(request_panics(ns, "1x19 stale _x3 1x40") + &up(ns, "1x19 0x3 1x40")),
            &quiet(&["8m", "9m", "10m", "11m", "12m"]),
        ),
        // six minutes of failed scrapes from 5m, longer than the window: at 11m `increase`
        // sees one sample, but the count differs from the last one before the gap
        case(
            "a panic during failed scrapes fires when they work again",
            &(request_panics(ns, "1x19 stale _x23 2x40") + &up(ns, "1x19 0x23 1x40")),
            &[
                at("10m", "EndpointPanicked", &[]),
                at("11m", "EndpointPanicked", std::slice::from_ref(&shops)),
            ],
        ),
        // the process restarted at 5m; its first panic, at 15m, brings the count back to 1,
        // the value the last process ended on
        case(
            "the first panic after a restart fires",
            &(request_panics(ns, "1x19 stale _x39 1x20") + &up(ns, "1x80")),
            &[
                at("12m", "EndpointPanicked", &[]),
                at("15m", "EndpointPanicked", std::slice::from_ref(&shops)),
            ],
        ),
    ]
}

/// A second input: another namespace, and every threshold, window and severity the crash,
/// pool and error alerts read changed, as an operator would in `[alerts]`.
fn other_config() -> Config {
    let mut config: Config = toml::from_str(
        r#"
namespace = "other"
[alerts]
error_ratio = 0.2
error_for = "2m"
error_severity = "warning"
crash_for = "1m"
crash_window = "3m"
pool_use = 0.5
pool_for = "2m"
pool_severity = "warning"
slo_slow_severity = "warning"
"#,
    )
    .expect("the [alerts] keys parse");
    config.slo = shop_config().slo;
    config
}

#[test]
fn promtool_test_rules_another_namespace_with_its_thresholds_and_severities() {
    let config = other_config();
    let ns = "other";
    let crash = expected(
        &config,
        "EndpointPanicked",
        "critical",
        &[("endpoint", "/shops"), ("kind", "panic")],
    );
    let instance = [("instance", "a:1"), ("job", "other")];
    let cases = [
        // pending at 2m, firing after its `for` of 1m, over 3m after the panic
        case(
            "a first panic fires after the crash_for the input names",
            &request_panics(ns, "_x8 1x40"),
            &[
                at("2m", "EndpointPanicked", &[]),
                at("3m", "EndpointPanicked", std::slice::from_ref(&crash)),
                at("4m", "EndpointPanicked", std::slice::from_ref(&crash)),
                at("6m", "EndpointPanicked", &[]),
            ],
        ),
        case(
            "a later panic fires after the crash_for the input names",
            &request_panics(ns, "1x39 2x40"),
            &[
                at("8m", "EndpointPanicked", &[]),
                at("10m", "EndpointPanicked", &[]),
                at("11m", "EndpointPanicked", std::slice::from_ref(&crash)),
            ],
        ),
        case(
            "a pool 60% used is a warning here",
            &(input(ns, "database_connections_used", "", "6x40")
                + &input(ns, "database_connections_max", "", "10x40")),
            &[
                at("1m", "DatabasePoolSaturated", &[]),
                at(
                    "5m",
                    "DatabasePoolSaturated",
                    &[expected(
                        &config,
                        "DatabasePoolSaturated",
                        "warning",
                        &instance,
                    )],
                ),
            ],
        ),
        case(
            "30% errors are a warning here",
            &(input(
                ns,
                "api_requests_total",
                "endpoint=\"/shops\",method=\"GET\",status=\"ok\"",
                "0+70x80",
            ) + &input(
                ns,
                "api_requests_total",
                "endpoint=\"/shops\",method=\"GET\",status=\"error\"",
                "0+30x80",
            )),
            &[
                at("1m", "HighErrorRatio", &[]),
                at(
                    "5m",
                    "HighErrorRatio",
                    &[expected(
                        &config,
                        "HighErrorRatio",
                        "warning",
                        &[("endpoint", "/shops")],
                    )],
                ),
            ],
        ),
        case(
            "1% errors: the slow burn is a warning here",
            &(input(
                ns,
                "api_requests_total",
                "endpoint=\"/shops\",method=\"GET\",status=\"ok\"",
                "0+99x120",
            ) + &input(
                ns,
                "api_requests_total",
                "endpoint=\"/shops\",method=\"GET\",status=\"error\"",
                "0+1x120",
            )),
            &[at(
                "20m",
                "SLOAvailabilityBudgetBurnSlow",
                &[expected(
                    &config,
                    "SLOAvailabilityBudgetBurnSlow",
                    "warning",
                    &[("slo", "availability")],
                )],
            )],
        ),
    ];
    promtool_test_rules(&config, &cases);
}

// ---------------------------------------------------------------------------------------------
// amtool config routes test

/// Where each alert goes with the defaults: the guide's routing, Slack and e-mail for
/// everything but the latency warning.
fn default_receiver(alert: &str) -> &'static str {
    match alert {
        "HighErrorRatio"
        | "EndpointPanicked"
        | "DatabasePoolSaturated"
        | "ScrapeTargetDown"
        | "SLOAvailabilityBudgetBurnFast"
        | "SLOLatencyBudgetBurnFast"
        | "SLOAvailabilityBudgetBurnSlow"
        | "SLOLatencyBudgetBurnSlow" => "slack-and-email",
        "HighLatencyP95" => "slack",
        other => panic!("a new alert {other}: say here where it goes"),
    }
}

/// `amtool config routes test` of every generated alert, with the labels its rule gives it
/// and the ones its expression keeps: it must reach `receiver(alert)` and nothing else.
fn check_routes(config: &Config, receiver: impl Fn(&str) -> &'static str) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("alertmanager.yml"),
        deploy::alertmanager_config(config).unwrap(),
    )
    .unwrap();
    let rules = deploy::alert_rules(config);
    assert!(rules.len() >= 9, "{rules:?}");
    for rule in rules {
        let want = receiver(&rule.name);
        let mut args = vec![
            "config".to_owned(),
            "routes".to_owned(),
            "test".to_owned(),
            "--config.file=alertmanager.yml".to_owned(),
            format!("--verify.receivers={want}"),
            format!("alertname={}", rule.name),
            "endpoint=/shops".to_owned(),
            "kind=panic".to_owned(),
            "instance=10.0.0.1:8000".to_owned(),
        ];
        args.extend(rule.labels.iter().map(|(k, v)| format!("{k}={v}")));
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let (ok, report) = run("amtool", &args, dir.path());
        assert!(
            ok && report.lines().next() == Some(want),
            "{} should reach {want} alone:\n{report}",
            rule.name
        );
    }
}

#[test]
fn amtool_routes_each_alert_where_the_guide_sends_it() {
    check_routes(&example_config(), default_receiver);
    check_routes(&shop_config(), default_receiver);
    // the second input makes the error ratio, the pool and the slow burn warnings: Slack only
    check_routes(&other_config(), |alert| match alert {
        "HighErrorRatio"
        | "DatabasePoolSaturated"
        | "SLOAvailabilityBudgetBurnSlow"
        | "SLOLatencyBudgetBurnSlow" => "slack",
        other => default_receiver(other),
    });
}
