#[kansoku::track_database_query]
async fn fetch_shops() {}

fn main() {}
