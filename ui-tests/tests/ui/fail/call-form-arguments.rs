#[kansoku::track_database_query(operation("select"), table("shops"))]
async fn fetch_shops() {}

fn main() {}
