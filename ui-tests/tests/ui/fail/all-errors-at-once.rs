#[kansoku::track_api_request(method = "get", endpoint = "", verb = "GET")]
const fn get_shops() -> u32 {
    1
}

fn main() {
    let _ = get_shops();
}
