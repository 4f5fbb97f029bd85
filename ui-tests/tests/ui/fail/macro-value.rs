#[kansoku::track_database_query(operation = "select", table = concat!("sh", "ops"))]
async fn fetch_shops() {}

fn main() {}
