//! A function returning `impl Future` built by a non-`move` `async` block in its tail is
//! instrumented like the `async move` form: the future is the call.

use std::future::Future;

#[derive(Debug, PartialEq)]
struct Refused;

impl std::fmt::Display for Refused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("refused")
    }
}

impl std::error::Error for Refused {}

#[kansoku::monitor_api_endpoint]
fn refuse() -> impl Future<Output = Result<u8, Refused>> {
    async { Err(Refused) }
}

#[kansoku::track_api_request]
fn constant() -> impl Future<Output = u8> + Send + 'static {
    async { 5 }
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    assert_eq!(refuse().await, Err(Refused));
    assert_eq!(tokio::spawn(constant()).await.unwrap(), 5);
}
