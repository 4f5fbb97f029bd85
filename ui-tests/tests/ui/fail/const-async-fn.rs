#[kansoku::track_database_query("select", "shops")]
const async fn fetch_shops() {}

fn main() {}
