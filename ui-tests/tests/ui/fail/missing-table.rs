#[kansoku::track_database_query("select")]
async fn fetch_shops() {}

fn main() {}
