//! `fields(…)` captures the named arguments (any `Debug` type, including references and
//! raw identifiers); the function still owns and uses them as written.

#[derive(Debug)]
struct Filter {
    active: bool,
}

#[kansoku::monitor_api_endpoint(name = "search", fields(r#type, filter, limit))]
async fn search(r#type: &str, filter: Filter, limit: usize) -> Result<usize, std::io::Error> {
    Ok(if filter.active { limit.min(r#type.len()) } else { 0 })
}

#[kansoku::monitor_api_endpoint(fields(id))]
fn lookup(id: u64) -> u64 {
    id * 2
}

#[tokio::main]
async fn main() {
    assert_eq!(search("shop", Filter { active: true }, 10).await.unwrap(), 4);
    assert_eq!(lookup(21), 42);
}
