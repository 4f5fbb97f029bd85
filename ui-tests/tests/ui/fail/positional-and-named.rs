#[kansoku::track_database_query("select", "shops", table = "users")]
async fn fetch_shops() {}

fn main() {}
