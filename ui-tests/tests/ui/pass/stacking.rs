#[kansoku::monitor_api_endpoint(name = "GET /shops")]
#[kansoku::track_api_request(method = "GET", endpoint = "/shops")]
#[kansoku::track_database_query("select", "shops")]
async fn all_three() -> Result<u32, std::num::ParseIntError> {
    "3".parse()
}

#[kansoku::track_database_query("select", "shops")]
#[kansoku::track_api_request("GET", "/shops")]
#[kansoku::monitor_api_endpoint]
fn all_three_sync() -> u32 {
    3
}

#[kansoku::track_api_request(method = "GET", endpoint = "/traced")]
#[tracing::instrument]
async fn kansoku_then_tracing(id: u32) -> u32 {
    id
}

#[tracing::instrument]
#[kansoku::track_api_request(method = "GET", endpoint = "/traced")]
async fn tracing_then_kansoku(id: u32) -> u32 {
    id
}

#[tracing::instrument(err)]
#[kansoku::monitor_api_endpoint]
fn tracing_then_kansoku_sync(input: &str) -> Result<u32, std::num::ParseIntError> {
    input.parse()
}

#[kansoku::monitor_api_endpoint]
#[tracing::instrument(err)]
fn kansoku_then_tracing_sync(input: &str) -> Result<u32, std::num::ParseIntError> {
    input.parse()
}

#[tokio::main]
async fn main() {
    assert_eq!(all_three().await, Ok(3));
    assert_eq!(all_three_sync(), 3);
    assert_eq!(kansoku_then_tracing(1).await, 1);
    assert_eq!(tracing_then_kansoku(2).await, 2);
    assert_eq!(tracing_then_kansoku_sync("3"), Ok(3));
    assert!(kansoku_then_tracing_sync("x").is_err());
}
