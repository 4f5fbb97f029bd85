struct Shops;

#[kansoku::monitor_api_endpoint]
impl Shops {
    fn all(&self) {}
}

fn main() {
    Shops.all();
}
