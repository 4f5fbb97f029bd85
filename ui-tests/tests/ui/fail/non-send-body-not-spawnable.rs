use std::rc::Rc;

#[kansoku::track_api_request(method = "GET", endpoint = "/shops")]
async fn get_shops() -> usize {
    let shops = Rc::new(vec!["namba", "umeda"]);
    tokio::task::yield_now().await;
    shops.len()
}

#[tokio::main]
async fn main() {
    let _ = tokio::spawn(get_shops()).await;
}
