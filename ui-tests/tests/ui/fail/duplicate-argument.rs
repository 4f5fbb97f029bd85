#[kansoku::track_api_request(method = "GET", endpoint = "/shops", method = "POST")]
async fn get_shops() {}

fn main() {}
