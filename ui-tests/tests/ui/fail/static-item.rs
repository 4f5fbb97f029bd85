#[kansoku::track_api_request]
static SHOPS: u32 = 1;

fn main() {
    let _ = SHOPS;
}
