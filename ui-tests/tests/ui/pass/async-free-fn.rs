#[derive(Debug)]
struct ShopError;

impl std::fmt::Display for ShopError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("no such shop")
    }
}

impl std::error::Error for ShopError {}

#[kansoku::track_api_request(method = "GET", endpoint = "/shops")]
async fn get_shops() -> Vec<&'static str> {
    tokio::task::yield_now().await;
    vec!["namba", "umeda"]
}

#[kansoku::track_api_request("GET", "/shops/{id}")]
pub async fn get_shop(id: u32) -> Result<&'static str, ShopError> {
    if id == 0 {
        Err(ShopError)
    } else {
        Ok("namba")
    }
}

#[kansoku::monitor_api_endpoint]
async fn no_return_type() {}

#[kansoku::track_database_query(operation = "select", table = "shops")]
async fn borrowing(name: &str) -> &str {
    name.trim()
}

#[tokio::main]
async fn main() {
    assert_eq!(get_shops().await.len(), 2);
    assert!(get_shop(0).await.is_err());
    assert_eq!(get_shop(1).await.unwrap(), "namba");
    no_return_type().await;
    assert_eq!(borrowing(" x ").await, "x");
}
