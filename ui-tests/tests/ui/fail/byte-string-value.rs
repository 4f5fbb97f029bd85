#[kansoku::track_database_query("select", b"shops")]
async fn fetch_shops() {}

fn main() {}
