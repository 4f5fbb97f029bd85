#[kansoku::track_api_request("GET", "/shops", "v2")]
async fn get_shops() {}

fn main() {}
