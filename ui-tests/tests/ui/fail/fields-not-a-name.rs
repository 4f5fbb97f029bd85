#[kansoku::monitor_api_endpoint(fields(shop.id, "filter"))]
async fn reserve(shop: (u32,), filter: String) {
    let _ = (shop, filter);
}

fn main() {}
