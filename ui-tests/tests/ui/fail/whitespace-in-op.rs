#[kansoku::monitor_api_endpoint(name = "GET /shops", op = "http server")]
async fn get_shops() {}

fn main() {}
