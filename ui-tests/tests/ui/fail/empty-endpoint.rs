#[kansoku::track_api_request(method = "GET", endpoint = "")]
async fn get_shops() {}

fn main() {}
