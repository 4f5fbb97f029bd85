#[kansoku::track_api_request(type = "GET")]
async fn get_shops() {}

fn main() {}
