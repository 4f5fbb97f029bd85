//! The OpenMetrics form of the exposition, for scrapers that ask for it (Prometheus does by
//! default): the same samples, counter families named without their `_total`, a `# EOF` line.

/// The content type of the Prometheus text exposition.
pub(crate) const PROMETHEUS_TEXT: &str = "text/plain; version=0.0.4; charset=utf-8";
/// The content type of OpenMetrics text.
pub(crate) const OPENMETRICS_TEXT: &str =
    "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// Whether an `Accept` header prefers OpenMetrics to the Prometheus text: it names
/// `application/openmetrics-text` with a weight above zero and at least that of `text/plain`.
pub(crate) fn wants_openmetrics(accept: &str) -> bool {
    let weight = |wanted: &str| {
        accept
            .split(',')
            .filter_map(|range| {
                let mut parts = range.split(';').map(str::trim);
                let media = parts.next()?;
                if !media.eq_ignore_ascii_case(wanted) {
                    return None;
                }
                let q = parts
                    .filter_map(|p| p.strip_prefix("q="))
                    .find_map(|q| q.parse::<f32>().ok())
                    .unwrap_or(1.0);
                Some(q)
            })
            .fold(None, |best: Option<f32>, q| {
                Some(best.map_or(q, |b| b.max(q)))
            })
    };
    match (weight("application/openmetrics-text"), weight("text/plain")) {
        (Some(om), Some(text)) => om > 0.0 && om >= text,
        (Some(om), None) => om > 0.0,
        (None, _) => false,
    }
}

/// Rewrites a Prometheus text exposition as OpenMetrics text.
pub(crate) fn from_prometheus_text(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 64);
    // the family being copied, and the name its metadata lines use instead
    let mut renamed: Option<(String, String)> = None;
    let mut lines = text.lines().peekable();
    while let Some(line) = lines.next() {
        if let Some(rest) = line.strip_prefix("# HELP ") {
            let (name, help) = rest.split_once(' ').unwrap_or((rest, ""));
            // the TYPE line follows the HELP line; it decides the family's name
            let kind = lines
                .peek()
                .and_then(|next| next.strip_prefix("# TYPE "))
                .and_then(|t| t.split_once(' '))
                .filter(|(typed, _)| *typed == name)
                .map(|(_, kind)| kind);
            renamed = family_name(name, kind).map(|family| (name.to_owned(), family));
            let family = renamed.as_ref().map_or(name, |(_, f)| f.as_str());
            out.push_str("# HELP ");
            out.push_str(family);
            out.push(' ');
            push_help(&mut out, help);
            out.push('\n');
        } else if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (name, kind) = rest.split_once(' ').unwrap_or((rest, "untyped"));
            if renamed.as_ref().is_none_or(|(n, _)| n != name) {
                renamed = family_name(name, Some(kind)).map(|family| (name.to_owned(), family));
            }
            let family = renamed.as_ref().map_or(name, |(_, f)| f.as_str());
            let kind = match kind {
                "counter" if !name.ends_with("_total") => "unknown",
                "untyped" => "unknown",
                other => other,
            };
            out.push_str("# TYPE ");
            out.push_str(family);
            out.push(' ');
            out.push_str(kind);
            out.push('\n');
        } else if !line.is_empty() && !line.starts_with('#') {
            out.push_str(line);
            out.push('\n');
        }
    }
    out.push_str("# EOF\n");
    out
}

/// The OpenMetrics family name of a counter named `…_total`; `None` keeps the name.
fn family_name(name: &str, kind: Option<&str>) -> Option<String> {
    match kind {
        Some("counter") => name.strip_suffix("_total").map(str::to_owned),
        _ => None,
    }
}

/// A HELP text: the Prometheus text escapes `\` and newlines already; OpenMetrics also wants
/// double quotes escaped.
fn push_help(out: &mut String, help: &str) {
    let mut escaped = false;
    for c in help.chars() {
        if c == '"' && !escaped {
            out.push('\\');
        }
        escaped = c == '\\' && !escaped;
        out.push(c);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prometheus_asks_for_openmetrics_and_others_get_text() {
        // what Prometheus 2.x sends
        assert!(wants_openmetrics("application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1"));
        assert!(!wants_openmetrics("text/plain;version=0.0.4"));
        assert!(!wants_openmetrics("*/*"));
        assert!(!wants_openmetrics("application/openmetrics-text;q=0"));
        assert!(!wants_openmetrics(
            "text/plain, application/openmetrics-text;q=0.5"
        ));
    }

    #[test]
    fn counters_lose_their_total_in_metadata_and_the_text_ends_with_eof() {
        let text = "# HELP shop_requests_total Requests \"served\".\n# TYPE shop_requests_total counter\nshop_requests_total{route=\"/\"} 3\n# HELP shop_up Up.\n# TYPE shop_up gauge\nshop_up 1\n# HELP odd A counter without suffix.\n# TYPE odd counter\nodd 2\n";
        assert_eq!(
            from_prometheus_text(text),
            "# HELP shop_requests Requests \\\"served\\\".\n# TYPE shop_requests counter\nshop_requests_total{route=\"/\"} 3\n# HELP shop_up Up.\n# TYPE shop_up gauge\nshop_up 1\n# HELP odd A counter without suffix.\n# TYPE odd unknown\nodd 2\n# EOF\n"
        );
    }
}
