#[kansoku::track_api_request(method: "GET")]
async fn get_shops() {}

fn main() {}
