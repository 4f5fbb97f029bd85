//! An unused annotated function is reported as dead code, as the plain one is.
#![deny(dead_code)]

#[kansoku::track_api_request]
fn never_called() -> u8 {
    1
}

#[kansoku::monitor_api_endpoint]
async fn never_awaited() -> u8 {
    2
}

fn main() {}
