#[kansoku::track_api_request(endpoint = "/shops", "GET")]
async fn get_shops() {}

fn main() {}
