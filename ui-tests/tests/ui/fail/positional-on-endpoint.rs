#[kansoku::monitor_api_endpoint("get_shops")]
async fn get_shops() {}

fn main() {}
