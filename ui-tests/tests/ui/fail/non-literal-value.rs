const ENDPOINT: &str = "/shops";

#[kansoku::track_api_request(endpoint = ENDPOINT)]
async fn get_shops() {}

fn main() {
    let _ = ENDPOINT;
}
