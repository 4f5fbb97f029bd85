#![deny(unused_qualifications)]

mod handlers {
    // A local module named like the crate must not capture the expansion's paths.
    #[allow(dead_code)]
    mod kansoku {
        pub mod __private {}
    }

    #[::kansoku::track_api_request(method = "GET", endpoint = "/shops")]
    pub async fn get_shops() -> u32 {
        1
    }

    #[::kansoku::track_database_query("select", "shops")]
    pub fn count() -> u32 {
        2
    }

    pub struct Shops;

    impl Shops {
        #[::kansoku::monitor_api_endpoint]
        pub fn name(&self) -> &'static str {
            "shops"
        }
    }
}

#[tokio::main]
async fn main() {
    assert_eq!(handlers::get_shops().await, 1);
    assert_eq!(handlers::count(), 2);
    assert_eq!(handlers::Shops.name(), "shops");
}
