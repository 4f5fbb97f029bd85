#[kansoku::track_api_request]
struct Shop {
    id: u32,
}

fn main() {
    let _ = Shop { id: 1 }.id;
}
