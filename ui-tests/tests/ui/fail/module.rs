#[kansoku::track_database_query("select", "shops")]
mod queries {}

fn main() {}
