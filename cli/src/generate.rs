//! `rules`, `dashboard`, `alertmanager`: the generator's input from a TOML file and flags, its
//! output to a file or standard output.

use std::process::ExitCode;

use kansoku::deploy::{self, Config, Slo};

use crate::args::Flags;

const FLAGS: &[&str] = &[
    "config",
    "namespace",
    "slo-availability",
    "slo-latency",
    "out",
];

/// The generator's input: the file, then the flags on top of it.
pub(crate) fn config(flags: &Flags) -> Result<Config, String> {
    let mut config = match flags.get("config") {
        Some(path) => {
            let text =
                std::fs::read_to_string(path).map_err(|e| format!("cannot read `{path}`: {e}"))?;
            toml::from_str::<Config>(&text).map_err(|e| format!("`{path}`: {e}"))?
        }
        None => Config::default(),
    };
    if let Some(namespace) = flags.get("namespace") {
        namespace.clone_into(&mut config.namespace);
    }
    if config.namespace.is_empty() {
        return Err(
            "no namespace: pass `--namespace NS` or set `namespace` in the --config file"
                .to_owned(),
        );
    }
    for objective in flags.all("slo-availability") {
        config.slo.push(Slo::availability(
            "availability",
            number("--slo-availability", objective)?,
        ));
    }
    for spec in flags.all("slo-latency") {
        let (objective, seconds) = spec.split_once(':').ok_or_else(|| {
            format!("--slo-latency `{spec}`: expected OBJECTIVE:SECONDS, e.g. 0.99:0.5")
        })?;
        config.slo.push(Slo::latency(
            "latency",
            number("--slo-latency", objective)?,
            number("--slo-latency", seconds)?,
        ));
    }
    Ok(config)
}

fn number(flag: &str, text: &str) -> Result<f64, String> {
    text.parse()
        .map_err(|_| format!("{flag} `{text}`: expected a number"))
}

/// The text of one generated file.
pub(crate) fn render(command: &str, config: &Config) -> Result<String, String> {
    match command {
        "rules" => deploy::prometheus_rules(config),
        "dashboard" => deploy::grafana_dashboard(config),
        _ => deploy::alertmanager_config(config),
    }
    .map_err(|e| e.to_string())
}

pub(crate) fn run(command: &str, args: &[String]) -> Result<ExitCode, String> {
    let flags = Flags::parse(args, FLAGS)?;
    let text = render(command, &config(&flags)?)?;
    match flags.get("out") {
        Some(path) => {
            std::fs::write(path, text).map_err(|e| format!("cannot write `{path}`: {e}"))?;
        }
        None => print!("{text}"),
    }
    Ok(ExitCode::SUCCESS)
}
