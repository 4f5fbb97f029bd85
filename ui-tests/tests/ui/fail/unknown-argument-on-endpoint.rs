#[kansoku::monitor_api_endpoint(method = "GET")]
async fn get_shops() {}

fn main() {}
