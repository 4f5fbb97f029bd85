#[kansoku::track_api_request("FETCH", "/shops")]
async fn get_shops() {}

fn main() {}
