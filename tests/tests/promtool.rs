//! The exposition passes Prometheus's own checker, `promtool check metrics` (format and lint),
//! including label values that need escaping and the overflow series.
// Handlers here stand in for real ones with trivial bodies; clippy sees them as written.
#![allow(clippy::unused_async, clippy::unnecessary_wraps)]
// Counts are exact integers in the text format: comparing them as floats is exact.
#![allow(clippy::float_cmp, clippy::cast_precision_loss)]

use kansoku::metrics::{Counter, Gauge};
use kansoku::Telemetry;

#[kansoku::track_api_request(method = "GET", endpoint = "/shops")]
async fn get_shops(fail: bool) -> Result<u8, std::io::Error> {
    if fail {
        return Err(std::io::Error::other("down"));
    }
    Ok(1)
}

#[kansoku::monitor_api_endpoint]
#[kansoku::track_database_query("select", "shops")]
async fn fetch(fail: bool) -> Result<u8, std::io::Error> {
    get_shops(fail).await
}

static SEARCHES: Counter<1> = Counter::new("searches_total", "Searches by query text.", ["query"]);
static QUEUE: Gauge<0> = Gauge::new("reservation_queue_length", "Reservations waiting.", []);

#[tokio::test]
async fn the_exposition_passes_promtool_check_metrics() {
    let t = Telemetry::builder()
        .namespace("osakamenesu")
        .max_series_per_metric(3)
        .build()
        .unwrap();
    t.instrument(async {
        fetch(false).await.unwrap();
        fetch(true).await.unwrap_err();
        for query in [
            "namba \"spa\"",
            "back\\slash",
            "new\nline",
            "umeda",
            "tennoji",
        ] {
            SEARCHES.increment([query]);
        }
        QUEUE.set([], 4.0);
        kansoku::metrics::set_db_connections(2, 10);
    })
    .await;
    let text = t.prometheus_text();
    assert!(
        text.contains(r#"osakamenesu_searches_total{query="namba \"spa\""} 1"#),
        "{text}"
    );
    assert!(
        text.contains(r#"osakamenesu_searches_total{query="back\\slash"} 1"#),
        "{text}"
    );
    assert!(
        text.contains(r#"osakamenesu_searches_total{query="new\nline"} 1"#),
        "{text}"
    );
    let (ok, report) = kansoku_tests::promtool_check_metrics(&text);
    assert!(
        ok && report.trim().is_empty(),
        "promtool found problems:\n{report}\nin:\n{text}"
    );
}

#[test]
fn promtool_rejects_broken_text_so_the_check_above_can_fail() {
    let (ok, report) =
        kansoku_tests::promtool_check_metrics("# TYPE broken counter\nbroken{le=} x\n");
    assert!(!ok, "promtool accepted broken text: {report}");
}
