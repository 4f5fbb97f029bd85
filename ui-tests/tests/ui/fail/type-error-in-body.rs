//! A type error in the body is reported on the user's expression, not on the attribute.

#[kansoku::track_api_request]
async fn count() -> String {
    let n = 3_u32;
    n
}

#[kansoku::track_database_query("select", "shops")]
fn name(id: u32) -> &'static str {
    if id == 0 {
        return id;
    }
    "shop"
}

fn main() {}
