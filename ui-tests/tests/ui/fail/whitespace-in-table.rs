#[kansoku::track_database_query("select", "shop list")]
async fn fetch_shops() {}

fn main() {}
