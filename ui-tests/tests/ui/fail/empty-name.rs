#[kansoku::monitor_api_endpoint(name = "")]
async fn get_shops() {}

fn main() {}
