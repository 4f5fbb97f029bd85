#[kansoku::monitor_api_endpoint]
enum Route {
    Shops,
}

fn main() {
    let _ = Route::Shops;
}
