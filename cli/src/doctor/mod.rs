//! `doctor`: the troubleshooting steps of an operator as one command. Each check prints one
//! line: `ok`, `skip` (not configured, which is allowed) or `FAIL` with what is wrong and what
//! to do. Exit status 1 when a check failed. Secrets (the DSN's key, the Redis password, the
//! token) are never printed: a target is shown as its host and port.

mod health;
mod metrics;
mod redis;
mod sentry;

use std::process::ExitCode;
use std::time::Duration;

use crate::args::Flags;

const FLAGS: &[&str] = &[
    "url",
    "token",
    "namespace",
    "sentry-dsn",
    "redis-url",
    "metrics-path",
    "health-path",
];

/// How long one network step may take.
pub(crate) const TIMEOUT: Duration = Duration::from_secs(5);

/// A check's verdict.
#[derive(Debug)]
pub(crate) enum Verdict {
    Ok(String),
    Skip(String),
    /// What is wrong, what to do.
    Fail(String, String),
}

/// The service at `url` did not answer: what the health and metrics checks both say.
pub(crate) fn service_silent(url: &str, error: &reqwest::Error) -> Verdict {
    Verdict::Fail(
        format!("{url} does not answer ({})", sentry::short(error)),
        "start the service, or pass its address with --url / KANSOKU_URL".to_owned(),
    )
}

/// What the checks need, from flags or the environment.
#[derive(Debug)]
pub(crate) struct Target {
    pub(crate) url: String,
    pub(crate) token: Option<String>,
    pub(crate) namespace: String,
    pub(crate) sentry_dsn: Option<String>,
    pub(crate) redis_url: Option<String>,
    pub(crate) metrics_path: String,
    pub(crate) health_path: String,
}

impl Target {
    fn from_flags(flags: &Flags) -> Target {
        Target {
            url: flags
                .or_env("url", "KANSOKU_URL")
                .unwrap_or_else(|| "http://127.0.0.1:8000".to_owned())
                .trim_end_matches('/')
                .to_owned(),
            token: flags.or_env("token", "KANSOKU_OPS_TOKEN"),
            namespace: flags
                .or_env("namespace", "KANSOKU_NAMESPACE")
                .unwrap_or_else(|| "kansoku".to_owned()),
            sentry_dsn: flags.or_env("sentry-dsn", "SENTRY_DSN"),
            redis_url: flags.or_env("redis-url", "KANSOKU_REDIS_URL"),
            metrics_path: flags.get("metrics-path").unwrap_or("/metrics").to_owned(),
            health_path: flags
                .get("health-path")
                .unwrap_or("/health/detailed")
                .to_owned(),
        }
    }
}

/// The HTTP client of the checks: rustls with the ring provider, bounded in time.
pub(crate) fn client() -> Result<reqwest::Client, String> {
    // Another part of the process may have installed a provider already; either is fine.
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder()
        .timeout(TIMEOUT)
        .connect_timeout(TIMEOUT)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .map_err(|e| format!("cannot build the HTTP client: {e}"))
}

pub(crate) fn run(args: &[String]) -> Result<ExitCode, String> {
    let flags = Flags::parse(args, FLAGS)?;
    let target = Target::from_flags(&flags);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the runtime: {e}"))?;
    let failed = runtime.block_on(async {
        let client = client()?;
        let checks = [
            ("sentry", sentry::check(&client, &target).await),
            ("redis", redis::check(&target).await),
            ("metrics", metrics::check(&client, &target).await),
            ("health", health::check(&client, &target).await),
        ];
        let mut failed = 0;
        for (name, verdict) in checks {
            match verdict {
                Verdict::Ok(detail) => println!("ok    {name}: {detail}"),
                Verdict::Skip(detail) => println!("skip  {name}: {detail}"),
                Verdict::Fail(wrong, fix) => {
                    failed += 1;
                    println!("FAIL  {name}: {wrong} -> {fix}");
                }
            }
        }
        Ok::<_, String>(failed)
    })?;
    Ok(if failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// `scheme://host:port` of a URL, without user, password, path or query.
pub(crate) fn origin(url: &str) -> String {
    match reqwest::Url::parse(url) {
        Ok(url) => format!(
            "{}://{}{}",
            url.scheme(),
            url.host_str().unwrap_or("?"),
            url.port().map(|p| format!(":{p}")).unwrap_or_default()
        ),
        Err(_) => "(an unparsable URL)".to_owned(),
    }
}
