#[kansoku::track_database_query(operation = "select", table = "shops", timeout = "5s")]
async fn fetch_shops() {}

fn main() {}
