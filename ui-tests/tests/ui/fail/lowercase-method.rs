#[kansoku::track_api_request(method = "get", endpoint = "/shops")]
async fn get_shops() {}

fn main() {}
