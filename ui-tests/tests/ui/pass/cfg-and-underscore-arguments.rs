//! Arguments configured out with `#[cfg]` are not mentioned by the expansion, and `_`-prefixed
//! ones are kept as they are.

#[kansoku::track_api_request]
async fn configured(#[cfg(any())] gone: String, #[cfg(all())] kept: String, _unused: u8) -> String {
    kept
}

#[kansoku::track_database_query("select", "args")]
fn configured_sync(#[cfg(any())] gone: String, #[cfg(all())] kept: String, _unused: u8) -> String {
    kept
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    assert_eq!(configured("k".to_owned(), 1).await, "k");
    assert_eq!(configured_sync("s".to_owned(), 2), "s");
}
