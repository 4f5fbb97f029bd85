//! `/metrics` answers with the token and carries kansoku's families for the namespace.

use kansoku::names;

use super::{service_silent, Target, Verdict};

pub(crate) async fn check(client: &reqwest::Client, target: &Target) -> Verdict {
    let url = format!("{}{}", target.url, target.metrics_path);
    let mut request = client.get(&url);
    if let Some(token) = &target.token {
        request = request.bearer_auth(token);
    }
    let response = match request.send().await {
        Ok(response) => response,
        Err(e) => return service_silent(&url, &e),
    };
    let status = response.status().as_u16();
    if status == 401 || status == 403 {
        let fix = if target.token.is_some() {
            "the token differs from the service's: use the KANSOKU_OPS_TOKEN it was started with"
        } else {
            "the endpoint needs a token: pass --token or set KANSOKU_OPS_TOKEN (Prometheus needs it too: `authorization: {credentials: …}`)"
        };
        return Verdict::Fail(format!("{url} answered HTTP {status}"), fix.to_owned());
    }
    if status != 200 {
        return Verdict::Fail(
            format!("{url} answered HTTP {status}"),
            "check the path (--metrics-path) and that the ops router is mounted".to_owned(),
        );
    }
    let text = response.text().await.unwrap_or_default();
    let ns = &target.namespace;
    let required = names::API_REQUESTS.exported(ns);
    let present = |family: &str| {
        text.lines().any(|line| {
            line.starts_with(family) && line[family.len()..].starts_with(['{', ' ', '_'])
        })
    };
    if !present(&required) {
        let found: std::collections::BTreeSet<&str> = text
            .lines()
            .filter_map(|l| {
                l.strip_suffix("_api_requests_total").or_else(|| {
                    l.strip_prefix("# TYPE ")
                        .and_then(|l| l.split_once("_api_requests_total "))
                        .map(|(ns, _)| ns)
                })
            })
            .collect();
        let hint = if found.is_empty() {
            "no annotated request has been served yet, or the service does not run the `prometheus` feature".to_owned()
        } else {
            format!(
                "the service exports namespace {}: pass --namespace / KANSOKU_NAMESPACE",
                found.into_iter().collect::<Vec<_>>().join(", ")
            )
        };
        return Verdict::Fail(format!("{url} answers but has no `{required}`"), hint);
    }
    let optional: Vec<String> = [names::HTTP_REQUESTS, names::DB_QUERIES]
        .iter()
        .map(|f| f.exported(ns))
        .filter(|f| !present(f))
        .collect();
    let missing = if optional.is_empty() {
        String::new()
    } else {
        format!(" (not yet: {})", optional.join(", "))
    };
    Verdict::Ok(format!("{url} answered with `{required}`{missing}"))
}
