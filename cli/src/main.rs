//! `kansoku-cli`: the operator's side of kansoku.
//!
//! ```text
//! kansoku-cli rules        [--config FILE] [--namespace NS] [--out FILE]   Prometheus rule file
//! kansoku-cli dashboard    [--config FILE] [--namespace NS] [--out FILE]   Grafana dashboard JSON
//! kansoku-cli alertmanager [--config FILE] [--namespace NS] [--out FILE]   Alertmanager configuration
//! kansoku-cli doctor       [--url URL] [--token T] [--namespace NS] [--sentry-dsn DSN] [--redis-url URL]
//! ```
//!
//! The generators read a TOML file (the form of `kansoku::deploy::Config`) or flags:
//! `--slo-availability 0.999`, `--slo-latency 0.99:0.5` (objective:threshold seconds).

mod args;
mod doctor;
mod generate;

use std::process::ExitCode;

const USAGE: &str = "usage:
  kansoku-cli rules        [--config FILE] [--namespace NS] [--slo-availability OBJ] [--slo-latency OBJ:SECONDS] [--out FILE]
  kansoku-cli dashboard    [same options]
  kansoku-cli alertmanager [same options]
  kansoku-cli doctor       [--url URL] [--token TOKEN] [--namespace NS] [--sentry-dsn DSN] [--redis-url URL]
                           [--metrics-path /metrics] [--health-path /health/detailed]
doctor reads KANSOKU_URL, KANSOKU_OPS_TOKEN, KANSOKU_NAMESPACE, SENTRY_DSN, KANSOKU_REDIS_URL when a flag is absent.";

fn main() -> ExitCode {
    let mut argv = std::env::args().skip(1);
    let Some(command) = argv.next() else {
        eprintln!("{USAGE}");
        return ExitCode::from(2);
    };
    let rest: Vec<String> = argv.collect();
    let result = match command.as_str() {
        "rules" | "dashboard" | "alertmanager" => generate::run(&command, &rest),
        "doctor" => doctor::run(&rest),
        "help" | "--help" | "-h" => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        other => Err(format!("unknown command `{other}`\n{USAGE}")),
    };
    match result {
        Ok(code) => code,
        Err(message) => {
            eprintln!("kansoku-cli: {message}");
            ExitCode::from(2)
        }
    }
}
