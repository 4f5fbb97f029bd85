#[kansoku::track_api_request(method = 1)]
async fn get_shops() {}

fn main() {}
