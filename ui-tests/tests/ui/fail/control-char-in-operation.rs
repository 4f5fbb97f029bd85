#[kansoku::track_database_query("select\n", "shops")]
async fn fetch_shops() {}

fn main() {}
