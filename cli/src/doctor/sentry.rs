//! The Sentry DSN parses, and its host answers HTTP.

use std::str::FromStr as _;

use sentry_types::Dsn;

use super::{Target, Verdict};

pub(crate) async fn check(client: &reqwest::Client, target: &Target) -> Verdict {
    let Some(dsn) = &target.sentry_dsn else {
        return Verdict::Skip(
            "SENTRY_DSN is not set: errors and traces are not sent anywhere".to_owned(),
        );
    };
    let dsn = match Dsn::from_str(dsn) {
        Ok(dsn) => dsn,
        Err(e) => {
            return Verdict::Fail(
                format!("the DSN does not parse ({e})"),
                "copy it again from the Sentry project's Settings > Client Keys (DSN); it looks like https://KEY@HOST/PROJECT".to_owned(),
            )
        }
    };
    let origin = format!("{}://{}:{}", dsn.scheme(), dsn.host(), dsn.port());
    // Any HTTP answer proves the host is there; the SDK itself posts to the envelope URL.
    match client.get(format!("{origin}/")).send().await {
        Ok(response) => Verdict::Ok(format!(
            "DSN parses (project {}); {origin} answered HTTP {}",
            dsn.project_id(),
            response.status().as_u16()
        )),
        Err(e) => Verdict::Fail(
            format!("{origin} does not answer ({})", short(&e)),
            "check that this host can reach Sentry (DNS, firewall, proxy) and that the DSN's host is right".to_owned(),
        ),
    }
}

/// The error without the URL (the DSN's key may be in it).
pub(crate) fn short(error: &reqwest::Error) -> String {
    let kind = if error.is_timeout() {
        "timed out"
    } else if error.is_connect() {
        "connection refused or unreachable"
    } else {
        "request failed"
    };
    kind.to_owned()
}
