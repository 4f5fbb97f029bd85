#[kansoku::track_api_request(path = "/shops")]
async fn get_shops() {}

fn main() {}
