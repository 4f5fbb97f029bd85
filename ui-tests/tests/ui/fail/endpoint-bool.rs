#[kansoku::track_api_request(endpoint = true)]
async fn get_shops() {}

fn main() {}
