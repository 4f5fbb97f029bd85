//! The health endpoint says the service is healthy.

use super::{service_silent, Target, Verdict};

pub(crate) async fn check(client: &reqwest::Client, target: &Target) -> Verdict {
    let url = format!("{}{}", target.url, target.health_path);
    let response = match client.get(&url).send().await {
        Ok(response) => response,
        Err(e) => return service_silent(&url, &e),
    };
    let status = response.status().as_u16();
    let body: serde_json::Value =
        serde_json::from_str(&response.text().await.unwrap_or_default()).unwrap_or_default();
    let overall = body["status"].as_str().unwrap_or("");
    if status == 200 && overall == "healthy" {
        return Verdict::Ok(format!("{url} says healthy"));
    }
    let failing = failing_checks(&body);
    Verdict::Fail(
        format!(
            "{url} answered HTTP {status}, status `{}`{}",
            if overall.is_empty() { "?" } else { overall },
            if failing.is_empty() {
                String::new()
            } else {
                format!("; failing: {}", failing.join(", "))
            }
        ),
        "look at the failing checks' `error` in the same JSON, and at the service's log".to_owned(),
    )
}

/// Names of the checks whose status is not `healthy`, whether `checks` is a map or a list.
fn failing_checks(body: &serde_json::Value) -> Vec<String> {
    let unhealthy = |v: &serde_json::Value| v["status"].as_str().is_some_and(|s| s != "healthy");
    match &body["checks"] {
        serde_json::Value::Object(map) => map
            .iter()
            .filter(|(_, v)| unhealthy(v))
            .map(|(k, _)| k.clone())
            .collect(),
        serde_json::Value::Array(list) => list
            .iter()
            .filter(|v| unhealthy(v))
            .map(|v| v["name"].as_str().unwrap_or("?").to_owned())
            .collect(),
        _ => Vec::new(),
    }
}
