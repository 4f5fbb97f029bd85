#[kansoku::monitor_api_endpoint(fields(shop_id, shopid))]
async fn reserve(shop_id: u32) -> Result<u32, std::io::Error> {
    Ok(shop_id)
}

fn main() {}
